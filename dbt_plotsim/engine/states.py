"""Entity-period state machines (SCD2 history, lifecycle stages): the cells they read and shared helpers.

Both are driven by the block's ground truth (positions, metric values, events), evaluated over periods and
vectorized over entities. An entity's state changes only in its active periods after the arrival period
(its first row always holds the initial value), and never after a terminal event.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .events import EventRows, condition_values

TABLE_LEVEL = ""  # sync.TABLE_LEVEL_KEY: tests on the table itself rather than on a column


def field(name: str, kind: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, kind, nullable=nullable, metadata={"description": description})


def run_lengths(condition: np.ndarray) -> np.ndarray:
    """(n, P): how many consecutive periods, up to and including each one, `condition` has held."""
    total = np.cumsum(condition.astype(np.int64), axis=1)
    return total - np.maximum.accumulate(np.where(condition, 0, total), axis=1)


def held(when, plan, cells) -> np.ndarray:
    """(n, P) bool: the condition has held for `for` consecutive active periods, up to this one."""
    values = dict(zip(plan.metric_names, cells.values))
    return run_lengths(condition_values(when, cells.positions, values) & cells.active) >= when.periods


def event_cells(cells, event: str) -> np.ndarray:
    """(n, P) bool: the entity had at least one `event` in the period."""
    rows = cells.events[event]
    out = np.zeros(cells.active.shape, dtype=bool)
    out[np.searchsorted(cells.ids, rows.entity), rows.period] = True
    return out


@dataclass(frozen=True)
class Cells:
    """The consecutive blocks of a chunk as one set of entities (ids stay in increasing order)."""

    ids: np.ndarray
    positions: np.ndarray
    values: list[np.ndarray | None]  # per metric; None for metrics no condition reads
    active: np.ndarray
    arrival: np.ndarray
    events: dict[str, EventRows]


def merge(plan, blocks, conditions) -> Cells:
    """Blocks as one Cells, copying only the metrics that `conditions` (Condition or None) read."""
    if len(blocks) == 1:
        b = blocks[0]
        return Cells(b.ids, b.positions, b.values, b.active, b.arrival, b.events)
    read = {c.metric for c in conditions if c is not None}
    values = [np.concatenate([b.values[m] for b in blocks]) if name in read else None
              for m, name in enumerate(plan.metric_names)]
    events = {name: EventRows(*(np.concatenate([getattr(b.events[name], f) for b in blocks])
                                for f in ("entity", "period", "seconds")))
              for name in blocks[0].events}
    return Cells(np.concatenate([b.ids for b in blocks]), np.concatenate([b.positions for b in blocks]), values,
                 np.concatenate([b.active for b in blocks]), np.concatenate([b.arrival for b in blocks]), events)


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_when(when, grain: str) -> str:
    side = f"below {when.below:g}" if when.below is not None else f"above {when.above:g}"
    return f"{when.metric} stayed {side} for {when.periods} {grain}(s)"


def may_change(cells) -> np.ndarray:
    """(P, n): active and after the arrival period, where a state may change."""
    later = np.arange(cells.active.shape[1])[None, :] > cells.arrival[:, None]
    return (cells.active & later).T.copy()


def labelled(index: np.ndarray, labels) -> pa.Array:
    """Strings from indexes into `labels`, built in Arrow (a dictionary decoded) rather than per row."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(index, type=pa.int32()), pa.array(list(labels), pa.string()))
    return dictionary.cast(pa.string())
