"""Values of `type: pattern` templates (spec/patterns.py), vectorized over rows, as fixed-width bytes.

The drawn characters of a pattern are read as one mixed-radix number (the last one varying fastest), cut
into groups of at most 2^62 combinations. For dim_<unit> the first group is a seeded bijection of the
entity's index (Feistel rounds with cycle walking), so no two entities share it while the pattern has at
least as many combinations as there are entities: values are unique by construction. Event payloads draw
every group uniformly from a hash of the row's keys (values may repeat). Later groups (patterns with over
2^62 combinations) are always hashed. Either way a value depends only on the seed, the names and its own
row.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from ..spec.patterns import Token
from .hashing import hashed_words, mix
from .rng import name_key

GROUP_LIMIT = 2 ** 62
ROUNDS = 4


def _groups(tokens: tuple[Token, ...]) -> list[tuple[list[int], int]]:
    """Consecutive drawn positions (token indices) and their number of combinations, each <= GROUP_LIMIT."""
    out: list[tuple[list[int], int]] = []
    current: list[int] = []
    size = 1
    for i, token in enumerate(tokens):
        if not token.alphabet:
            continue
        if current and size * len(token.alphabet) > GROUP_LIMIT:
            out.append((current, size))
            current, size = [], 1
        current.append(i)
        size *= len(token.alphabet)
    if current:
        out.append((current, size))
    return out


def _round_keys(seed: int, names: tuple[str, ...]) -> list[np.uint64]:
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=tuple(name_key(n) for n in names))
    return list(sequence.generate_state(ROUNDS, np.uint64))


def _feistel(x: np.ndarray, bits: int, keys: list[np.uint64]) -> np.ndarray:
    half = np.uint64(bits // 2)
    mask = np.uint64((1 << (bits // 2)) - 1)
    left, right = x >> half, x & mask
    for key in keys:
        left, right = right, left ^ (mix(right ^ key) & mask)
    return (left << half) | right


def permuted(seed: int, names: tuple[str, ...], index: np.ndarray, size: int) -> np.ndarray:
    """A seeded bijection of [0, size) applied to `index` (values in [0, size)): Feistel rounds over the
    smallest even number of bits that holds size, repeated on the values that land outside until they
    are back inside (at most 4x the domain, so about 2 rounds on average)."""
    bits = max(2, ((size - 1).bit_length() + 1) // 2 * 2)
    keys = _round_keys(seed, names)
    out = _feistel(np.asarray(index, dtype=np.uint64), bits, keys)
    outside = np.nonzero(out >= np.uint64(size))[0]
    while len(outside):
        out[outside] = _feistel(out[outside], bits, keys)
        outside = outside[out[outside] >= np.uint64(size)]
    return out


def drawn(seed: int, names: tuple[str, ...], keys: tuple[np.ndarray, ...], size: int) -> np.ndarray:
    """Uniform integers in [0, size) from a hash of each row's keys: the top bits, redrawn (a new name per
    try) where they fall at or above size, so there is no modulo bias."""
    rows = len(keys[0])
    bits = (size - 1).bit_length()
    if bits == 0:
        return np.zeros(rows, dtype=np.uint64)
    shift = np.uint64(64 - bits)
    out = hashed_words(seed, (*names, "try", "0"), *keys) >> shift
    redo = np.nonzero(out >= np.uint64(size))[0]
    attempt = 1
    while len(redo):
        sub = tuple(np.asarray(k)[redo] for k in keys)
        out[redo] = hashed_words(seed, (*names, "try", str(attempt)), *sub) >> shift
        redo = redo[out[redo] >= np.uint64(size)]
        attempt += 1
    return out


def entity_values(seed: int, names: tuple[str, ...], tokens: tuple[Token, ...], ids: np.ndarray,
                  width: int) -> pa.Array:
    """One value per entity id (ids from 1): unique while the pattern's combinations reach the entity count."""
    ids = np.asarray(ids, dtype=np.int64)
    indices = []
    for g, (_, size) in enumerate(_groups(tokens)):
        group = (*names, "group", str(g))
        indices.append(permuted(seed, group, (ids - 1) % size, size) if g == 0 else drawn(seed, group, (ids,), size))
    return _render(tokens, indices, ids, width, escape=False)


def row_values(seed: int, names: tuple[str, ...], tokens: tuple[Token, ...], keys: tuple[np.ndarray, ...],
               entity: np.ndarray, width: int, escape: bool = False) -> pa.Array:
    """One value per row, drawn from the row's keys; `{n}` is the row's entity. `escape` writes literals as
    they appear inside a JSON string."""
    indices = [drawn(seed, (*names, "group", str(g)), keys, size) for g, (_, size) in enumerate(_groups(tokens))]
    return _render(tokens, indices, np.asarray(entity, dtype=np.int64), width, escape)


def _render(tokens: tuple[Token, ...], indices: list[np.ndarray], numbers: np.ndarray, width: int,
            escape: bool) -> pa.Array:
    """Fixed-width UTF-8 rows: literals as they are, drawn characters from the groups' mixed-radix
    indices (last position fastest), `{n}` as `width` zero-padded digits."""
    pieces = [(json.dumps(t.text, ensure_ascii=False)[1:-1] if escape else t.text).encode() for t in tokens]
    sizes = [len(p) if t.text else width if t.number else 1 for p, t in zip(pieces, tokens)]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    rows = len(numbers)
    out = np.zeros((rows, int(starts[-1])), dtype=np.uint8)
    for i, (piece, token) in enumerate(zip(pieces, tokens)):
        if token.text:
            out[:, starts[i]:starts[i + 1]] = np.frombuffer(piece, dtype=np.uint8)
        elif token.number:
            for k in range(width):
                out[:, starts[i] + k] = 48 + (numbers // 10 ** (width - 1 - k)) % 10
    for (positions, _), index in zip(_groups(tokens), indices):
        rest = np.asarray(index, dtype=np.uint64).copy()
        for i in reversed(positions):
            alphabet = tokens[i].alphabet
            radix = np.uint64(len(alphabet))
            out[:, starts[i]] = np.frombuffer(alphabet.encode(), dtype=np.uint8)[(rest % radix).astype(np.intp)]
            rest //= radix
    return pa.array(out.view(f"S{out.shape[1]}").ravel()).cast(pa.string())
