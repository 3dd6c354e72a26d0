"""Pearson r of two output columns as a function of the latent (Gaussian copula) correlation, and back.

The mapping integrates the exact output transforms (truncated inverse CDFs, rounding, outlier mixture) over
a bivariate normal on a fine grid, so a declared r is what a user measures on the data, not a latent value.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
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


def pearson(a: Marginal, b: Marginal, rho: float, outliers: float = 0.0, outliers_b: float | None = None) -> float:
    """Pearson r of (a, b) outputs whose latent normals correlate at rho, with an outlier share per cell
    (`outliers` for a, `outliers_b` for b, the same when not given; hits are independent)."""
    ma, mb = _moments(a), _moments(b)
    w = _weights(rho)
    pa, pb = w.sum(axis=1), w.sum(axis=0)
    mean_a, mean_b = pa @ ma.grid_values, pb @ mb.grid_values
    sq_a, sq_b = pa @ ma.grid_values**2, pb @ mb.grid_values**2
    cross = ma.grid_values @ w @ mb.grid_values
    oa, ob = outliers, outliers if outliers_b is None else outliers_b
    e_a = (1 - oa) * mean_a + oa * ma.outlier_mean
    e_b = (1 - ob) * mean_b + ob * mb.outlier_mean
    e_aa = (1 - oa) * sq_a + oa * ma.outlier_second
    e_bb = (1 - ob) * sq_b + ob * mb.outlier_second
    e_ab = (1 - oa) * (1 - ob) * cross + (1 - oa) * ob * mean_a * mb.outlier_mean \
        + oa * (1 - ob) * ma.outlier_mean * mean_b + oa * ob * ma.outlier_mean * mb.outlier_mean
    var_a, var_b = e_aa - e_a**2, e_bb - e_b**2
    if var_a <= 0 or var_b <= 0:
        return 0.0
    return float((e_ab - e_a * e_b) / np.sqrt(var_a * var_b))


def pearson_range(a: Marginal, b: Marginal, outliers: float = 0.0,
                  outliers_b: float | None = None) -> tuple[float, float]:
    return pearson(a, b, -1.0, outliers, outliers_b), pearson(a, b, 1.0, outliers, outliers_b)


def latent_for(a: Marginal, b: Marginal, r: float, outliers: float = 0.0,
               outliers_b: float | None = None) -> float | None:
    """The latent correlation giving output Pearson r, or None when no latent value reaches it."""
    low, high = pearson_range(a, b, outliers, outliers_b)
    if not (low - 1e-9 <= r <= high + 1e-9):
        return None
    if r >= high:
        return 1.0
    if r <= low:
        return -1.0
    from scipy.optimize import brentq  # here: scipy.optimize costs 0.1 s of every start-up

    return float(brentq(lambda rho: pearson(a, b, rho, outliers, outliers_b) - r, -1.0, 1.0, xtol=1e-5))
