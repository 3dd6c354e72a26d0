"""Declared totals as the pilot sees them: each period's factor (offset) estimated on the pilot's cells, so
the correlations are calibrated on the values the output will hold.

A factor per period keeps the correlations within each period, but it moves the periods against each other,
and a pooled r also reads the covariance between periods (trajectories, seasonality): a total that grows
faster or slower than the metric would loosen or tighten the pooled r. The pilot therefore measures r on
its values with the totals applied; the latent targets are then corrected against that r. The factors here
are estimates from the sample (the pilot's weights sum to one entity, so a period's population sum is the
entity count times its weighted sum); the solver (totals.py) fits the exact ones on the real rows.
"""
from __future__ import annotations

import numpy as np

from .exact_cents import SCALE, adjusted
from .totals_cells import cents_of

SEARCH_STEPS = 60  # bisection steps on the factor (offset) of periods whose values reach a bound


def with_totals(plan, values: list[np.ndarray], periods: np.ndarray, weights: np.ndarray
                ) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """The pilot's values with each declared metric total applied per period, and the estimated factor
    (offset, in cents) per period of each such metric (by metric index)."""
    from .totals import targets

    found = [t for t in targets(plan) if t.metric is not None]
    if not found:
        return values, {}
    entities = float(sum(s.count for s in plan.segments))
    out, factors = list(values), {}
    for t in found:
        x = values[t.metric]
        ok = ~np.isnan(x)
        cents, p, w = cents_of(x[ok], t.amount), periods[ok], weights[ok]
        goal = t.cents / max(entities, 1e-300)  # per pilot entity
        theta = _theta(cents, p, w, goal, t, plan.periods)
        y = x.copy()
        y[ok] = adjusted(cents, theta[p], t.mode, t.low, t.high) / 100.0
        out[t.metric], factors[t.metric] = y, theta
    return out, factors


def _theta(cents: np.ndarray, p: np.ndarray, w: np.ndarray, goal: np.ndarray, t, periods: int) -> np.ndarray:
    count = np.bincount(p, weights=w, minlength=periods)
    total = np.bincount(p, weights=w * cents, minlength=periods)
    live = count > 0
    with np.errstate(invalid="ignore"):  # a total out of reach is held at its nearest, as the solver would
        goal = np.clip(goal, np.where(live, count * t.low, -np.inf), np.where(live, count * t.high, np.inf))
    if t.mode == SCALE:
        theta = np.where(live & (total > 0), goal / np.where(total > 0, total, 1.0), 1.0)
    else:
        theta = np.where(live, (goal - total) / np.where(live, count, 1.0), 0.0)
    if np.isinf(t.low) and np.isinf(t.high):
        return theta

    def reached(trial: np.ndarray) -> np.ndarray:
        return np.bincount(p, weights=w * adjusted(cents, trial[p], t.mode, t.low, t.high), minlength=periods)

    if np.allclose(reached(theta), goal, rtol=1e-9, atol=1e-6):
        return theta
    if t.mode == SCALE:  # the clipped sum rises with the factor: bisect on its logarithm
        lo, hi = np.log(np.maximum(theta, 1e-12)) - 12.0, np.log(np.maximum(theta, 1e-12)) + 12.0
        to_theta = np.exp
    else:
        spread = float(cents.max() - cents.min()) if cents.size else 0.0
        reach = spread + np.abs(theta) + 1.0 + np.where(np.isfinite(t.high - t.low), t.high - t.low, 0.0)
        lo, hi = theta - reach, theta + reach
        to_theta = lambda v: v  # noqa: E731
    for _ in range(SEARCH_STEPS):
        mid = (lo + hi) / 2
        below = reached(to_theta(mid)) < goal
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.where(live, to_theta((lo + hi) / 2), theta)
