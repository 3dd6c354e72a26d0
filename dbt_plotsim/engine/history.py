"""SCD2 history and lifecycle stages (components).

Both are state machines driven by the block's ground truth (positions, metric values, events), evaluated
over periods and vectorized over entities. An entity's state changes only in its active periods after the
arrival period (its first row always holds the initial value), and never after a terminal event.

History (`dim_<unit>_<attribute>_history`): ranges are half-open, [valid_from, valid_to): the valid_to of a
row is the valid_from of the next one, and the current row has valid_to null (as dbt snapshots do). An
entity ended by a terminal event keeps its last value as its current row.

Stages (`fct_<unit>_stage`): one row per active entity-period, so a terminal event's stage shows in the
period of the event, the entity's last row. At most one transition per period; event transitions are
tried first, then the others in the order declared.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .calendar import date_keys
from .clock import TableClock
from .components import Component
from .events import EventRows, condition_values
from .rng import ENTITY_BLOCK, stream

TABLE_LEVEL = ""  # sync.TABLE_LEVEL_KEY: tests on the table itself rather than on a column


def _field(name: str, kind: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
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


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _describe_when(when, grain: str) -> str:
    side = f"below {when.below:g}" if when.below is not None else f"above {when.above:g}"
    return f"{when.metric} stayed {side} for {when.periods} {grain}(s)"


# ------------------------------------------------------------------------------------------- SCD2 history

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
        index = int(block.ids[0] - block.segment.first_id) // ENTITY_BLOCK
        u = stream(plan.spec.seed, "history", item.attribute, block.segment.name, index).random(ENTITY_BLOCK)[:n]
        cum = np.cumsum(initial.weights)
        return np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), count - 1)
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
    may = _may_change(cells)
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


def _may_change(cells) -> np.ndarray:
    """(P, n): active and after the arrival period, where a state may change."""
    later = np.arange(cells.active.shape[1])[None, :] > cells.arrival[:, None]
    return (cells.active & later).T.copy()


def history_rows(levels: np.ndarray, arrival: np.ndarray):
    """Versions as (entity row, first period, level, next version's first period or -1), entity-ordered."""
    n = levels.shape[0]
    change = np.zeros(levels.shape, dtype=bool)
    change[np.arange(n), arrival] = True
    change[:, 1:] |= levels[:, 1:] != levels[:, :-1]
    entity, period = np.nonzero(change)
    last = np.r_[entity[1:] != entity[:-1], True]
    following = np.where(last, -1, np.r_[period[1:], 0])
    return entity, period, levels[entity, period], following


def labelled(index: np.ndarray, labels) -> pa.Array:
    """Strings from indexes into `labels`, built in Arrow (a dictionary decoded) rather than per row."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(index, type=pa.int32()), pa.array(list(labels), pa.string()))
    return dictionary.cast(pa.string())


def _conditions(history) -> list:
    return [c for h in history for c in (h.up_when, h.down_when)]


def _levels(plan, item, blocks, cells) -> np.ndarray:
    initial = np.concatenate([initial_levels(plan, item, b) for b in blocks])
    return history_levels(plan, item, cells, initial)


class HistoryComponent(Component):
    def active(self, plan) -> bool:
        return bool(plan.spec.history)

    def clock(self, plan) -> dict:
        unit = plan.spec.unit
        out = {h.table(unit): TableClock(period="valid_from", versions=True) for h in plan.spec.history}
        out[f"dim_{unit}"] = TableClock(current={h.attribute: (h.table(unit), h.attribute) for h in plan.spec.history})
        return out

    def unit_fields(self, plan) -> list[pa.Field]:
        unit = plan.spec.unit
        return [_field(h.attribute, pa.string(), f"Current {h.attribute} of the {unit} (the is_current row of "
                       f"{h.table(unit)}).", nullable=False) for h in plan.spec.history]

    def schemas(self, plan) -> dict[str, pa.Schema]:
        spec = plan.spec
        unit, grain = spec.unit, spec.window.grain
        out = {}
        for h in spec.history:
            rules = []
            if h.up_when:
                rules.append(f"one step up when {_describe_when(h.up_when, grain)}")
            if h.down_when:
                rules.append(f"one step down when {_describe_when(h.down_when, grain)}")
            order = " < ".join(h.values)
            initial = h.initial
            start = (f"as {initial.value}" if initial.value is not None else
                     f"drawn with weights {list(initial.weights)}" if initial.weights is not None else
                     f"from the quantile of its {initial.follows} at arrival")
            description = h.description or (
                f"SCD type 2 history of each {unit}'s {h.attribute} ({order}): one row per version, valid from "
                f"valid_from (inclusive) to valid_to (exclusive, null on the current row). It starts {start}. "
                f"{_sentence('; '.join(rules))}; changes only while the {unit} is active.")
            out[h.table(unit)] = pa.schema([
                _field(f"{h.attribute}_history_id", pa.int64(), "Surrogate key of the version.", nullable=False),
                _field(f"{unit}_id", pa.int64(), f"Foreign key to dim_{unit}.", nullable=False),
                _field(h.attribute, pa.string(), f"The {h.attribute} in this version; one of {list(h.values)}.",
                       nullable=False),
                _field("valid_from", pa.date32(), f"First day of the version (start of the {grain} it began).",
                       nullable=False),
                _field("valid_to", pa.date32(), "First day of the next version (exclusive end); null on the "
                       "current row."),
                _field("is_current", pa.bool_(), f"True on the {unit}'s latest version (exactly one per {unit}).",
                       nullable=False),
            ], metadata={"description": description})
        return out

    def unit_columns(self, plan, blocks) -> dict[str, pa.Array]:
        cells = merge(plan, blocks, _conditions(plan.spec.history))
        return {h.attribute: labelled(_levels(plan, h, blocks, cells)[:, -1], h.values) for h in plan.spec.history}

    def chunk_tables(self, plan, blocks, schemas, counters) -> dict[str, pa.Table]:
        unit = plan.spec.unit
        cells = merge(plan, blocks, _conditions(plan.spec.history))
        out = {}
        for h in plan.spec.history:
            name = h.table(unit)
            entity, period, level, following = history_rows(_levels(plan, h, blocks, cells), cells.arrival)
            ids = cells.ids[entity]
            first = counters.get(name, 0)
            counters[name] = first + len(ids)
            current = following < 0
            out[name] = pa.Table.from_pydict({
                f"{h.attribute}_history_id": np.arange(first + 1, first + len(ids) + 1, dtype=np.int64),
                f"{unit}_id": ids,
                h.attribute: labelled(level, h.values),
                "valid_from": plan.starts[period],
                "valid_to": pa.array(plan.starts[np.maximum(following, 0)], type=pa.date32(), mask=current),
                "is_current": current,
            }, schema=schemas[name])
        return out

    def row_estimate(self, plan, cells):
        # one row per entity plus its changes; changes need a sustained condition, about one in two entities
        return {item.table(plan.spec.unit): 1.5 * plan.entity_count for item in plan.spec.history}

    def tests(self, plan, ref) -> dict:
        unit = plan.spec.unit
        key, dim = f"{unit}_id", f"dim_{unit}"
        out = {}
        for h in plan.spec.history:
            out[h.table(unit)] = {
                f"{h.attribute}_history_id": [("unique", None), ("not_null", None)],
                key: [("not_null", None), ("relationships", {"to": ref(dim), "field": key})],
                h.attribute: [("not_null", None), ("accepted_values", {"values": list(h.values)})],
                "valid_from": [("not_null", None)],
                "is_current": [("not_null", None)],
                TABLE_LEVEL: [("dbt_plotsim.scd2_no_overlap", {"entity": key, "valid_from": "valid_from",
                                                               "valid_to": "valid_to", "is_current": "is_current"})],
            }
        return out


# ------------------------------------------------------------------------------------------------- stages

def ordered_transitions(stages) -> list:
    """Event transitions first (what happened wins), then the others in the order declared."""
    moves = list(stages.transitions)
    return [m for m in moves if m.event is not None] + [m for m in moves if m.event is None]


def stage_matrix(plan, stages, cells) -> np.ndarray:
    """(n, P) index into `stages.states` per period (the initial stage before arrival too)."""
    states = list(stages.states)
    n, periods = cells.active.shape
    prepared = []
    for move in ordered_transitions(stages):
        fired = None
        if move.when is not None:
            fired = held(move.when, plan, cells)
        elif move.event is not None:
            fired = event_cells(cells, move.event)
        sources = np.isin(np.arange(len(states)), [states.index(s) for s in move.sources])  # state -> may leave
        prepared.append((sources, states.index(move.to), move.after, None if fired is None else fired.T.copy()))
    may = _may_change(cells)
    state = np.full(n, states.index(stages.start), dtype=np.int64)
    entered = cells.arrival.astype(np.int64).copy()
    out = np.empty((periods, n), dtype=np.int64)
    for t in range(periods):
        new = state.copy()
        open_ = may[t].copy()  # may still move in this period (one transition at most)
        for sources, to, after, fired in prepared:
            trigger = (t - entered >= after) if after is not None else fired[t]
            hit = open_ & sources[state] & trigger
            new[hit] = to
            open_ &= ~hit
        moved = new != state
        entered[moved] = t
        state = new
        out[t] = state
    return out.T


def transition_pairs(stages) -> list[list[str]]:
    pairs: list[list[str]] = []
    for move in stages.transitions:
        for source in move.sources:
            if [source, move.to] not in pairs:
                pairs.append([source, move.to])
    return pairs


class StagesComponent(Component):
    def active(self, plan) -> bool:
        return plan.spec.stages is not None

    def clock(self, plan) -> dict:
        return {plan.spec.stages.table(plan.spec.unit): TableClock(period="date_key")}

    def schemas(self, plan) -> dict[str, pa.Schema]:
        spec = plan.spec
        stages = spec.stages
        unit, grain = spec.unit, spec.window.grain
        rules = []
        for move in stages.transitions:
            if move.after is not None:
                why = f"after {move.after} {grain}(s) in the stage"
            elif move.when is not None:
                why = f"when {_describe_when(move.when, grain)}"
            else:
                why = f"at its {move.event} event"
            rules.append(f"{'/'.join(move.sources)} -> {move.to} {why}")
        description = stages.description or (
            f"Lifecycle stage of each {unit} in each {grain} it is active ({', '.join(stages.states)}); it starts "
            f"as {stages.start} and moves only as declared: " + "; ".join(rules) + ".")
        return {stages.table(unit): pa.schema([
            _field(f"{unit}_id", pa.int64(), f"Foreign key to dim_{unit}.", nullable=False),
            _field("date_key", pa.int32(), "Foreign key to dim_date.", nullable=False),
            _field("stage", pa.string(), f"Stage in this {grain}; one of {list(stages.states)}.", nullable=False),
        ], metadata={"description": description})}

    def chunk_tables(self, plan, blocks, schemas, counters) -> dict[str, pa.Table]:
        stages = plan.spec.stages
        name = stages.table(plan.spec.unit)
        cells = merge(plan, blocks, [move.when for move in stages.transitions])
        matrix = stage_matrix(plan, stages, cells)
        entity, period = np.nonzero(cells.active)
        return {name: pa.Table.from_pydict({
            f"{plan.spec.unit}_id": cells.ids[entity],
            "date_key": date_keys(plan.starts)[period],
            "stage": labelled(matrix[entity, period], stages.states),
        }, schema=schemas[name])}

    def row_estimate(self, plan, cells):
        return {plan.spec.stages.table(plan.spec.unit): cells}

    def tests(self, plan, ref) -> dict:
        spec = plan.spec
        stages = spec.stages
        key, dim = f"{spec.unit}_id", f"dim_{spec.unit}"
        columns = {
            key: [("not_null", None), ("relationships", {"to": ref(dim), "field": key})],
            "date_key": [("not_null", None), ("relationships", {"to": ref("dim_date"), "field": "date_key"})],
            "stage": [("not_null", None), ("accepted_values", {"values": list(stages.states)}),
                      ("dbt_plotsim.allowed_transitions", {"entity": key, "period": "date_key",
                                                           "transitions": transition_pairs(stages),
                                                           "initial": stages.start})],
        }
        arrivals = any(seg.arrivals.pattern != "start" for seg in plan.segments)
        if arrivals or spec.terminal_event is not None:
            bounds = {"entity": key, "entity_model": ref(dim)}
            if arrivals:
                bounds["first_column"] = "first_date_key"
            if spec.terminal_event is not None:
                bounds["ended_column"] = "ended_date_key"
            columns[TABLE_LEVEL] = [("dbt_plotsim.within_lifetime", bounds)]
        return {stages.table(spec.unit): columns}
