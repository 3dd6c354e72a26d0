"""Which noise correlation matrix each cell uses: the pooled one, a regime's (periods), a segment's, or a
segment's within a regime. Built from the pooled model for the current scoped and regime targets."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .regimes import Interval
from .scope import ScopedTarget, segment_matrices, segment_matrix


def _factor(matrix: np.ndarray) -> np.ndarray:
    return np.linalg.cholesky(matrix + 1e-10 * np.eye(matrix.shape[0]))


@dataclass
class CellNoise:
    scoped: list[ScopedTarget]
    regimes: list[ScopedTarget]
    intervals: list[Interval]
    segment_moments: dict
    interval_moments: list
    periods: int
    factors: dict = field(default_factory=dict)  # (segment or None, interval index or None) -> factor

    @property
    def needed(self) -> bool:
        return bool(self.scoped or self.regimes)

    def build(self, model, noise_corr: np.ndarray, scoped_targets, regime_targets) -> bool:
        """The factors for these targets; False when some segment or regime has no valid matrix."""
        bases: dict = {None: noise_corr}
        for k, interval in enumerate(self.intervals):
            chosen = [replace(self.regimes[i], target=float(regime_targets[i])) for i in interval.declarations]
            matrix = segment_matrix(model, noise_corr, self.interval_moments[k], chosen)
            if matrix is None:
                return False
            bases[k] = matrix
        factors = {}
        for k, base in bases.items():
            factors[(None, k)] = _factor(base)
            if self.scoped:
                matrices, failed = segment_matrices(model, base, self.segment_moments, self.scoped, scoped_targets)
                if failed:
                    return False
                factors.update({(segment, k): _factor(m) for segment, m in matrices.items()})
        self.factors = factors
        return True

    def groups(self, segment: str, pooled_factor: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(window period columns, factor)] for one segment, covering every period once."""
        if not self.factors:
            return [(np.arange(self.periods), pooled_factor)]
        covered = np.zeros(self.periods, dtype=bool)
        out = []
        for k, interval in enumerate(self.intervals):
            covered[interval.columns] = True
            out.append((interval.columns, self.factors.get((segment, k), self.factors[(None, k)])))
        rest = np.nonzero(~covered)[0]
        if rest.size:
            out.append((rest, self.factors.get((segment, None), self.factors[(None, None)])))
        return out
