"""Lifecycle stages (`fct_<unit>_stage`, a component): one row per active entity-period, so a terminal
event's stage shows in the period of the event, the entity's last row. At most one transition per period;
event transitions are tried first, then the others in the order declared.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .calendar import date_keys
from .clock import TableClock
from .components import Component
from .states import TABLE_LEVEL, describe_when, event_cells, field, held, labelled, may_change, merge


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
    may = may_change(cells)
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
                why = f"when {describe_when(move.when, grain)}"
            else:
                why = f"at its {move.event} event"
            rules.append(f"{'/'.join(move.sources)} -> {move.to} {why}")
        description = stages.description or (
            f"Lifecycle stage of each {unit} in each {grain} it is active ({', '.join(stages.states)}); it starts "
            f"as {stages.start} and moves only as declared: " + "; ".join(rules) + ".")
        return {stages.table(unit): pa.schema([
            field(f"{unit}_id", pa.int64(), f"Foreign key to dim_{unit}.", nullable=False),
            field("date_key", pa.int32(), "Foreign key to dim_date.", nullable=False),
            field("stage", pa.string(), f"Stage in this {grain}; one of {list(stages.states)}.", nullable=False),
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
