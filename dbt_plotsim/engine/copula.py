"""The latent model and its calibration: how metrics load on the trajectory, follow drivers and correlate.

Each metric m has an own latent   y_m = s_m rho_m T + sqrt(1 - rho_m^2) e_m   (T: trajectory score,
e: per-cell variation, an AR(1) over periods with persistence phi, correlated across metrics by C, so
Cov(e_k[t], e_j[t - h]) = C[k, j] phi^h). A lagged metric blends its driver's realized latent,
N periods back, with its own:   z_m[t] = (s_m s_d w z_d[t - N] + (1 - w) y_m[t]) / sigma_m   (against the
driver when their polarities differ).   Every z_m is thus a
linear combination of y_k at period offsets, so pooled covariances are linear in the entries of C once
the normalizers sigma are fixed; the declared output correlations become a linear system for C, solved
with sigma updated until both agree.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

Terms = dict[tuple[int, int], float]  # (metric index, period offset) -> coefficient


@dataclass(frozen=True)
class Loading:
    sign: float
    signal: float  # rho: loading on the trajectory score

    @property
    def own(self) -> float:
        return float(np.sqrt(1.0 - self.signal**2))


@dataclass(frozen=True)
class TrajectoryMoments:
    """Pooled moments of the trajectory score at period offsets: mean[l] and cross[l, l']."""

    mean: np.ndarray
    cross: np.ndarray

    def cov(self, a: int, b: int) -> float:
        return float(self.cross[a, b] - self.mean[a] * self.mean[b])


def trajectory_moments(scores: list[np.ndarray], weights: list[float], lead: int, offsets: list[int],
                       masks: list[np.ndarray]) -> TrajectoryMoments:
    """Weighted pooled E[T[t-l]] and E[T[t-l] T[t-l']] over active window cells t, for the offsets used."""
    size = max(offsets) + 1
    mean = np.zeros(size)
    cross = np.zeros((size, size))
    total = sum(m.sum() * w for m, w in zip(masks, weights))
    for s, w, m in zip(scores, weights, masks):
        periods = s.shape[1] - lead
        shifted = {l: s[:, lead - l : lead - l + periods] * m for l in offsets}  # inactive cells count 0
        for l in offsets:
            mean[l] += w * shifted[l].sum() / total
        for a, b in itertools.combinations_with_replacement(offsets, 2):
            value = w * np.einsum("ij,ij->", shifted[a], shifted[b]) / total
            cross[a, b] += value
            if a != b:
                cross[b, a] += value
    return TrajectoryMoments(mean, cross)


@dataclass
class LatentModel:
    loads: list[Loading]
    terms: list[Terms]  # per metric, after scaling to unit pooled variance
    moments: TrajectoryMoments
    scales: list[float]  # 1 / sigma: brings each metric's blend to unit pooled variance
    persistence: float

    @staticmethod
    def offsets_needed(count: int, order: list[int], lags: dict[int, tuple[int, int, float]]) -> list[int]:
        offsets: set[int] = {0}
        reach: list[set[int]] = [{0} for _ in range(count)]
        for m in order:
            if m in lags:
                d, n, _ = lags[m]
                reach[m] = {0} | {o + n for o in reach[d]}
            offsets |= reach[m]
        return sorted(offsets)

    @classmethod
    def build(cls, loads: list[Loading], order: list[int], lags: dict[int, tuple[int, int, float]],
              moments: TrajectoryMoments, noise_corr: np.ndarray, persistence: float) -> "LatentModel":
        terms: list[Terms] = [dict() for _ in loads]
        model = cls(loads, terms, moments, [1.0] * len(loads), persistence)
        for m in order:
            raw: Terms = {}
            if m in lags:
                d, n, w = lags[m]
                sign = loads[m].sign * loads[d].sign  # a follower of opposite polarity moves against its driver
                for (k, off), c in terms[d].items():
                    raw[(k, off + n)] = raw.get((k, off + n), 0.0) + sign * w * c
                raw[(m, 0)] = raw.get((m, 0), 0.0) + (1.0 - w)
            else:
                raw[(m, 0)] = 1.0
            var = model.covariance(raw, raw, noise_corr)
            scale = 1.0 / float(np.sqrt(var))
            model.scales[m] = scale
            terms[m] = {key: c * scale for key, c in raw.items()}
        return model

    def own_cov(self, k: int, a: int, j: int, b: int, noise_corr: np.ndarray) -> float:
        """Cov(y_k[t - a], y_j[t - b]) pooled."""
        lk, lj = self.loads[k], self.loads[j]
        value = lk.sign * lj.sign * lk.signal * lj.signal * self.moments.cov(a, b)
        return value + lk.own * lj.own * noise_corr[k, j] * self.persistence ** abs(a - b)

    def covariance(self, left: Terms, right: Terms, noise_corr: np.ndarray) -> float:
        return sum(
            cl * cr * self.own_cov(k, a, j, b, noise_corr)
            for (k, a), cl in left.items()
            for (j, b), cr in right.items()
        )

    def noise_coefficients(self, left: Terms, right: Terms, pair: tuple[int, int]) -> float:
        """d Cov(left, right) / d C[pair]: how much one noise correlation moves this covariance."""
        k0, j0 = pair
        total = 0.0
        for (k, a), cl in left.items():
            for (j, b), cr in right.items():
                if k != j and {k, j} == {k0, j0}:
                    total += cl * cr * self.loads[k].own * self.loads[j].own * self.persistence ** abs(a - b)
        return total
