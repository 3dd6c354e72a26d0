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
from functools import cached_property

import numpy as np



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
    """Each metric's latent as coefficients over (own latent k, period offset a): terms[m] is (M, L)."""

    loads: list[Loading]
    terms: list[np.ndarray]  # per metric, after scaling to unit pooled variance
    moments: TrajectoryMoments
    scales: list[float]  # 1 / sigma: brings each metric's blend to unit pooled variance
    persistence: float

    @staticmethod
    def offsets_needed(count: int, order: list[int], lags: dict[int, tuple]) -> list[int]:
        offsets: set[int] = {0}
        reach: list[set[int]] = [{0} for _ in range(count)]
        for m in order:
            if m in lags:
                d, n, _ = lags[m]
                reach[m] = {0} | {o + n for o in reach[d]}
            offsets |= reach[m]
        return sorted(offsets)

    @classmethod
    def build(cls, loads: list[Loading], order: list[int], lags: dict[int, tuple], moments: TrajectoryMoments,
              noise_corr: np.ndarray, persistence: float) -> "LatentModel":
        count, width = len(loads), moments.mean.shape[0]
        model = cls(loads, [np.zeros((count, width)) for _ in loads], moments, [1.0] * count, persistence)
        for m in order:
            raw = np.zeros((count, width))
            if m in lags:
                d, n, w = lags[m]
                sign = loads[m].sign * loads[d].sign  # a follower of opposite polarity moves against its driver
                raw[:, n:] += sign * w * model.terms[d][:, : width - n]
                raw[m, 0] += 1.0 - w
            else:
                raw[m, 0] = 1.0
            scale = 1.0 / float(np.sqrt(model.covariance(raw, raw, noise_corr)))
            model.scales[m] = scale
            model.terms[m] = raw * scale
        return model

    @cached_property
    def _parts(self):
        loads = self.loads
        trend = np.array([l.sign * l.signal for l in loads])
        own = np.array([l.own for l in loads])
        width = self.moments.mean.shape[0]
        offsets = np.arange(width)
        decay = self.persistence ** np.abs(offsets[:, None] - offsets[None, :])
        tcov = self.moments.cross - np.outer(self.moments.mean, self.moments.mean)
        return trend, own, decay, tcov

    def _noise_gram(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """G[k, j] = own_k own_j sum_ab left[k, a] right[j, b] phi^|a-b|: what C[k, j] multiplies."""
        trend, own, decay, tcov = self._parts
        return (own[:, None] * own[None, :]) * (left @ decay @ right.T)

    def covariance(self, left: np.ndarray, right: np.ndarray, noise_corr: np.ndarray) -> float:
        trend, own, decay, tcov = self._parts
        u, v = trend @ left, trend @ right
        return float(u @ tcov @ v + np.sum(noise_corr * self._noise_gram(left, right)))

    def noise_coefficients(self, left: np.ndarray, right: np.ndarray, pair: tuple[int, int]) -> float:
        """d Cov(left, right) / d C[pair]: how much one noise correlation moves this covariance."""
        gram = self._noise_gram(left, right)
        k, j = pair
        return float(gram[k, j] + gram[j, k])
