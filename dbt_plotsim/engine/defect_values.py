"""What a declared defect makes of the clean values it hits (engine/defects.py picks the rows).

Every function takes the clean values of the hit rows and one uniform per row (for choices within the
defect) and returns what the raw table shows instead, vectorized over the rows.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ORPHAN_OFFSET = 10**12  # an orphan key: the real one plus this, so no parent row has it
INVALID_VALUES = ("UNKNOWN", "n/a", "")
NOT_A_NUMBER = "N/A"
NUMBER_STYLES = ("grouped", "currency", "european", "not_a_number", "padded")
_WIDTH = 26  # up to 19 digits, 6 group marks and a leading blank


def flat(values) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def changed_text(values, u: np.ndarray) -> pa.Array:
    """Case, padding or a dropped character, chosen per value; always different from the clean value."""
    text = flat(values)
    style = np.minimum((u * 3).astype(int), 2)
    upper, lower = pc.utf8_upper(text), pc.utf8_lower(text)
    cased = pc.if_else(pc.equal(upper, text), lower, upper)
    padded = pc.binary_join_element_wise("  ", text, " ", "")  # leading, and a trailing space
    dropped = pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, 1), pc.utf8_slice_codeunits(text, 2), "")
    pick = pc.case_when(pc.make_struct(pa.array(style == 0), pa.array(style == 1)), cased, dropped, padded)
    return pc.if_else(pc.equal(pick, text), padded, pick)  # "" or one character: padding still shows


def shifted_time(values, hours: int) -> pa.Array:
    return pc.add(flat(values), pa.scalar(hours * 3600, pa.duration("s")))


def near_time(values, u: np.ndarray) -> pa.Array:
    """A timestamp a few seconds later: the near copy of a row whose only text is its keys."""
    return pc.add(flat(values), pa.array(1 + (59 * u).astype(np.int64), pa.duration("s")))


def orphan_keys(values) -> pa.Array:
    values = flat(values)
    return pc.add(values, pa.scalar(ORPHAN_OFFSET, values.type))


def invalid_values(choices: list[str] | None, u: np.ndarray) -> pa.Array:
    choices = choices or list(INVALID_VALUES)
    return pa.array(np.array(choices, dtype=object)[np.minimum((u * len(choices)).astype(int), len(choices) - 1)],
                    pa.string())


def out_of_range(values, low: float, high: float, u: np.ndarray) -> pa.Array:
    """Beyond the declared range by half to twice its width: either side, or above a non-negative one."""
    values = flat(values)
    width = (high - low) * (0.5 + 1.5 * u)
    beyond = np.where(u < 0.5, low - width, high + width)
    if low >= 0 and high > 0:  # a non-negative metric: above it (a negative is another kind of wrong)
        beyond = high + width
    rounded = np.round(beyond) if pa.types.is_integer(values.type) else np.round(beyond, 2)
    return pa.array(rounded).cast(values.type, safe=False)


def number_text(values) -> pa.Array:
    """The clean text of a number column: what a raw text column holds when nothing went wrong."""
    return flat(values).cast(pa.string())


def messy_number_text(values, u: np.ndarray) -> pa.Array:
    """Numbers as people and spreadsheets write them: "1,234.50", "$1,234.50", "1.234,50", "N/A", " 1234.5 ";
    every digit of the clean text kept (at least two decimals for a non-integer column, so the last mark tells
    a decimal point from a group mark), so the clean value can be read back exactly."""
    text = number_text(values)
    parts = pc.extract_regex(text, r"^(?P<sign>-?)(?P<whole>[0-9]{1,18})(?P<point>\.?)(?P<fraction>[0-9]*)$")
    plain = pc.is_null(parts)  # an exponent form: no groups to mark
    sign, whole = pc.struct_field(parts, "sign"), pc.cast(pc.fill_null(pc.struct_field(parts, "whole"), "0"), pa.int64())
    point, fraction = pc.struct_field(parts, "point"), pc.struct_field(parts, "fraction")

    if not pa.types.is_integer(flat(values).type):  # hand-typed money: at least two decimals
        fraction, point = pc.utf8_rpad(fraction, 2, "0"), pc.if_else(plain, point, ".")

    def grouped(mark: str, decimal: str, currency: str = "") -> pa.Array:
        decimals = pc.if_else(pc.equal(point, "."), pc.binary_join_element_wise(decimal, fraction, ""), "")
        written = pc.binary_join_element_wise(sign, currency, _grouped(whole.to_numpy(), mark), decimals, "")
        return pc.if_else(plain, text, written)

    style = np.minimum((u * len(NUMBER_STYLES)).astype(int), len(NUMBER_STYLES) - 1)
    forms = [grouped(",", "."), grouped(",", ".", "$"), grouped(".", ","),
             pa.array(np.full(len(text), NOT_A_NUMBER, dtype=object), pa.string()),
             pc.binary_join_element_wise(" ", text, " ", "")]
    picks = pc.make_struct(*[pa.array(style == i) for i in range(len(forms) - 1)])
    return pc.case_when(picks, *forms)


def _grouped(whole: np.ndarray, mark: str) -> pa.Array:
    """Each non-negative whole number with `mark` between groups of three digits."""
    count = 1 + sum((whole >= 10**k).astype(np.int64) for k in range(1, 19))
    chars = np.full((len(whole), _WIDTH), ord(" "), dtype=np.uint8)
    column = _WIDTH - 1
    for j in range(19):
        if j and j % 3 == 0:
            chars[j < count, column] = ord(mark)
            column -= 1
        chars[j < count, column] = ord("0") + (whole // 10**j % 10)[j < count]
        column -= 1
    return pc.utf8_ltrim_whitespace(pa.array(chars.view(f"S{_WIDTH}").ravel()).cast(pa.string()))


def row_json(rows: pa.Table) -> pa.Array:
    """Each row as one JSON object (columns in order): the clean row a volume_drop took out."""
    parts = []
    for name, column in zip(rows.column_names, rows.columns):
        values = flat(column)
        if pa.types.is_string(values.type) or pa.types.is_temporal(values.type):
            text = values.cast(pa.string())
            text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
            text = pc.binary_join_element_wise('"', text, '"', "")
        elif pa.types.is_boolean(values.type):
            text = pc.if_else(values, "true", "false")
        else:
            text = values.cast(pa.string())
        parts.append(pc.binary_join_element_wise(f'"{name}":', pc.fill_null(text, "null"), ""))
    return pc.binary_join_element_wise("{", pc.binary_join_element_wise(*parts, ","), "}", "")
