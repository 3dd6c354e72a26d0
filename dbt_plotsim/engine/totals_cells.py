"""The cells a declared total reads (engine/totals.py): per unit of entities (a block, or a part of a block
whose fan-out is split: parts.py), the non-null values in cents and their periods, drawn from the same
deterministic blocks generation writes."""
from __future__ import annotations

import numpy as np

CACHE_BYTES = 256 * 1024**2  # cells kept between passes below this; above it, blocks are drawn again


def cents_of(values: np.ndarray, amount: bool) -> np.ndarray:
    """Values in cents as the solver and the chunks read them (amounts are whole cents already)."""
    x = values * 100.0
    return np.rint(x) if amount else x


class Cells:
    """Each unit's non-null cells (first entity id, values in cents, period) per target, block by block in
    output order; kept in memory between passes while they are small, drawn again otherwise."""

    def __init__(self, plan, found: list):  # totals.Target
        from .tables import schemas

        self.plan, self.found = plan, found
        self.drawn = schemas(plan) if any(t.tx is not None for t in found) else None
        self.kept: list | None = None

    def units(self):
        if self.kept is not None:
            yield from self.kept
            return
        kept, size = [], 0
        for unit in self._draw():
            if kept is not None:
                size += sum(x.nbytes + p.nbytes for pieces in unit for _, x, p in pieces)
                kept.append(unit)
                if size > CACHE_BYTES:
                    kept = None
            yield unit
        self.kept = kept

    def _draw(self):
        from .block import block_base
        from .parts import pieces_of
        from .transactions import block_transactions

        plan = self.plan
        for seg in plan.segments:
            for b in range(seg.blocks):
                base = block_base(plan, seg, b)
                pieces = None
                unit = []
                for t in self.found:
                    if t.metric is not None:
                        missing = base.missing[t.metric]
                        rows, p = np.nonzero(base.active if missing is None else base.active & ~missing)
                        unit.append([(int(base.ids[0]), cents_of(base.values[t.metric][rows, p], t.amount), p)])
                        continue
                    if pieces is None:
                        pieces = pieces_of(plan, self.drawn, base)
                    drawn = [(int(piece.ids[0]), block_transactions(plan, t.tx, piece)) for piece in pieces]
                    unit.append([(first, rows.cents.astype(np.float64), rows.period) for first, rows in drawn])
                yield unit
