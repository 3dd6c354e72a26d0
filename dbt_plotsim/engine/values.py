"""From a metric's latent cells to its values: jitter, the (seasonal) marginal of each period, outliers.

Seasonality scales the family itself in each period (its scale parameter times the period's multiplier,
still truncated to the range), so every value stays in range and each period keeps the declared family;
the pooled relations are calibrated with it in place (pilot.py).
"""
from __future__ import annotations

import numpy as np

from .rng import ENTITY_BLOCK, stream
from .seasonality import seasonal_factor


def period_marginals(plan, m: int, segment: str) -> list[tuple[np.ndarray, object]]:
    """[(period columns, marginal)]: one marginal per distinct seasonal multiplier of the segment."""
    marginal = plan.marginals[m]
    factors = seasonal_factor(plan, segment, plan.metric_names[m])
    if factors is None:
        return [(slice(None), marginal)]
    groups = []
    for factor in np.unique(factors):
        groups.append((np.nonzero(factors == factor)[0], plan.scaled_marginal(m, float(factor))))
    return groups


def jittered(plan, m: int, segment: str, block: int, n: int, z: np.ndarray) -> np.ndarray:
    """The window latent with the spec's jitter added (still unit variance)."""
    jitter = plan.spec.noise.gaussian
    if jitter <= 0:
        return z
    name = plan.metric_names[m]
    draws = stream(plan.spec.seed, "jitter", name, segment, block).standard_normal((ENTITY_BLOCK, z.shape[1]))[:n]
    return (z + jitter * draws) / np.sqrt(1 + jitter**2)


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
    if spec.noise.outliers > 0:
        draws = stream(seed, "outliers", name, segment, block).random((2, ENTITY_BLOCK, periods))[:, :n]
        hit = draws[0] < spec.noise.outliers
        for columns, marginal in groups:
            cells = np.zeros(hit.shape, dtype=bool)
            cells[:, columns] = hit[:, columns]
            if cells.any():
                x[cells] = marginal.values(marginal.outlier_u(draws[1][cells]))
    return x


def missing_cells(plan, m: int, segment: str, block: int, n: int, periods: int) -> np.ndarray | None:
    rate = plan.spec.noise.missing
    if rate <= 0:
        return None
    name = plan.metric_names[m]
    return stream(plan.spec.seed, "missing", name, segment, block).random((ENTITY_BLOCK, periods))[:n] < rate
