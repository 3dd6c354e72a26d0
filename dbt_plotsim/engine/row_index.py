"""Dense lookups for derived tables: a row's entity among a chunk's entities, a date key's period index.

Ids and date keys are integers in narrow ranges, so a table indexed by value maps each row in O(1),
cheaper than a binary search per row on the millions of fact rows a chunk can hold."""
from __future__ import annotations

import numpy as np


def positions(ids: np.ndarray, rows: np.ndarray, what: str) -> np.ndarray:
    """Index in `ids` (a chunk's entities, distinct) of each row's entity; every row's entity is there."""
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    low = int(min(ids.min(), rows.min())) if ids.size else int(rows.min())
    high = int(max(ids.max(), rows.max())) if ids.size else int(rows.max())
    lookup = np.full(high - low + 1, -1, dtype=np.int64)
    lookup[ids - low] = np.arange(len(ids))
    found = lookup[rows - low]
    if (found < 0).any():
        raise ValueError(f"bug: rows of {what} without their entity in the same chunk")
    return found


class Periods:
    """Period index of date keys (yyyymmdd of the periods' first days)."""

    def __init__(self, keys: np.ndarray):
        self.keys = keys
        self.low = int(keys[0])
        self.lookup = np.full(int(keys[-1]) - self.low + 1, -1, dtype=np.int64)
        self.lookup[keys - self.low] = np.arange(len(keys))

    def of(self, column) -> np.ndarray:
        """Period of every date key in an Arrow column without nulls."""
        return self.lookup[column.to_numpy() - self.low]
