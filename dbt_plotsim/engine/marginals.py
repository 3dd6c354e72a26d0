"""Marginal distributions: each metric's family with its parameters, truncated to the declared range.

Values come from the inverse CDF of a uniform, restricted to [F(min), F(max)]: a range truncates the
distribution instead of clamping values, so nothing piles up on the bounds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from scipy.special import ndtr, ndtri

DISCRETE = ("poisson", "negative_binomial")  # families on whole numbers, drawn by exact CDF thresholds
RIGHT_SKEWED = ("lognormal", "gamma", "weibull", *DISCRETE)
COUNT_DISPERSION = 0.25  # default negative-binomial dispersion: entities' rates spread with a CV of 0.5
MAX_THRESHOLDS = 1 << 16  # wider count supports are read from a tabulated inverse CDF instead
OUTLIER_TAIL = 0.01  # outliers come from the most extreme 1% of the distribution (per tail)
MAX_LOGNORMAL_SIGMA = 0.5  # default spread; wider makes strong correlations with other metrics unreachable
# Latent grid on which continuous inverse CDFs are tabulated (exact ppf at each node, linear in between).
Z_GRID = np.linspace(-9.0, 9.0, 1 << 15)
_Z_STEP = (Z_GRID[-1] - Z_GRID[0]) / (Z_GRID.size - 1)


def grid_interp(z: np.ndarray, table: np.ndarray) -> np.ndarray:
    """np.interp(z, Z_GRID, table) by index arithmetic on the uniform grid (no binary search)."""
    position = (np.clip(z, Z_GRID[0], Z_GRID[-1]) - Z_GRID[0]) * (1.0 / _Z_STEP)
    index = np.minimum(position.astype(np.int64), Z_GRID.size - 2)
    fraction = position - index
    low = table[index]
    return low + fraction * (table[index + 1] - low)


@dataclass(frozen=True, eq=False)  # compared by identity: one per metric per plan
class Marginal:
    family: str
    params: dict[str, float]
    low: float | None
    high: float | None
    integer: bool  # counts: integer values
    decimals: int | None  # amounts: rounded to cents
    factor: float = 1.0  # seasonal multiplier: the family's scale times this, still truncated to the range
    latent: tuple[np.ndarray, np.ndarray] | None = None  # (knots, levels): CDF of the latent on existing cells

    @cached_property
    def dist(self):
        from scipy import stats  # here, not at import: scipy.stats costs 0.5 s of every start-up

        p, f = self.params, self.factor
        if self.family == "normal":
            return stats.norm(loc=p["mean"] * f, scale=p["sd"] * f)
        if self.family == "lognormal":
            return stats.lognorm(s=p["sigma"], scale=p["median"] * f)
        if self.family == "beta":
            low, high = (self.low, self.high) if self.low is not None else (0.0, 1.0)
            return stats.beta(p["a"], p["b"], loc=low * f, scale=(high - low) * f)
        if self.family == "poisson":
            return stats.poisson(p["mean"] * f)
        if self.family == "negative_binomial":
            size = 1.0 / p["dispersion"]
            return stats.nbinom(size, size / (size + p["mean"] * f))
        if self.family == "gamma":
            return stats.gamma(p["shape"], scale=p["scale"] * f)
        if self.family == "weibull":
            return stats.weibull_min(p["shape"], scale=p["scale"] * f)
        raise AssertionError(self.family)

    def __getstate__(self) -> dict:
        """Pickled (the plan cache) without the frozen scipy distribution: rebuilt on first use, so loading a
        cached plan does not import scipy.stats."""
        return {k: v for k, v in self.__dict__.items() if k != "dist"}

    def scaled(self, factor: float) -> "Marginal":
        """The same metric in a period whose seasonal multiplier is `factor` (same latent CDF)."""
        return self if factor == 1.0 else replace(self, factor=self.factor * factor)

    def with_latent(self, knots: np.ndarray, levels: np.ndarray) -> "Marginal":
        """Values from the latent's own CDF on the cells that exist (arrivals, terminal events), so the
        metric's values there follow the declared family exactly."""
        return replace(self, latent=(knots, levels))

    @cached_property
    def plain(self) -> "Marginal":
        return self if self.latent is None else replace(self, latent=None)

    def latent_u(self, z: np.ndarray) -> np.ndarray:
        if self.latent is None:
            return ndtr(z)
        knots, levels = self.latent
        return np.interp(z, knots, levels)

    @property
    def discrete(self) -> bool:
        return self.family in DISCRETE

    @cached_property
    def u_bounds(self) -> tuple[float, float]:
        """The part of the family's CDF that the range keeps."""
        if self.low is None or (self.family == "beta" and self.factor == 1.0):
            return 0.0, 1.0
        dist = self.dist
        if self.discrete:
            return float(dist.cdf(math.ceil(self.low) - 1)), float(dist.cdf(math.floor(self.high)))
        return float(dist.cdf(self.low)), float(dist.cdf(self.high))

    @cached_property
    def _table(self) -> np.ndarray:
        """Continuous families: truncated inverse CDF tabulated at the latent grid Z_GRID (exact ppf calls;
        with a latent CDF, the plain table read at the standard-normal score of that CDF)."""
        if self.latent is not None:
            return grid_interp(ndtri(np.clip(self.latent_u(Z_GRID), 1e-300, 1 - 1e-16)), self.plain._table)
        lo, hi = self.u_bounds
        u = lo + ndtr(Z_GRID) * (hi - lo)
        x = self.dist.ppf(np.clip(u, lo + 1e-300, hi))
        if self.low is not None:
            x = np.clip(x, self.low, self.high)
        return x

    @cached_property
    def _support(self) -> tuple[int, int]:
        """Counts: the first and last whole number the (truncated) family can take."""
        lo, _ = self.u_bounds
        dist = self.dist
        first = int(math.ceil(self.low)) if self.low is not None else 0
        last = int(math.floor(self.high)) if self.low is not None else int(dist.ppf(1 - 1e-16))
        return max(first, int(dist.ppf(max(lo, 1e-300))) if lo > 0 else first), last

    @cached_property
    def _thresholds(self) -> tuple[np.ndarray, int]:
        """Counts: latent value above which the count is k+1, for k from the first admitted count."""
        lo, hi = self.u_bounds
        dist = self.dist
        first, last = self._support
        ks = np.arange(first, last)
        cdf = np.clip((dist.cdf(ks) - lo) / (hi - lo), 0.0, 1.0)
        if self.latent is not None:
            knots, levels = self.latent
            return np.interp(cdf, levels, knots), first
        return ndtri(cdf), first

    @cached_property
    def mean(self) -> float:
        """Mean of the (truncated) distribution, from 4,000 evenly spaced quantiles."""
        return float(self.values((np.arange(4000) + 0.5) / 4000).mean())

    @cached_property
    def declared_mean(self) -> float:
        """Mean without the seasonal multiplier: what a rate following the metric is relative to."""
        return self.mean if self.factor == 1.0 else replace(self.plain, factor=1.0).mean

    def values_z(self, z: np.ndarray) -> np.ndarray:
        """The metric's value for latent standard-normal z: x = F^-1(Phi(z)) within the range."""
        if self.discrete and self._support[1] - self._support[0] <= MAX_THRESHOLDS:
            thresholds, first = self._thresholds
            return (first + np.searchsorted(thresholds, z, side="right")).astype(np.float64)
        x = grid_interp(z, self._table)
        if self.integer:
            return np.floor(x + 0.5)
        if self.decimals is not None:
            return np.round(x, self.decimals)
        return x

    def values(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF of uniforms u in (0, 1), inside the range."""
        return self.plain.values_z(ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)))

    def outlier_u(self, v: np.ndarray) -> np.ndarray:
        """Map uniforms v to the extreme tails: upper tail for right-skewed families, both otherwise."""
        if self.family in RIGHT_SKEWED:
            return 1.0 - OUTLIER_TAIL * v
        lower = v < 0.5
        return np.where(lower, OUTLIER_TAIL * 2 * v, 1.0 - OUTLIER_TAIL * 2 * (v - 0.5))


def resolve(metric) -> Marginal:
    """Family parameters from what the metric declares, with defaults per type and range."""
    family = metric.family
    p = dict(metric.params)
    low, high = metric.range if metric.range is not None else (None, None)
    mean = metric.mean if metric.mean is not None else p.pop("mean", None)
    has_range = low is not None
    if family == "normal":
        params = {
            "mean": mean if mean is not None else ((low + high) / 2 if has_range else 0.0),
            "sd": p.get("sd", (high - low) / 6 if has_range else 1.0),
        }
    elif family == "lognormal":
        if has_range:
            floor = max(low, high / 1000.0)
            sigma = p.get("sigma", min(math.log(high / floor) / 6, MAX_LOGNORMAL_SIGMA))
            median = p.get("median", math.sqrt(floor * high))
        else:
            sigma = p.get("sigma", 0.8)
            median = p.get("median", 100.0)
        if mean is not None and "median" not in p:
            median = mean * math.exp(-sigma**2 / 2)
        params = {"median": median, "sigma": sigma}
    elif family == "beta":
        if "a" in p or "b" in p:
            params = {"a": p.get("a", 2.0), "b": p.get("b", 2.0)}
        elif mean is not None:
            rel = (mean - low) / (high - low) if has_range else mean
            params = {"a": 6.0 * rel, "b": 6.0 * (1 - rel)}
        else:
            params = {"a": 2.5, "b": 2.5}
    elif family in DISCRETE:
        params = {"mean": mean if mean is not None else ((low + high) / 2 if has_range else 5.0)}
        if family == "negative_binomial":
            params["dispersion"] = p.get("dispersion", COUNT_DISPERSION)
    elif family == "gamma":
        shape = p.get("shape", 2.0)
        if "scale" in p:
            scale = p["scale"]
        elif mean is not None:
            scale = mean / shape
        else:
            from scipy.stats import gamma

            scale = (high / gamma.ppf(0.99, shape)) if has_range else 10.0
        params = {"shape": shape, "scale": scale}
    elif family == "weibull":
        shape = p.get("shape", 1.5)
        if "scale" in p:
            scale = p["scale"]
        elif mean is not None:
            scale = mean / math.gamma(1 + 1 / shape)
        else:
            from scipy.stats import weibull_min

            scale = (high / weibull_min.ppf(0.99, shape)) if has_range else 10.0
        params = {"shape": shape, "scale": scale}
    else:
        raise AssertionError(family)
    return Marginal(
        family=family,
        params=params,
        low=low,
        high=high,
        integer=metric.type == "count",
        decimals=2 if metric.type == "amount" else None,
    )


def range_mass(marginal: Marginal) -> float:
    lo, hi = marginal.u_bounds
    return hi - lo
