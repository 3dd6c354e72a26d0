"""Pearson r of two output columns as a function of the latent (Gaussian copula) correlation, and back.

The mapping integrates the exact output transforms (truncated inverse CDFs, rounding, outlier mixture) over
a bivariate normal on a fine grid, so a declared r is what a user measures on the data, not a latent value.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from .marginals import Marginal

_Z = np.linspace(-8.0, 8.0, 601)
_U = ndtr(_Z)
_V = (np.arange(4000) + 0.5) / 4000  # uniforms for outlier-tail moments


@dataclass(frozen=True)
class OutputMoments:
    """Transform of the latent grid to values, and the moments of the outlier component."""

    grid_values: np.ndarray
    outlier_mean: float
    outlier_second: float


@lru_cache(maxsize=256)
def _moments(marginal: Marginal) -> OutputMoments:
    values = marginal.values(_U).astype(np.float64)
    outliers = marginal.values(marginal.outlier_u(_V)).astype(np.float64)
    return OutputMoments(values, float(outliers.mean()), float((outliers**2).mean()))


def _weights(rho: float) -> np.ndarray:
    rho = float(np.clip(rho, -0.999999, 0.999999))
    z1, z2 = _Z[:, None], _Z[None, :]
    q = (z1 * z1 - 2 * rho * z1 * z2 + z2 * z2) / (1 - rho * rho)
    w = np.exp(-0.5 * q)
    return w / w.sum()


def pearson(a: Marginal, b: Marginal, rho: float, outliers: float = 0.0) -> float:
    """Pearson r of (a, b) outputs whose latent normals correlate at rho, with an outlier share per cell."""
    ma, mb = _moments(a), _moments(b)
    w = _weights(rho)
    pa, pb = w.sum(axis=1), w.sum(axis=0)
    mean_a, mean_b = pa @ ma.grid_values, pb @ mb.grid_values
    sq_a, sq_b = pa @ ma.grid_values**2, pb @ mb.grid_values**2
    cross = ma.grid_values @ w @ mb.grid_values
    o = outliers
    e_a = (1 - o) * mean_a + o * ma.outlier_mean
    e_b = (1 - o) * mean_b + o * mb.outlier_mean
    e_aa = (1 - o) * sq_a + o * ma.outlier_second
    e_bb = (1 - o) * sq_b + o * mb.outlier_second
    e_ab = (1 - o) ** 2 * cross + (1 - o) * o * (mean_a * mb.outlier_mean + ma.outlier_mean * mean_b) \
        + o * o * ma.outlier_mean * mb.outlier_mean
    var_a, var_b = e_aa - e_a**2, e_bb - e_b**2
    if var_a <= 0 or var_b <= 0:
        return 0.0
    return float((e_ab - e_a * e_b) / np.sqrt(var_a * var_b))


def pearson_range(a: Marginal, b: Marginal, outliers: float = 0.0) -> tuple[float, float]:
    return pearson(a, b, -1.0, outliers), pearson(a, b, 1.0, outliers)


def latent_for(a: Marginal, b: Marginal, r: float, outliers: float = 0.0) -> float | None:
    """The latent correlation giving output Pearson r, or None when no latent value reaches it."""
    low, high = pearson_range(a, b, outliers)
    if not (low - 1e-9 <= r <= high + 1e-9):
        return None
    if r >= high:
        return 1.0
    if r <= low:
        return -1.0
    return float(brentq(lambda rho: pearson(a, b, rho, outliers) - r, -1.0, 1.0, xtol=1e-5))
