"""The first period whose clock shows each row of a growing table (clock.growing), from the table's rule.

For these tables the clock standing at period k shows exactly the rows with first period <= k, and an append
after period s adds those with s < first <= k (clock.Clock._table applies the same rules to the rows): the
period column's period, the load its `_loaded_at` names (late rows show later), its parent row's first period
(lines of a transaction). Rows a clock never shows (a parent that is never shown) get `periods`. The kept
story (story.py) groups rows by it, so a load reads only the rows it adds.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .calendar import date_keys, load_times
from .clock import TableClock, growing, ordered


def first_shown(plan, rules: dict[str, TableClock], chunk: dict[str, pa.Table]) -> dict[str, np.ndarray]:
    """{growing table of the chunk: (rows,) int64 first period that shows each row}."""
    keys = date_keys(plan.starts)
    loads = load_times(plan.starts, plan.spec.window.grain)
    periods = plan.periods
    grows = growing(rules)
    out: dict[str, np.ndarray] = {}
    for name in ordered(rules, chunk):
        if name not in grows:
            continue
        rule, table = rules[name], chunk[name]
        first = np.zeros(table.num_rows, dtype=np.int64)
        if rule.period is not None:
            column = table[rule.period]
            if pa.types.is_date(column.type):
                values = column.to_numpy().astype("datetime64[D]")
                first = np.searchsorted(plan.starts.astype("datetime64[D]"), values, side="right") - 1
            else:
                first = np.searchsorted(keys, column.to_numpy(), side="right") - 1
        if rule.loaded is not None:
            landed = table[rule.loaded].to_numpy().astype("datetime64[s]")
            first = np.maximum(first, np.searchsorted(loads, landed, side="left"))
        if rule.parent is not None and rule.parent[0] in out:
            parent, column = rule.parent
            first = np.maximum(first, _parents(chunk[parent][column].to_numpy(), out[parent],
                                               table[column].to_numpy(), periods))
        out[name] = np.minimum(first.astype(np.int64), periods)
    return out


def _parents(parent_keys: np.ndarray, parent_first: np.ndarray, wanted: np.ndarray, periods: int) -> np.ndarray:
    """Each wanted key's parent first period; `periods` where the key has no parent row."""
    if not len(parent_keys):
        return np.full(len(wanted), periods, dtype=np.int64)
    order = np.argsort(parent_keys, kind="stable")
    where = np.minimum(np.searchsorted(parent_keys[order], wanted), len(order) - 1)
    found = parent_keys[order][where] == wanted
    return np.where(found, parent_first[order][where], periods)
