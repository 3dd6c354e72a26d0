"""A source system's own keys for its records: unique within the system, not in the order of the true ids.

A record is numbered n = (entity id - 1) + copy * N (N entities; copy 1 for a duplicate record), so every
record of the story has its own n in [0, 2N). Its key in the system:
- `prefixed`: the prefix and the w digits of (a n + b) mod 10^w, zero-padded;
- `numeric`: start + (a n + b) mod 10^w;
- `uuid`: a version-4 UUID hashed from the seed, the system and (entity, copy).
a and b come from a hash of the seed and the system's name; a is odd and not a multiple of 5, so n -> a n + b
is a bijection of [0, 10^w): keys never collide, and neighbouring entities get keys a apart mod 10^w.
The width w is the declared one, else the fewest digits that number every record (needed_width).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..spec.systems import needed_width
from .hashing import hashed_uuids, hashed_words


def width_of(system, entity_count: int) -> int:
    return system.key.width or needed_width(entity_count * (2 if system.duplicates > 0 else 1))


def affine(seed: int, name: str, modulus: int) -> tuple[int, int]:
    """(a, b) of the system's bijection n -> (a n + b) mod modulus (a power of ten)."""
    words = hashed_words(seed, ("systems", name, "key"), np.arange(2))
    a, b = int(words[0]) % modulus, int(words[1]) % modulus
    a += a % 2 == 0  # odd
    a += 2 * (a % 5 == 0)  # and not a multiple of 5 (an odd multiple of 5 ends in 5; +2 stays below modulus)
    return a % modulus, b


def mulmod(x: np.ndarray, a: int, b: int, modulus: int) -> np.ndarray:
    """(a x + b) mod modulus for x in [0, modulus) and modulus up to 10^18, without overflowing int64: the
    sum of a 2^k mod modulus over the bits k of x, one vectorized pass per bit."""
    x = x.astype(np.int64)
    out = np.full(len(x), b % modulus, dtype=np.int64)
    step = a % modulus
    for k in range(int(x.max()).bit_length() if len(x) else 0):
        out = (out + np.where((x >> k) & 1 == 1, step, 0)) % modulus
        step = (step * 2) % modulus
    return out


def record_keys(seed: int, name: str, system, entity: np.ndarray, copy: np.ndarray, entity_count: int) -> pa.Array:
    """The system's keys of the records (entity, copy)."""
    key = system.key
    if key.scheme == "uuid":
        return hashed_uuids(seed, ("systems", name, "key"), entity, copy)
    width = width_of(system, entity_count)
    modulus = 10**width
    a, b = affine(seed, name, modulus)
    n = (entity.astype(np.int64) - 1) + copy.astype(np.int64) * entity_count
    digits = mulmod(n, a, b, modulus)
    if key.scheme == "numeric":
        return pa.array(digits + key.start, pa.int64())
    padded = pc.utf8_lpad(pa.array(digits).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(key.prefix, pa.string()), padded, "")


def key_type(system) -> pa.DataType:
    return pa.int64() if system.key.scheme == "numeric" else pa.string()


def describe_key(name: str, system, entity_count: int, unit: str) -> str:
    key = system.key
    if key.scheme == "uuid":
        return (f"Primary key in {name}: a version-4 UUID hashed from the seed, the system and the record; not in "
                f"the order of {unit}_id.")
    width = width_of(system, entity_count)
    form = f"'{key.prefix}' and {width} digits, " if key.scheme == "prefixed" else f"{key.start} plus "
    return (f"Primary key in {name}: {form}(a n + b) mod 10^{width} of the record number n (a, b hashed from the "
            f"seed and the system's name, a coprime to 10): unique, and not in the order of {unit}_id.")
