"""Sums of floats that do not depend on how blocks are grouped into chunks.

Floating-point addition is not associative, so a figure summed chunk by chunk would change in its last bits
with the chunk size. Here every chunk's rows are summed per entity block (rows of one block keep their order
whatever the chunk), and the block sums are added to the running total one block at a time, in block order:
the same additions in the same order for any chunk size or number of workers.
"""
from __future__ import annotations

import numpy as np

from .rng import ENTITY_BLOCK


_BLOCK_SHIFT = ENTITY_BLOCK.bit_length() - 1 if ENTITY_BLOCK & (ENTITY_BLOCK - 1) == 0 else None


class BlockOrder:
    """The global block of each entity id: segments in plan order, blocks of ENTITY_BLOCK ids within each."""

    def __init__(self, plan):
        self.first_ids = np.array([s.first_id for s in plan.segments], dtype=np.int64)
        self.offsets = np.cumsum([0] + [s.blocks for s in plan.segments])[:-1].astype(np.int64)

    def _starts(self, ids: np.ndarray) -> np.ndarray | None:
        """Rows in id order (every generated table): the row where each segment starts; else None."""
        if ids.size > 1 and bool((ids[1:] >= ids[:-1]).all()):
            return np.searchsorted(ids, self.first_ids, side="left")
        return None

    def segment(self, ids: np.ndarray) -> np.ndarray:
        starts = self._starts(ids)
        if starts is None:
            return np.searchsorted(self.first_ids, ids, side="right") - 1
        steps = np.zeros(ids.size + 1, dtype=np.int64)
        np.add.at(steps, starts, 1)
        return np.cumsum(steps[:-1]) - 1

    def block(self, ids: np.ndarray) -> np.ndarray:
        starts = self._starts(ids)
        if starts is None:
            segment = np.searchsorted(self.first_ids, ids, side="right") - 1
            return self.offsets[segment] + (ids - self.first_ids[segment]) // ENTITY_BLOCK
        out = np.empty(ids.size, dtype=np.int64)
        bounds = np.append(starts, ids.size)
        if bounds[0] > 0:
            raise ValueError("bug: an entity id below the first segment's reached the block order")
        for s, (begin, end) in enumerate(zip(bounds[:-1], bounds[1:])):  # one slice per segment, not per row
            if end > begin:
                within = ids[begin:end] - self.first_ids[s]
                out[begin:end] = (within >> _BLOCK_SHIFT if _BLOCK_SHIFT is not None else within // ENTITY_BLOCK)
                out[begin:end] += self.offsets[s]
        return out


def local_blocks(block: np.ndarray) -> tuple[np.ndarray, int]:
    """(each row's block counted from the chunk's first, blocks spanned)."""
    if block.size == 0:
        return block, 0
    first = int(block.min())
    return block - first, int(block.max()) - first + 1


def add_by_block(total: np.ndarray, block, index: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """`total` (flat, float) plus the bincount of `index` (weighted), added block by block in block order.
    `block`: each row's global block, or (local block, blocks spanned) from local_blocks."""
    local, spanned = block if isinstance(block, tuple) else local_blocks(block)
    if spanned == 0 or index.size == 0:
        return total
    size = total.size
    if spanned == 1:
        return total + np.bincount(index, weights=weights, minlength=size)
    per_block = np.bincount(local * size + index, weights=weights, minlength=spanned * size).reshape(spanned, size)
    for row in per_block:  # one vector add per block: the order of additions is fixed by the blocks
        total = total + row
    return total
