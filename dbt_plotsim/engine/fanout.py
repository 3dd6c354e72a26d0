"""Rows that fan out of entity-period cells: rates that follow a series, timestamps inside periods,
sequential ids, exact money. Shared by events, sub-entities and transactions."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.special import ndtri

from .marginals import Marginal
from .rng import ENTITY_BLOCK, stream
from .seasonality import seasonal_factor

SECONDS_PER_DAY = 86_400
MONEY = pa.decimal128(18, 2)


def pooled_mean(plan, name: str) -> float:
    """Pooled mean of the trajectory position or of a metric: what a rate's `mean` is relative to."""
    if name == "trajectory":
        return float(plan.scale.knots.mean())
    return plan.marginals[plan.metric_names.index(name)].declared_mean


def followed_level(plan, name: str, segment: str) -> np.ndarray | float:
    """What a followed series is relative to in each period: its pooled mean, times the ratio its own
    seasonality gives that period (so a rate follows the entity's level, and gets the calendar once, from
    its own multipliers)."""
    base = pooled_mean(plan, name)
    if name == "trajectory":
        return base
    m = plan.metric_names.index(name)
    factors = seasonal_factor(plan, segment, name)
    if factors is None:
        return base
    means = {f: plan.scaled_marginal(m, float(f)).mean for f in np.unique(factors)}
    return np.array([means[f] for f in factors]) * (base / plan.marginals[m].mean)


def rate_for(plan, rate, series: np.ndarray, segment: str, target: str) -> np.ndarray:
    """(n, P) expected rows per cell: `rate.mean` scaled by the followed series over its level, times
    the seasonal multipliers of `target` (an event, child event or transaction) in `segment`."""
    level = np.maximum(followed_level(plan, rate.follows, segment), 1e-12)
    out = rate.mean * np.maximum(series, 0.0) / level
    season = seasonal_factor(plan, segment, target)
    return out if season is None else out * season[None, :]


def cell_rates(plan, block, rate, target: str) -> np.ndarray:
    series = block.positions if rate.follows == "trajectory" else block.values[plan.metric_names.index(rate.follows)]
    return rate_for(plan, rate, series, block.segment.name, target)


def followed_score(plan, block, name: str) -> np.ndarray:
    """(n, P) standard-normal score of the followed series: the pooled quantile of each cell's value."""
    if name == "trajectory":
        return plan.scale.score(block.positions)
    m = plan.metric_names.index(name)
    return value_score(plan.marginals[m], block.values[m])


def value_score(marginal: Marginal, x: np.ndarray) -> np.ndarray:
    """Phi^-1 of the truncated CDF at x (mid-probability for whole numbers), clipped away from 0 and 1."""
    dist = marginal.dist
    if marginal.discrete:
        u = 0.5 * (dist.cdf(x - 1) + dist.cdf(x))
    elif marginal.integer:
        u = 0.5 * (dist.cdf(x - 0.5) + dist.cdf(x + 0.5))
    else:
        u = dist.cdf(x)
    lo, hi = marginal.u_bounds
    return ndtri(np.clip((u - lo) / max(hi - lo, 1e-300), 1e-9, 1 - 1e-9))


def timed_cells(counts: np.ndarray, periods: np.ndarray, period_days: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows from per-cell counts: (cell index, seconds after the period start), by cell then time.
    `periods` is each cell's period."""
    cell = np.repeat(np.arange(counts.size), counts)
    seconds = (rng.random(cell.size) * period_days[periods[cell]] * SECONDS_PER_DAY).astype(np.int64)
    # one int64 key per row; cells are already in order, so a stable sort (timsort on sorted runs) is
    # ~10x faster than lexsort
    span = int(period_days.max()) * SECONDS_PER_DAY
    key = np.sort(cell * span + seconds, kind="stable")
    return np.divmod(key, span)


def block_stream(plan, block, *names: str) -> np.random.Generator:
    """stream(seed, *names, segment, block index): one named stream per purpose and entity block, and per
    part (named by its first entity's offset) when the block's fan-out was split (parts.py)."""
    index = int(block.ids[0] - block.segment.first_id) // ENTITY_BLOCK if len(block.ids) else 0
    part = () if getattr(block, "part", None) is None else ("part", block.part)
    return stream(plan.spec.seed, *names, block.segment.name, index, *part)


def moments(plan, period: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    return plan.starts[period].astype("datetime64[s]") + seconds.astype("timedelta64[s]")


def field(name: str, kind: pa.DataType, description: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, kind, nullable=nullable, metadata={"description": description})


def next_ids(counters: dict[str, int], table: str, count: int) -> np.ndarray:
    first = counters.get(table, 0)
    counters[table] = first + count
    return np.arange(first + 1, first + count + 1, dtype=np.int64)


def money(cents: np.ndarray) -> pa.Array:
    """Exact decimal(18, 2) from whole cents."""
    return pa.array(cents.astype(np.int64)).cast(pa.decimal128(19, 0)).cast(pa.decimal128(18, 0)).view(MONEY)


def uses_lifetime(plan) -> dict[str, str]:
    """within_lifetime arguments for the parent's bounds, or {} when every entity lives the whole window."""
    from .tables import uses_arrivals

    out = {}
    if uses_arrivals(plan):
        out["first_column"] = "first_date_key"
    if plan.spec.terminal_event is not None:
        out["ended_column"] = "ended_date_key"
    return out
