"""Loads (spec/loads.py): when each row lands, values a later load corrects, rows a source hard-deletes.

A source is loaded at the end of every period (calendar.load_times). A row of period p lands in load p,
or, for the declared `late` share, in load p + 1..`late_by` (never after the window's last load); it exists
once the clock has passed its load, so an as-of source lacks the late rows of its last periods and gains
them later, as a warehouse fed by a real pipeline does. A `restated` row of a fact table is first loaded
with values off by 5-25% and corrected, to the generated values, by a load 1..`late_by` periods after it
landed (rows landing in the last load cannot be, so the share holds on the others); declared relations hold on the corrected
values. A `deletes` share of a current-state table's entities is hard-deleted at a load after the one it
arrived in: the row is gone from then on.

Every choice is a hash of the row's key (its first two columns) with names (seed, purpose, table), so it
depends on nothing but the row: the same whatever the chunking, parts or as-of. The results enter the chunk
as hidden columns (clock.HIDDEN) and clock rules (TableClock.loaded, restated, deletes), which the clock reads.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import Problem
from .calendar import date_keys, load_times
from .clock import ORIGINAL, RESTATED_AT, TableClock, growing
from .hashing import hashed_uniform

LOADED_AT = "_loaded_at"
LOAD_AT = "_plotsim_load_at"  # hidden twin of _loaded_at for tables that are late without showing it
RESTATEMENT = (0.05, 0.25)  # a restated row is first loaded this far off (either side), as a share


def period_index(plan, column: pa.ChunkedArray) -> np.ndarray:
    values = column.to_numpy()
    if pa.types.is_date(column.type):
        return np.searchsorted(plan.starts, values.astype("datetime64[D]"))
    return np.searchsorted(date_keys(plan.starts), values)


def _row_keys(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    return table.column(0).to_numpy(), table.column(1).to_numpy().astype(np.int64)


def _later(u: np.ndarray, period: np.ndarray, up_to: int, last: int) -> np.ndarray:
    """1..up_to periods after `period`, never after `last`, from uniforms."""
    return np.minimum(period + 1 + np.floor(u * up_to).astype(np.int64), last)


def checked(plan) -> list[Problem]:
    """What the `loads` block asks of each table must fit that table (plan.build_plan reports it)."""
    from .clock import rules_for
    from .tables import schemas

    layouts = schemas(plan)
    return check(plan, layouts, rules_for(plan, layouts))


def check(plan, schemas: dict[str, pa.Schema], rules: dict[str, TableClock]) -> list[Problem]:
    from .tables import static_names

    problems = []
    grows = growing({name: replace(rule, restated=()) for name, rule in rules.items()})  # rows per period or event
    facts = {fact.name for fact in plan.facts}
    static = set(static_names(plan, schemas))
    currents = {rule_name for rule_name, rule in rules.items() if rule.current_of}
    for name, options in plan.spec.loads.tables.items():
        path = f"loads.tables.{name}"
        if name not in schemas or name in static:
            known = [t for t in schemas if t not in static]
            problems.append(Problem(path, f"this spec makes no table '{name}' that rows arrive in; its tables: {known}"))
            continue
        rule = rules.get(name, TableClock())
        if (options.loaded_at or options.late) and (name not in grows or rule.period is None):
            problems.append(Problem(path, "loaded_at and late need a table with a row per period or event (facts, "
                                    f"events, transactions); rows of {name} are not loaded by period"))
        if options.restated and name not in facts:
            problems.append(Problem(path, f"restated needs a metrics fact table ({sorted(facts)}); {name} is not one"))
        if options.deletes and name not in currents:
            problems.append(Problem(path, "deletes needs a current-state table (history current_table: true: "
                                    f"{sorted(currents) or 'none declared'}); {name} is not one"))
    return problems


def with_loads(plan, rules: dict[str, TableClock], schemas: dict[str, pa.Schema]) -> dict[str, TableClock]:
    """The clock rules with what `loads` declares: a load column, restated value columns, deletes, feeds."""
    from .feeds import feed_rules

    out = dict(rules)
    out.update({name: rule for name, rule in feed_rules(plan).items() if name in schemas})
    for name, options in plan.spec.loads.tables.items():
        if name not in out and not options.deletes:
            continue
        rule = out.get(name, TableClock())
        if options.loaded_at or options.late:
            rule = replace(rule, loaded=LOADED_AT if options.loaded_at else LOAD_AT)
        if options.restated:
            rule = replace(rule, restated=restated_columns(plan, name))
        if options.deletes:
            rule = replace(rule, deletes=_deleter(plan, name, options.deletes))
        out[name] = rule
    return out


def restated_columns(plan, table: str) -> tuple[str, ...]:
    fact = next((f for f in plan.facts if f.name == table), None)
    return tuple(plan.metric_names[m] for m in fact.metrics) if fact is not None else ()


def with_load_columns(plan, schemas: dict[str, pa.Schema]) -> dict[str, pa.Schema]:
    """The layouts with `_loaded_at` on the tables that declare it."""
    out = dict(schemas)
    for name, options in plan.spec.loads.tables.items():
        if options.loaded_at and name in out:
            late = f"; about {options.late:.1%} land 1-{options.late_by} loads later" if options.late else ""
            out[name] = out[name].append(pa.field(LOADED_AT, pa.timestamp("s"), nullable=False, metadata={
                "description": f"When the row landed in the source: the load at the end of its period{late}."}))
    return out


def prepare(plan, chunk: dict[str, pa.Table], rules: dict[str, TableClock]) -> dict[str, pa.Table]:
    """The chunk with each declared table's load times and restatements as columns (hidden but _loaded_at)."""
    out = dict(chunk)
    last = plan.periods - 1
    times = load_times(plan.starts, plan.spec.window.grain)
    seed = plan.spec.seed
    for name, options in plan.spec.loads.tables.items():
        if name not in out or not (options.loaded_at or options.late or options.restated):
            continue
        table = out[name]
        rule = rules[name]
        period = period_index(plan, table[rule.period]) if rule.period is not None else None
        first, second = _row_keys(table)
        lands = period
        if options.loaded_at or options.late:
            if options.late:
                late = hashed_uniform(seed, ("loads", "late", name), first, second) < options.late
                u = hashed_uniform(seed, ("loads", "late-by", name), first, second)
                lands = np.where(late, _later(u, period, options.late_by, last), period)
            column = pa.array(times[lands], pa.timestamp("s"))
            table = _put(table, LOADED_AT if options.loaded_at else LOAD_AT, column)
        if options.restated:
            table = _restated(plan, name, table, options, lands, times)
        out[name] = table
    return out


def _restated(plan, name: str, table: pa.Table, options, lands: np.ndarray, times: np.ndarray) -> pa.Table:
    """Corrections 1..late_by loads after the row landed (`lands`: its load period)."""
    seed = plan.spec.seed
    first, second = _row_keys(table)
    last = plan.periods - 1
    chosen = (hashed_uniform(seed, ("loads", "restated", name), first, second) < options.restated) & (lands < last)
    u = hashed_uniform(seed, ("loads", "restated-by", name), first, second)
    corrected = _later(u, lands, options.late_by, last)
    table = _put(table, RESTATED_AT, pa.array(times[corrected], pa.timestamp("s"), mask=~chosen))
    low, high = RESTATEMENT
    for column in restated_columns(plan, name):
        size = low + (high - low) * hashed_uniform(seed, ("loads", "restated-size", name, column), first, second)
        sign = np.where(hashed_uniform(seed, ("loads", "restated-sign", name, column), first, second) < 0.5, -1.0, 1.0)
        values = table[column]
        off = pc.multiply(values.cast(pa.float64()), pa.array(1.0 + sign * size))
        if pa.types.is_integer(values.type):  # a count stays a count, and visibly different
            off = pc.max_element_wise(pc.round(off), pa.scalar(0.0))
            off = pc.if_else(pc.equal(off, values.cast(pa.float64())), pc.add(off, 1.0), off)
        elif values.type == pa.float64():
            off = pc.round(off, 2)
        table = _put(table, ORIGINAL + column, pc.if_else(pa.array(chosen), off.cast(values.type), values))
    return table


def _deleter(plan, name: str, share: float):
    """The `deletes` of a current-state table: (rows, versions, clock period) -> mask of rows deleted by then.
    An entity is chosen with probability `share` among those that arrive before the last load, and deleted
    at a load 1.. (last load - arrival) periods after its arrival."""
    seed = plan.spec.seed
    last = plan.periods - 1

    def deleted(rows: pa.Table, versions: pa.Table, clock: int) -> np.ndarray:
        keys = rows.column(0).to_numpy()
        if not len(keys):
            return np.zeros(0, dtype=bool)
        ids = versions.column(1).to_numpy()
        began = np.searchsorted(plan.starts, versions["valid_from"].to_numpy().astype("datetime64[D]"))
        order = np.lexsort((began, ids))
        ids, began = ids[order], began[order]
        firsts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # each entity's first version: its arrival
        arrival = began[firsts][np.searchsorted(ids[firsts], keys)]
        zero = np.zeros(len(keys), dtype=np.int64)
        chosen = (hashed_uniform(seed, ("loads", "deletes", name), keys, zero) < share) & (arrival < last)
        u = hashed_uniform(seed, ("loads", "deleted-at", name), keys, zero)
        at = arrival + 1 + np.floor(u * np.maximum(last - arrival, 1)).astype(np.int64)
        return chosen & (at <= clock)

    return deleted


def _put(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    index = table.schema.get_field_index(name)
    if index >= 0:
        return table.set_column(index, table.schema.field(name), values)
    return table.append_column(pa.field(name, values.type), values)
