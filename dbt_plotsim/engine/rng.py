"""Named random streams: each (seed, names..., block) gets its own Generator, independent of all others.

Streams are keyed by names rather than by draw order, so adding a metric or table, or changing the
chunk size, leaves every other stream (and so every other value) unchanged.
"""
from __future__ import annotations

import hashlib

import numpy as np

# Entities are drawn in fixed blocks of this many; chunks are whole blocks, so chunking never moves a draw.
ENTITY_BLOCK = 1024


def name_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


def stream(seed: int, *names: str | int) -> np.random.Generator:
    key = tuple(name_key(n) if isinstance(n, str) else int(n) for n in names)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=key)))
