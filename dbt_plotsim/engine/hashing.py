"""Per-row randomness from a row's keys: hashed words, uniforms and UUIDs named like a stream.

A value drawn from a hash of the row's own integer keys (with the seed and names such as purpose and table)
depends on nothing but that row, so it is the same whatever the chunking, parts, workers or as-of.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .rng import name_key

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DASHES = (8, 13, 18, 23)  # where a UUID's text has its dashes


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64 that scatters neighbouring keys."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hashed_words(seed: int, names: tuple[str, ...], *keys: np.ndarray) -> np.ndarray:
    """One uint64 per row from the row's integer keys, named like a stream."""
    spawn = tuple(name_key(n) for n in names)
    salt = np.random.SeedSequence(entropy=seed, spawn_key=spawn).generate_state(1, np.uint64)[0]
    x = np.full(len(keys[0]), salt, dtype=np.uint64)
    for key in keys:
        x = mix(x ^ np.asarray(key).astype(np.int64).view(np.uint64))
    return x


def hashed_uniform(seed: int, names: tuple[str, ...], *keys: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1), one per row, from the row's integer keys and named like a stream."""
    return (hashed_words(seed, names, *keys) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def hashed_uuids(seed: int, names: tuple[str, ...], *keys: np.ndarray) -> pa.Array:
    """RFC 4122 version-4 UUIDs as text (xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx), one per row."""
    high = hashed_words(seed, (*names, "uuid-high"), *keys)
    low = hashed_words(seed, (*names, "uuid-low"), *keys)
    high = (high & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)  # version 4
    low = (low & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)  # RFC 4122 variant
    raw = np.stack([high, low], axis=1).astype(">u8").view(np.uint8).reshape(-1, 16)
    nibbles = np.empty((len(raw), 32), dtype=np.uint8)
    nibbles[:, 0::2], nibbles[:, 1::2] = raw >> 4, raw & 15
    digits = _HEX[nibbles]
    text = np.full((len(raw), 36), ord("-"), dtype=np.uint8)
    text[:, [i for i in range(36) if i not in _DASHES]] = digits
    return pa.array(text.view("S36").ravel()).cast(pa.string())
