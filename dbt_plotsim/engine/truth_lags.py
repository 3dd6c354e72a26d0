"""The change cross-correlation of a declared lag, accumulated chunk by chunk (truth_relations.py).

Within each entity, in row order, the period-to-period changes of the follower and the driver; each period's
mean change is removed at the end (a time fixed effect), as macros/generic_tests/test_lag_coherence.sql does.
Float sums go block by block in block order (block_sums.py), so the curve is the same for any chunk size.
"""
from __future__ import annotations

import numpy as np

from .block_sums import add_by_block, local_blocks

MAX_LAG = 12  # the lag_coherence test's default search


def max_lag(declared: int) -> int:
    return MAX_LAG if declared <= MAX_LAG else declared + 1


def _add_blocks(total: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """`total` (per period) plus the column sums of `values` (entities x periods), one block of entity rows
    (edges[i]:edges[i + 1]) at a time. Summing over the entity axis adds row after row (numpy pairs only
    along a single column: that one goes through bincount), so these are the additions add_by_block makes."""
    for start, end in zip(edges[:-1], edges[1:]):
        rows = values[start:end]
        if rows.shape[1] == 1:
            total = total + np.bincount(np.zeros(rows.shape[0], dtype=np.int64), weights=rows[:, 0], minlength=1)
        else:
            total = total + rows.sum(axis=0)
    return total


class LagStats:
    """Per lag k, gap in periods between the paired rows (k itself in a panel without holes) and follower
    period: sums of the pairs of changes; and each period's mean change, so the time-demeaned r at every k
    follows at the end."""

    def __init__(self, lag, max_lag: int, periods: int):
        self.lag, self.max_lag, self.periods = lag, max_lag, periods
        self.change_sums = np.zeros((2, 2, periods))  # (follower, driver) x (count, sum) per period
        self.sums: list[dict[int, np.ndarray]] = [{} for _ in range(max_lag + 1)]  # k -> gap -> (6, periods)

    def observe(self, block, ids, period, follower, driver) -> None:
        """Rows ordered by entity and period."""
        new = np.ones(ids.size, dtype=bool)
        new[1:] = ids[1:] != ids[:-1]
        if ids.size and bool(((period[1:] - period[:-1] == 1) | new[1:]).all()):
            self._panel(block[new], np.cumsum(new) - 1, period, follower, driver)
        else:
            self._general(block, ids, period, follower, driver)

    def _panel(self, entity_block, entity, period, follower, driver) -> None:
        """Rows without holes (each entity's periods consecutive): lag k pairs column p with column p - k of an
        entities x periods matrix, summed per block and period in entity order, as `_general` adds them, so
        both give the same bits (tests/test_truth.py)."""
        edges = np.flatnonzero(np.concatenate([[True], entity_block[1:] != entity_block[:-1], [True]]))
        changes = []
        for side, values in enumerate((follower, driver)):
            grid = np.full((entity_block.size, self.periods), np.nan)
            grid[entity, period] = values
            change = np.full_like(grid, np.nan)
            change[:, 1:] = grid[:, 1:] - grid[:, :-1]
            valid = ~np.isnan(change)
            self.change_sums[side, 0] += valid.sum(axis=0)
            self.change_sums[side, 1] = _add_blocks(self.change_sums[side, 1], np.where(valid, change, 0.0), edges)
            changes.append(change)
        f, d = changes
        for k in range(min(self.max_lag + 1, self.periods)):
            fk, dk = f[:, k:], d[:, : self.periods - k]
            both = ~np.isnan(fk) & ~np.isnan(dk)
            if not both.any():
                continue
            fk, dk = np.where(both, fk, 0.0), np.where(both, dk, 0.0)
            total = self.sums[k].setdefault(k, np.zeros((6, self.periods)))
            for stat, weights in enumerate((both.astype(float), fk, dk, fk * fk, dk * dk, fk * dk)):
                total[stat, k:] = _add_blocks(total[stat, k:], weights, edges)

    def _general(self, block, ids, period, follower, driver) -> None:
        """Any rows: pairs by row number within each entity, summed per follower period and gap."""
        same = np.zeros(ids.size, dtype=bool)
        same[1:] = ids[1:] == ids[:-1]
        changes = []
        for values in (follower, driver):
            change = np.full(ids.size, np.nan)
            change[1:] = values[1:] - values[:-1]
            changes.append(np.where(same, change, np.nan))
        for side, change in enumerate(changes):
            valid = ~np.isnan(change)
            self.change_sums[side, 0] += np.bincount(period[valid], minlength=self.periods)
            self.change_sums[side, 1] = add_by_block(self.change_sums[side, 1], block[valid], period[valid], change[valid])
        f, d = changes
        for k in range(min(self.max_lag + 1, ids.size)):
            later, earlier = slice(k, None), slice(None, ids.size - k)
            keep = (ids[later] == ids[earlier]) & ~np.isnan(f[later]) & ~np.isnan(d[earlier])
            fk, dk = f[later][keep], d[earlier][keep]
            at, pairs_block = period[later][keep], block[later][keep]
            gap = at - period[earlier][keep]
            gaps = np.flatnonzero(np.bincount(gap)) if gap.size else []
            for g in gaps:
                mine = slice(None) if len(gaps) == 1 else gap == g
                blocks = local_blocks(pairs_block[mine])
                total = self.sums[k].setdefault(int(g), np.zeros((6, self.periods)))
                for stat, weights in enumerate((None, fk, dk, fk * fk, dk * dk, fk * dk)):
                    total[stat] = add_by_block(total[stat], blocks, at[mine], None if weights is None else weights[mine])

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(r, pairs) at k = 0..max_lag."""
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self.change_sums[:, 1] / self.change_sums[:, 0]
        r = np.full(self.max_lag + 1, np.nan)
        n = np.zeros(self.max_lag + 1, dtype=np.int64)
        follower = np.arange(self.periods)
        for k in range(self.max_lag + 1):
            moments = np.zeros(6)  # count, sx, sy, sxx, syy, sxy of the demeaned changes
            for g in sorted(self.sums[k]):
                count, sf, sd, sff, sdd, sfd = self.sums[k][g]
                used = count > 0
                a = means[0][follower[used]]
                b = means[1][follower[used] - g]
                count, sf, sd, sff, sdd, sfd = (x[used] for x in (count, sf, sd, sff, sdd, sfd))
                moments += [count.sum(), (sf - count * a).sum(), (sd - count * b).sum(),
                            (sff - 2 * a * sf + count * a * a).sum(), (sdd - 2 * b * sd + count * b * b).sum(),
                            (sfd - b * sf - a * sd + count * a * b).sum()]
            total, sx, sy, sxx, syy, sxy = moments
            n[k] = int(total)
            if total > 0:
                with np.errstate(invalid="ignore", divide="ignore"):
                    r[k] = (total * sxy - sx * sy) / np.sqrt((total * sxx - sx * sx) * (total * syy - sy * sy))
        return r, n
