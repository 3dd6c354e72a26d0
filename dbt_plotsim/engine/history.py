"""SCD2 history (`dim_<unit>_<attribute>_history`, a component).

Ranges are half-open, [valid_from, valid_to): the valid_to of a row is the valid_from of the next one, and
the current row has valid_to null (as dbt snapshots write them). An entity ended by a terminal event has its
last version closed on the first day of the period after its end, so it has no current row; one that ends
in the window's last period stays current until the next period happens.

A version's key is `<unit>_id * 10^d + the period index it began` (d digits hold every period index), so
it depends on nothing but the entity and the period: the facts and events carry the key of the version valid
in their period, and the key stays the same whatever the chunking, the parts or the as-of clock.
"""
from __future__ import annotations

import weakref

import numpy as np
import pyarrow as pa

from .clock import TableClock, current_rows
from .components import Component
from .events import condition_values
from .rng import ENTITY_BLOCK, stream
from .states import TABLE_LEVEL, describe_when, field, labelled, may_change, merge, sentence
from ..spec.schema import event_tables


def _quantile(plan, follows: str, values: np.ndarray) -> np.ndarray:
    """Share of the pooled distribution below each value: of positions, or of the metric's marginal."""
    if follows == "trajectory":
        return np.interp(values, plan.scale.knots, plan.scale.levels)
    marginal = plan.marginals[plan.metric_names.index(follows)]
    lo, hi = marginal.u_bounds
    below = marginal.dist.cdf(values)
    if marginal.discrete:  # mid-rank of the atom
        below = 0.5 * (below + marginal.dist.cdf(values - 1))
    return np.clip((below - lo) / max(hi - lo, 1e-300), 0.0, 1.0)


def initial_levels(plan, item, block) -> np.ndarray:
    """(n,) index into `item.values` at each entity's arrival."""
    n = len(block.ids)
    count = len(item.values)
    initial = item.initial
    if initial.value is not None:
        return np.full(n, item.values.index(initial.value), dtype=np.int64)
    if initial.weights is not None:
        index, offset = divmod(int(block.ids[0] - block.segment.first_id), ENTITY_BLOCK)  # offset: a part's start
        u = stream(plan.spec.seed, "history", item.attribute, block.segment.name, index).random(ENTITY_BLOCK)
        cum = np.cumsum(initial.weights)
        return np.minimum(np.searchsorted(cum / cum[-1], u[offset : offset + n], side="right"), count - 1)
    rows = np.arange(n)
    if initial.follows == "trajectory":
        at_arrival = block.positions[rows, block.arrival]
    else:
        at_arrival = block.values[plan.metric_names.index(initial.follows)][rows, block.arrival]
    u = _quantile(plan, initial.follows, at_arrival)
    return np.minimum((u * count).astype(np.int64), count - 1)


def history_levels(plan, item, cells, initial: np.ndarray) -> np.ndarray:
    """(n, P) index into `item.values` per period, from the `initial` level at arrival: one step up (down)
    each time the up (down) condition has held for its `for` periods; both counts start over after a
    change; both at once change nothing."""
    n, periods = cells.active.shape
    top = len(item.values) - 1
    values = dict(zip(plan.metric_names, cells.values))
    never = np.zeros((periods, n), dtype=bool)
    # period-major copies: the loop reads one period of every entity at a time
    up = (condition_values(item.up_when, cells.positions, values) & cells.active).T.copy() if item.up_when else never
    down = (condition_values(item.down_when, cells.positions, values) & cells.active).T.copy() \
        if item.down_when else never
    may = may_change(cells)
    need_up = item.up_when.periods if item.up_when else 1
    need_down = item.down_when.periods if item.down_when else 1
    level = initial.astype(np.int64)
    up_run = np.zeros(n, dtype=np.int64)
    down_run = np.zeros(n, dtype=np.int64)
    out = np.empty((periods, n), dtype=np.int64)
    for t in range(periods):
        up_run = (up_run + 1) * up[t]
        down_run = (down_run + 1) * down[t]
        go_up = may[t] & (up_run >= need_up) & (level < top)
        go_down = may[t] & (down_run >= need_down) & (level > 0)
        moved = go_up ^ go_down
        level += go_up & moved
        level -= go_down & moved
        up_run[moved] = 0
        down_run[moved] = 0
        out[t] = level
    return out.T


def version_starts(levels: np.ndarray, arrival: np.ndarray) -> np.ndarray:
    """(n, P) bool: a version begins in the period (the arrival, and each change of level after it)."""
    n = levels.shape[0]
    change = np.zeros(levels.shape, dtype=bool)
    change[np.arange(n), arrival] = True
    change[:, 1:] |= levels[:, 1:] != levels[:, :-1]
    before = np.arange(levels.shape[1])[None, :] < arrival[:, None]
    return change & ~before


def closing_periods(active: np.ndarray) -> np.ndarray:
    """(n,) the period whose first day closes an ended entity's last version (the one after its last active
    period), or -1 while it is still open: active in the window's last period, or ended in it."""
    periods = active.shape[1]
    last = periods - 1 - np.argmax(active[:, ::-1], axis=1)
    return np.where(active[:, -1] | (last + 1 >= periods), -1, last + 1)


def history_rows(levels: np.ndarray, arrival: np.ndarray, closes: np.ndarray | None = None):
    """Versions as (entity row, first period, level, period that ends it or -1 when open), entity-ordered;
    `closes` (n,) ends an entity's last version (closing_periods)."""
    entity, period = np.nonzero(version_starts(levels, arrival))
    last = np.r_[entity[1:] != entity[:-1], True]
    final = closes[entity] if closes is not None else np.full(len(entity), -1)
    following = np.where(last, final, np.r_[period[1:], 0])
    return entity, period, levels[entity, period], following


def key_scale(periods: int) -> int:
    """10^d with d the digits of the last period index: version key = entity id * scale + first period."""
    return 10 ** len(str(max(periods - 1, 0)))


def version_keys(ids: np.ndarray, levels: np.ndarray, arrival: np.ndarray) -> np.ndarray:
    """(n, P) the key of the version valid in each period (meaningful from the arrival on)."""
    periods = levels.shape[1]
    began = np.where(version_starts(levels, arrival), np.arange(periods)[None, :], -1)
    return ids[:, None] * key_scale(periods) + np.maximum.accumulate(began, axis=1)


def _conditions(history) -> list:
    return [c for h in history for c in (h.up_when, h.down_when)]


_last: list = []  # (weak refs to the blocks, levels per attribute): three contracts read one chunk's levels


def _levels(plan, blocks, cells) -> dict[str, np.ndarray]:
    if _last and len(_last[0]) == len(blocks) and all(ref() is b for ref, b in zip(_last[0], blocks)):
        return _last[1]
    out = {h.attribute: history_levels(plan, h, cells, np.concatenate([initial_levels(plan, h, b) for b in blocks]))
           for h in plan.spec.history}
    _last[:] = [[weakref.ref(b) for b in blocks], out]
    return out


def key_column(item) -> str:
    return f"{item.attribute}_history_id"


def carriers(plan) -> list[str]:
    """Tables whose rows carry the key of the version valid in their period: the facts and the unit's events."""
    return [fact.name for fact in plan.facts] + [table for table, _, _ in event_tables(plan.spec)]


class HistoryComponent(Component):
    def active(self, plan) -> bool:
        return bool(plan.spec.history)

    def clock(self, plan) -> dict:
        unit = plan.spec.unit
        out = {h.table(unit): TableClock(period="valid_from", versions=True) for h in plan.spec.history}
        out.update({h.current(unit): TableClock(current_of=h.table(unit)) for h in plan.spec.history if h.current_table})
        out[f"dim_{unit}"] = TableClock(current={h.attribute: (h.table(unit), h.attribute) for h in plan.spec.history})
        return out

    def unit_fields(self, plan) -> list[pa.Field]:
        unit = plan.spec.unit
        return [field(h.attribute, pa.string(), f"Current {h.attribute} of the {unit}: the is_current row of "
                      f"{h.table(unit)}, or the last one's once the {unit} has ended.", nullable=False)
                for h in plan.spec.history]

    def period_fields(self, plan) -> list[pa.Field]:
        unit = plan.spec.unit
        return [field(key_column(h), pa.int64(), f"Foreign key to {h.table(unit)}: the version of the {unit}'s "
                      f"{h.attribute} valid in this period.", nullable=False) for h in plan.spec.history]

    def period_columns(self, plan, blocks) -> dict[str, np.ndarray]:
        cells = merge(plan, blocks, _conditions(plan.spec.history))
        levels = _levels(plan, blocks, cells)
        return {key_column(h): version_keys(cells.ids, levels[h.attribute], cells.arrival) for h in plan.spec.history}

    def schemas(self, plan) -> dict[str, pa.Schema]:
        spec = plan.spec
        unit, grain = spec.unit, spec.window.grain
        out = {}
        scale = key_scale(plan.periods)
        for h in spec.history:
            rules = []
            if h.up_when:
                rules.append(f"one step up when {describe_when(h.up_when, grain)}")
            if h.down_when:
                rules.append(f"one step down when {describe_when(h.down_when, grain)}")
            order = " < ".join(h.values)
            initial = h.initial
            begins = (f"as {initial.value}" if initial.value is not None else
                      f"drawn with weights {list(initial.weights)}" if initial.weights is not None else
                      f"from the quantile of its {initial.follows} at arrival")
            closing = (f" When the {unit} ends, its last version closes at the start of the next {grain}."
                       if spec.terminal_event is not None else "")
            description = h.description or (
                f"SCD type 2 history of each {unit}'s {h.attribute} ({order}): one row per version, valid from "
                f"valid_from (inclusive) to valid_to (exclusive, null on the current row). It starts {begins}. "
                f"{sentence('; '.join(rules))}; changes only while the {unit} is active.{closing}")
            out[h.table(unit)] = pa.schema([
                field(key_column(h), pa.int64(), f"Surrogate key of the version: {unit}_id x {scale} + the period "
                      "index it began (the facts and events carry it).", nullable=False),
                field(f"{unit}_id", pa.int64(), f"Foreign key to dim_{unit}.", nullable=False),
                field(h.attribute, pa.string(), f"The {h.attribute} in this version; one of {list(h.values)}.",
                      nullable=False),
                field("valid_from", pa.date32(), f"First day of the version (start of the {grain} it began).",
                      nullable=False),
                field("valid_to", pa.date32(), "First day of the next version, or of the period after the "
                      f"{unit} ended (exclusive end); null on the current row."),
                field("is_current", pa.bool_(), f"True on the latest version of a {unit} that has not ended "
                      f"(one per such {unit}).", nullable=False),
            ], metadata={"description": description})
            if h.current_table:
                out[h.current(unit)] = pa.schema([
                    field(f"{unit}_id", pa.int64(), f"Primary key: the {unit} (foreign key to dim_{unit}).",
                          nullable=False),
                    field(h.attribute, pa.string(), f"Its {h.attribute} now; one of {list(h.values)}.", nullable=False),
                    field("updated_at", pa.timestamp("s"), f"When this {h.attribute} took effect (the valid_from of "
                          f"its version in {h.table(unit)}).", nullable=False),
                ], metadata={"description": (
                    f"The current {h.attribute} of each {unit} as a source system shows it at window.as_of: one "
                    f"row per {unit} that has arrived and not ended, changing from one load to the next. A dbt "
                    f"snapshot over it (strategy timestamp on updated_at, hard_deletes invalidate) run after each "
                    f"load rebuilds {h.table(unit)}.")})
        return out

    def unit_columns(self, plan, blocks) -> dict[str, pa.Array]:
        cells = merge(plan, blocks, _conditions(plan.spec.history))
        levels = _levels(plan, blocks, cells)
        return {h.attribute: labelled(levels[h.attribute][:, -1], h.values) for h in plan.spec.history}

    def chunk_tables(self, plan, blocks, schemas, counters) -> dict[str, pa.Table]:
        unit = plan.spec.unit
        cells = merge(plan, blocks, _conditions(plan.spec.history))
        levels = _levels(plan, blocks, cells)
        closes = closing_periods(cells.active) if plan.spec.terminal_event is not None else None
        scale = key_scale(plan.periods)
        out = {}
        for h in plan.spec.history:
            name = h.table(unit)
            entity, period, level, following = history_rows(levels[h.attribute], cells.arrival, closes)
            ids = cells.ids[entity]
            current = following < 0
            out[name] = pa.Table.from_pydict({
                key_column(h): ids * scale + period,
                f"{unit}_id": ids,
                h.attribute: labelled(level, h.values),
                "valid_from": plan.starts[period],
                "valid_to": pa.array(plan.starts[np.maximum(following, 0)], type=pa.date32(), mask=current),
                "is_current": current,
            }, schema=schemas[name])
            if h.current_table:
                out[h.current(unit)] = current_rows(out[name], schemas[h.current(unit)])
        return out

    def row_estimate(self, plan, cells):
        # one row per entity plus its changes; changes need a sustained condition, about one in two entities
        unit = plan.spec.unit
        out = {item.table(unit): 1.5 * plan.entity_count for item in plan.spec.history}
        out.update({item.current(unit): plan.entity_count for item in plan.spec.history if item.current_table})
        return out

    def tests(self, plan, ref) -> dict:
        unit = plan.spec.unit
        key, dim = f"{unit}_id", f"dim_{unit}"
        out: dict = {}
        for h in plan.spec.history:
            out[h.table(unit)] = {
                key_column(h): [("unique", None), ("not_null", None)],
                key: [("not_null", None), ("relationships", {"to": ref(dim), "field": key})],
                h.attribute: [("not_null", None), ("accepted_values", {"values": list(h.values)})],
                "valid_from": [("not_null", None)],
                "is_current": [("not_null", None)],
                TABLE_LEVEL: [("dbt_plotsim.scd2_no_overlap", {"entity": key, "valid_from": "valid_from",
                                                               "valid_to": "valid_to", "is_current": "is_current"})],
            }
            if h.current_table:
                out[h.current(unit)] = {
                    key: [("unique", None), ("not_null", None), ("relationships", {"to": ref(dim), "field": key})],
                    h.attribute: [("not_null", None), ("accepted_values", {"values": list(h.values)})],
                    "updated_at": [("not_null", None)],
                }
            for table in carriers(plan):
                out.setdefault(table, {})[key_column(h)] = [
                    ("not_null", None), ("relationships", {"to": ref(h.table(unit)), "field": key_column(h)})]
        return out
