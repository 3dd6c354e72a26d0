"""Events: rate-driven counts per period, and threshold-triggered firings (one may end the entity's life)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fanout import SECONDS_PER_DAY, timed_cells
from .rng import ENTITY_BLOCK


def first_sustained(condition: np.ndarray, periods: int) -> np.ndarray:
    """Per row, the first period at which `condition` has held for `periods` consecutive periods, else -1."""
    held = condition.astype(np.int64)
    total = np.cumsum(held, axis=1)
    last_reset = np.maximum.accumulate(np.where(condition, 0, total), axis=1)
    run = total - last_reset
    reached = run >= periods
    first = reached.argmax(axis=1)
    return np.where(reached.any(axis=1), first, -1)


def condition_values(when, positions: np.ndarray, values: dict[str, np.ndarray]) -> np.ndarray:
    series = positions if when.metric == "trajectory" else values[when.metric]
    return series < when.below if when.below is not None else series > when.above


@dataclass(frozen=True)
class EventRows:
    """Rows of one event table for one block (ids are assigned later, in output order)."""

    entity: np.ndarray  # int64 entity ids
    period: np.ndarray  # period index
    seconds: np.ndarray  # seconds after the period start


def fire_rows(ids: np.ndarray, fired: np.ndarray, lengths_days: np.ndarray, rng: np.random.Generator) -> EventRows:
    who = np.nonzero(fired >= 0)[0]
    offsets = rng.random(ENTITY_BLOCK)[: len(ids)][who]
    period = fired[who]
    return EventRows(ids[who], period, (offsets * lengths_days[period] * SECONDS_PER_DAY).astype(np.int64))


def rate_counts(rate: np.ndarray, active: np.ndarray, count_rng: np.random.Generator,
                pad: int = ENTITY_BLOCK) -> np.ndarray:
    """(n, P) Poisson counts per active cell, drawn for `pad` rows (a whole block: an entity's count never
    depends on the entities after it)."""
    padded = np.zeros((max(pad, len(rate)), rate.shape[1]))
    padded[: len(rate)] = np.where(active, rate, 0.0)
    return count_rng.poisson(padded)[: len(rate)]


def rate_rows(ids: np.ndarray, counts: np.ndarray, period_days: np.ndarray,
              time_rng: np.random.Generator) -> EventRows:
    """Rows from (n, P) counts per cell, each event at a uniform moment of its period, in time order."""
    periods = counts.shape[1]
    cell_period = np.tile(np.arange(periods), len(ids))
    cell, seconds = timed_cells(counts.ravel(), cell_period, period_days, time_rng)
    entity_index, period = np.divmod(cell, periods)
    return EventRows(ids[entity_index], period, seconds)
