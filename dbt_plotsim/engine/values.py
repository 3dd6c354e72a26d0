"""From a metric's latent cells to its values: jitter, the (seasonal) marginal of each period, outliers.

Seasonality scales the family itself in each period (its scale parameter times the period's multiplier,
still truncated to the range), so every value stays in range and each period keeps the declared family;
the pooled relations are calibrated with it in place (pilot.py).
"""
from __future__ import annotations

import numpy as np

from .rng import ENTITY_BLOCK, stream
from .seasonality import calendar_buckets, seasonal_factor


def period_marginals(plan, m: int, segment: str) -> list[tuple[np.ndarray, object]]:
    """[(period columns, marginal)]: one marginal per calendar period (month, or month and weekday) of a
    seasonal metric, its family scaled by that period's multiplier for the segment."""
    marginal = plan.marginals[m]
    factors = seasonal_factor(plan, segment, plan.metric_names[m])
    if factors is None:
        return [(slice(None), marginal)]
    buckets = calendar_buckets(plan)
    groups = []
    for bucket in np.unique(buckets):
        columns = np.nonzero(buckets == bucket)[0]
        for factor in np.unique(factors[columns]):
            chosen = columns[factors[columns] == factor]
            groups.append((chosen, plan.scaled_marginal(m, float(factor), int(bucket))))
    return groups


def noise_of(plan, m: int):
    return plan.spec.noise_of(plan.spec.metrics[m])


def spread_scale(noise, positions: np.ndarray) -> np.ndarray | float:
    """Jitter spread per cell relative to its size: 1 + h (2 position - 1) (never below 0 for h <= 1)."""
    if noise.heteroscedastic == 0:
        return 1.0
    return 1.0 + noise.heteroscedastic * (2.0 * positions - 1.0)


def jitter_variance(noise, position_knots: np.ndarray) -> float:
    """Pooled variance of latent + jitter (before rescaling), with positions distributed as the knots."""
    mean_square = float(np.mean(spread_scale(noise, position_knots) ** 2)) if noise.heteroscedastic else 1.0
    return 1.0 + noise.gaussian**2 * mean_square


def _standard_draws(noise, rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Unit-variance draws of the jitter family."""
    if noise.family == "student_t":
        return rng.standard_t(noise.df, shape) * np.sqrt((noise.df - 2.0) / noise.df)
    if noise.family == "laplace":
        return rng.laplace(0.0, np.sqrt(0.5), shape)
    return rng.standard_normal(shape)


def jittered(plan, m: int, segment: str, block: int, n: int, z: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The window latent with the metric's jitter added, rescaled to unit pooled variance."""
    noise = noise_of(plan, m)
    if noise.gaussian <= 0:
        return z
    name = plan.metric_names[m]
    rng = stream(plan.spec.seed, "jitter", name, segment, block)
    draws = _standard_draws(noise, rng, (ENTITY_BLOCK, z.shape[1]))[:n]
    spread = noise.gaussian * spread_scale(noise, positions)
    return (z + spread * draws) / np.sqrt(jitter_variance(noise, plan.scale.knots))


def metric_values(plan, m: int, segment: str, block: int, n: int, z: np.ndarray) -> np.ndarray:
    """(n, P) values of metric m for a block, from its jittered window latent z."""
    spec = plan.spec
    name = plan.metric_names[m]
    periods = z.shape[1]
    seed = spec.seed
    groups = period_marginals(plan, m, segment)
    x = np.empty(z.shape)
    for columns, marginal in groups:
        x[:, columns] = marginal.values_z(z[:, columns])
    outliers = noise_of(plan, m).outliers
    if outliers > 0:
        draws = stream(seed, "outliers", name, segment, block).random((2, ENTITY_BLOCK, periods))[:, :n]
        hit = draws[0] < outliers
        for columns, marginal in groups:
            cells = np.zeros(hit.shape, dtype=bool)
            cells[:, columns] = hit[:, columns]
            if cells.any():
                x[cells] = marginal.values(marginal.outlier_u(draws[1][cells]))
    return x

