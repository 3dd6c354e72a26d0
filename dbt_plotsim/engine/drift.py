"""How a source system's copy of a text value drifts from the truth: a documented set of kinds, vectorized.

Each function takes the true values (no nulls) and one uniform per row (for the choices within the kind) and
returns the drifted values; `drifted` picks the kind per row and makes sure no value equals the truth.

| kind       | the system shows                                                                             |
| case       | the value upper-cased (lower-cased when it already is)                                       |
| whitespace | padded with spaces (two before and one after, or one after), or its first space doubled      |
| typo       | one character dropped or two neighbours swapped (never the first character)                  |
| suffix     | a company suffix written another way: Inc <-> Incorporated, Ltd <-> Limited, LLC -> L.L.C.,  |
|            | PLC -> P.L.C., Corp <-> Corporation, Co -> Company, Group -> Grp, " and " -> " & "; a name   |
|            | without one gets a typo                                                                      |
| dots       | an email's local part with its dots removed, its underscores as dots, or a dot after its     |
|            | first character                                                                              |
| domain     | an email's local part at a free mail domain (gmail.com, outlook.com, yahoo.com, hotmail.com) |
| code       | a code form: the initials of a name of several words (United States of America -> USA,       |
|            | north_america -> NA; words in brackets and of/and/the left out), the first three letters of  |
|            | one word (Germany -> GER)                                                                    |
| label      | a category as a label: underscores as spaces, words capitalized (north_america -> North      |
|            | America)                                                                                     |
| digits     | a phone number's digits only ((892)979-1936 -> 8929791936)                                   |

A value that a kind would leave unchanged (a one-letter code, a name already in capitals) gets a trailing
space instead, so every drifted row differs from the truth.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FREE_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com")
# (pattern, replacement) tried in order; the first that changes a name is used
SUFFIXES = (
    (r" Incorporated$", " Inc."), (r" Inc\.?$", " Incorporated"), (r" Limited$", " Ltd"), (r" Ltd\.?$", " Limited"),
    (r" LLC$", " L.L.C."), (r" PLC$", " P.L.C."), (r" Corporation$", " Corp."), (r" Corp\.?$", " Corporation"),
    (r" Co\.?$", " Company"), (r" Group$", " Grp"), (r" and ", " & "),
)
MINOR_WORDS = r"\b(of|and|the|de|da|del|la|le|du|des|und)\b"


def _where(mask: np.ndarray, a: pa.Array, b: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask, pa.bool_()), a, b)


def case(text: pa.Array, u: np.ndarray) -> pa.Array:
    upper, lower = pc.utf8_upper(text), pc.utf8_lower(text)
    return pc.if_else(pc.equal(upper, text), lower, upper)


def whitespace(text: pa.Array, u: np.ndarray) -> pa.Array:
    padded = pc.binary_join_element_wise("  ", text, " ", "")
    trailing = pc.binary_join_element_wise(text, " ", "")
    doubled = pc.replace_substring(text, " ", "  ", max_replacements=1)
    doubled = pc.if_else(pc.equal(doubled, text), trailing, doubled)
    return _where(u < 1 / 3, padded, _where(u < 2 / 3, trailing, doubled))


def typo(text: pa.Array, u: np.ndarray) -> pa.Array:
    """A character dropped (u < 1/2) or swapped with the one before it, at a position from u, never moving the
    first; loops over the distinct positions (bounded by the longest value), never over rows."""
    length = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.int64)
    swap = u >= 0.5
    v = np.where(swap, u - 0.5, u) * 2
    # the character dropped (1..length-1) or the second of the two swapped (2..length-1)
    position = np.where(swap, 2 + np.floor(v * np.maximum(length - 2, 1)), 1 + np.floor(v * np.maximum(length - 1, 1)))
    position = position.astype(np.int64)
    out = text
    for p in np.unique(position):
        rows = position == p
        head = pc.utf8_slice_codeunits(text, 0, int(p) - 1)
        before = pc.utf8_slice_codeunits(text, int(p) - 1, int(p))
        at = pc.utf8_slice_codeunits(text, int(p), int(p) + 1)
        tail = pc.utf8_slice_codeunits(text, int(p) + 1)
        dropped = pc.binary_join_element_wise(head, before, tail, "")
        swapped = pc.binary_join_element_wise(head, at, before, tail, "")
        out = _where(rows, _where(swap, swapped, dropped), out)
    return out


def suffix(text: pa.Array, u: np.ndarray) -> pa.Array:
    out = typo(text, u)
    for pattern, replacement in reversed(SUFFIXES):  # the first rule that changes the name wins
        changed = pc.replace_substring_regex(text, pattern, replacement, max_replacements=1)
        out = pc.if_else(pc.not_equal(changed, text), changed, out)
    return out


def _email_parts(text: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(local part, domain, whether there is an @): split at the last @."""
    has_at = pc.match_substring(text, "@")
    local = pc.replace_substring_regex(text, r"@[^@]*$", "")
    domain = pc.if_else(has_at, pc.replace_substring_regex(text, r"^.*@", ""), pa.scalar("", pa.string()))
    return local, domain, has_at


def _address(local: pa.Array, domain: pa.Array, has_at: pa.Array) -> pa.Array:
    return pc.if_else(has_at, pc.binary_join_element_wise(local, domain, "@"), local)


def dots(text: pa.Array, u: np.ndarray) -> pa.Array:
    local, domain, has_at = _email_parts(text)
    undotted = pc.replace_substring(local, ".", "")
    underscored = pc.replace_substring(local, "_", ".")
    dotted = pc.binary_join_element_wise(pc.utf8_slice_codeunits(local, 0, 1), pc.utf8_slice_codeunits(local, 1), ".")
    new = pc.if_else(pc.not_equal(undotted, local), undotted, pc.if_else(pc.not_equal(underscored, local),
                                                                         underscored, dotted))
    return _address(new, domain, has_at)


def domain(text: pa.Array, u: np.ndarray) -> pa.Array:
    local, own, _ = _email_parts(text)
    pick = np.minimum((u * len(FREE_DOMAINS)).astype(np.int64), len(FREE_DOMAINS) - 1)
    first = pa.array(np.array(FREE_DOMAINS, dtype=object)[pick], pa.string())
    second = pa.array(np.array(FREE_DOMAINS, dtype=object)[(pick + 1) % len(FREE_DOMAINS)], pa.string())
    other = pc.if_else(pc.equal(first, own), second, first)
    return pc.binary_join_element_wise(local, other, "@")


def code(text: pa.Array, u: np.ndarray) -> pa.Array:
    bare = pc.replace_substring_regex(pc.replace_substring_regex(text, r"\s*\([^)]*\)", ""), r"['’]", "")
    spaced = pc.replace_substring_regex(bare, r"[^\pL\pN]+", " ")  # underscores, dashes, & and the like
    words = pc.utf8_trim_whitespace(pc.replace_substring_regex(spaced, MINOR_WORDS, ""))
    initials = pc.replace_substring_regex(words, r"([\pL\pN])[\pL\pN]*\s*", r"\1")
    several = pc.match_substring_regex(words, r"\S\s+\S")
    return pc.utf8_upper(pc.if_else(several, initials, pc.utf8_slice_codeunits(words, 0, 3)))


def label(text: pa.Array, u: np.ndarray) -> pa.Array:
    return pc.utf8_title(pc.replace_substring(text, "_", " "))


def digits(text: pa.Array, u: np.ndarray) -> pa.Array:
    return pc.replace_substring_regex(text, r"\D", "")


KINDS = {f.__name__: f for f in (case, whitespace, typo, suffix, dots, domain, code, label, digits)}


def drifted(text: pa.Array, kinds: tuple[str, ...], u_kind: np.ndarray, u_how: np.ndarray) -> pa.Array:
    """The values drifted: row i by kinds[floor(u_kind[i] * len(kinds))], its choices from u_how[i]; never the
    value itself (an unchanged result gets a trailing space)."""
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    text = text.cast(pa.string())
    if not len(text):
        return text
    pick = np.minimum((u_kind * len(kinds)).astype(np.int64), len(kinds) - 1)
    out = text
    for i, kind in enumerate(kinds):
        rows = pick == i
        if rows.any():
            out = _where(rows, KINDS[kind](text, u_how), out)
    return pc.if_else(pc.equal(out, text), pc.binary_join_element_wise(text, " ", ""), out)
