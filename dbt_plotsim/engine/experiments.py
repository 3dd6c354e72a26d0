"""A/B experiments: who is treated and the lift on their values (experiment_tables.py records both).

Assignment is a hashed uniform of each entity's id from the stream (seed, "experiment", name): it depends on
nothing but the entity, so adding an experiment changes no other value. The lift is applied to a block's
metric values from the experiment's start period on, before the events are found (a treated entity's events
follow its lifted values) and independently of the null cells (a null stays null). A lifted value past the
metric's bounds is set to the bound (recorded in the truth table's delivered lift, which is measured).
"""
from __future__ import annotations

import numpy as np

from .hashing import hashed_uniform
from ..spec.experiments import period_of

NONNEGATIVE = {"lognormal", "gamma", "weibull", "poisson", "negative_binomial", "beta"}


def start_period(plan, experiment) -> int:
    return period_of(plan.spec.window, experiment.start)


def treated(plan, experiment, ids: np.ndarray) -> np.ndarray:
    """Which of these entities the experiment treats, were they taking part (their segment's decision)."""
    return hashed_uniform(plan.spec.seed, ("experiment", experiment.name), ids) < experiment.share


def bounds(plan, m: int) -> tuple[float, float]:
    """The values metric m may take: its range; a score's [0, 1]; 0 up for non-negative families."""
    marginal = plan.marginals[m]
    if marginal.low is not None:
        return marginal.low, marginal.high
    if plan.spec.metrics[m].type == "score":
        return 0.0, 1.0
    return (0.0 if marginal.family in NONNEGATIVE else -np.inf), np.inf


def lifted(plan, segment: str, ids: np.ndarray, values: list[np.ndarray]) -> list[np.ndarray]:
    """A block's (n, P) metric values with every experiment's lift on its treated entities' cells from the
    start period on: rounded as the metric is (counts to integers, amounts to cents), kept within bounds."""
    experiments = plan.spec.experiments
    if not experiments:
        return values
    out = list(values)
    for experiment in experiments:
        if experiment.segments is not None and segment not in experiment.segments:
            continue
        rows = np.nonzero(treated(plan, experiment, ids))[0]
        if rows.size == 0:
            continue
        m = plan.metric_names.index(experiment.metric)
        start = start_period(plan, experiment)
        cells = out[m][rows, start:]
        cells = cells * (1.0 + experiment.lift) if experiment.lift_kind == "relative" else cells + experiment.lift
        marginal = plan.marginals[m]
        if marginal.integer:
            cells = np.floor(cells + 0.5)
        elif marginal.decimals is not None:
            cells = np.round(cells, marginal.decimals)
        out[m] = out[m].copy()
        out[m][rows, start:] = np.clip(cells, *bounds(plan, m))
    return out
