"""Change feeds (`loads.tables.<table>.changes`): `<table>_changes`, what a CDC tool would capture from the
source load by load: `_op` (insert, update, delete), `_changed_at` (when the load ran), then the table's
columns as the change left them (a delete: as they were).

A table whose rows never change once loaded (facts, events: clock.growing) gives one insert per row at its
load, and a restated row an update at its correction (the insert carries the value first loaded). A table a
later load may change (dimensions, SCD2 versions, current state) is compared load by load: its state at
each load is the clock's at that period (clock.clock_at), so replaying the feed up to any load gives the
table at that load exactly, deletes included. The feed itself only grows, so appends add to it.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .calendar import load_times
from .clock import ORIGINAL, RESTATED_AT, TableClock, clock_at, growing
from .loads import LOAD_AT, LOADED_AT, period_index
from .states import labelled

OP, CHANGED_AT = "_op", "_changed_at"
OPS = ("insert", "update", "delete")


def feed_name(table: str) -> str:
    return f"{table}_changes"


def fed_tables(plan) -> list[str]:
    return [name for name, options in plan.spec.loads.tables.items() if options.changes]


def feed_schemas(plan, schemas: dict[str, pa.Schema]) -> dict[str, pa.Schema]:
    out = {}
    for name in fed_tables(plan):
        if name not in schemas:
            continue  # loads.check names it
        head = [pa.field(OP, pa.string(), nullable=False, metadata={"description": (
                    "What changed: insert (the row appeared), update (a value changed) or delete (the row was "
                    "removed); one of insert, update, delete.")}),
                pa.field(CHANGED_AT, pa.timestamp("s"), nullable=False, metadata={"description": (
                    "When the load that captured the change ran (the end of a period).")})]
        fields = [field.with_nullable(True) for field in schemas[name] if field.name not in moving(plan, name)]
        out[feed_name(name)] = pa.schema(head + fields, metadata={"description": (
            f"Change feed of {name}: one row per row inserted, updated or deleted, load by load. Replaying it in "
            f"_changed_at order up to a load gives {name} as of that load.")})
    return out


def moving(plan, table: str) -> tuple[str, ...]:
    """Ground-truth columns that follow the clock (end_position): not source data, so not in the feed."""
    from .tables import core_clock

    rule = core_clock(plan).get(table)
    return rule.moving if rule is not None else ()


def feed_rules(plan) -> dict[str, TableClock]:
    """Feeds exist up to the clock's load and only grow."""
    return {feed_name(name): TableClock(loaded=CHANGED_AT) for name in fed_tables(plan)}


class Feeds:
    """Builds the feeds of one generation, chunk by chunk, from the chunk as drawn (before the clock)."""

    def __init__(self, plan, schemas: dict[str, pa.Schema], rules: dict[str, TableClock]):
        self.plan = plan
        self.schemas = schemas
        self.rules = rules
        self.times = load_times(plan.starts, plan.spec.window.grain)
        grows = growing({n: replace(r, restated=()) for n, r in rules.items()})  # restated rows get updates
        self.growing = [n for n in fed_tables(plan) if n in grows]
        self.changing = [n for n in fed_tables(plan) if n not in grows]
        self._clocks = None

    def tables(self, chunk: dict[str, pa.Table]) -> dict[str, pa.Table]:
        out = {}
        for name in self.growing:
            if name in chunk:
                out[feed_name(name)] = self._growing(name, chunk[name])
        for name in self.changing:
            if name in chunk:
                out[feed_name(name)] = self._changing(name, chunk)
        return out

    def _growing(self, name: str, table: pa.Table) -> pa.Table:
        rule = self.rules.get(name, TableClock())
        columns = [c for c in self.schemas[feed_name(name)].names if c not in (OP, CHANGED_AT)]
        if LOADED_AT in table.column_names or LOAD_AT in table.column_names:
            landed = table[LOADED_AT if LOADED_AT in table.column_names else LOAD_AT]
        else:
            landed = pa.array(self.times[period_index(self.plan, table[rule.period])], pa.timestamp("s"))
        first = {c: table[ORIGINAL + c] if c in rule.restated else table[c] for c in columns}
        feed = _feed(self.schemas, name, "insert", landed, first, table.num_rows)
        if not rule.restated:
            return feed
        fixed = pc.is_valid(table[RESTATED_AT]).to_numpy(zero_copy_only=False)
        kept = table.filter(pa.array(fixed))
        updates = _feed(self.schemas, name, "update", kept[RESTATED_AT], {c: kept[c] for c in columns}, kept.num_rows)
        row = np.r_[np.arange(table.num_rows), np.flatnonzero(fixed)]  # each row's insert, then its update
        return pa.concat_tables([feed, updates]).take(pa.array(np.argsort(row, kind="stable")))

    def _changing(self, name: str, chunk: dict[str, pa.Table]) -> pa.Table:
        needed = _needs(self.rules, name, chunk)
        sub = {n: chunk[n] for n in needed}
        parts = []
        before = None
        for period, clock in enumerate(self._clocks_by_period()):
            now = clock.apply(sub)[name]
            parts.extend(_diff(self.schemas, name, before, now, self.times[period]))
            before = now
        if not parts:
            return self.schemas[feed_name(name)].empty_table()
        feed = pa.concat_tables(parts)  # by key, then load: the same order whatever the chunking
        key = feed[self.schemas[name].names[0]].to_numpy()
        return feed.take(pa.array(np.lexsort((np.arange(len(key)), key))))

    def _clocks_by_period(self):
        if self._clocks is None:
            self._clocks = [clock_at(self.plan, self.schemas, self.rules, k) for k in range(self.plan.periods)]
        return self._clocks


def _needs(rules: dict[str, TableClock], name: str, chunk: dict) -> list[str]:
    """`name` and the tables its clock rule reads (parents, version tables), recursively."""
    out: list[str] = []

    def visit(table: str) -> None:
        if table in out or table not in chunk:
            return
        out.append(table)
        rule = rules.get(table)
        if rule is None:
            return
        for other in ([rule.parent[0]] if rule.parent else []) + [v for v, _ in rule.current.values()] + \
                ([rule.current_of] if rule.current_of else []):
            visit(other)

    visit(name)
    return out


def _feed(schemas, name: str, op: str, at, values: dict, rows: int) -> pa.Table:
    schema = schemas[feed_name(name)]
    columns = {OP: labelled(np.zeros(rows, dtype=np.int64), [op]), CHANGED_AT: at}
    columns.update(values)
    return pa.Table.from_pydict({n: columns[n] for n in schema.names}, schema=schema)


def _diff(schemas, name: str, before: pa.Table | None, now: pa.Table, at: np.datetime64) -> list[pa.Table]:
    """Feed rows turning `before` into `now` (tables keyed by their first column), captured at `at`."""
    columns = [c for c in schemas[feed_name(name)].names if c not in (OP, CHANGED_AT)]
    key = columns[0]
    now_keys = now[key].to_numpy()
    moment = pa.scalar(at.astype("datetime64[s]").item(), pa.timestamp("s"))
    if before is None or before.num_rows == 0:
        inserted, updated, deleted = now, now.slice(0, 0), None
    else:
        old_keys = before[key].to_numpy()
        order = np.argsort(old_keys, kind="stable")
        where = np.minimum(np.searchsorted(old_keys[order], now_keys), len(old_keys) - 1)
        found = old_keys[order][where] == now_keys
        inserted = now.filter(pa.array(~found))
        kept = now.filter(pa.array(found))
        old = before.take(pa.array(order[where][found]))
        changed = np.zeros(kept.num_rows, dtype=bool)
        for column in columns:
            a, b = kept[column], old[column]
            same = pc.or_(pc.fill_null(pc.equal(a, b), False), pc.and_(pc.is_null(a), pc.is_null(b)))
            changed |= ~same.to_numpy(zero_copy_only=False)
        updated = kept.filter(pa.array(changed))
        deleted = before.filter(pa.array(~np.isin(old_keys, now_keys)))
    out = []
    for op, rows in (("insert", inserted), ("update", updated), ("delete", deleted)):
        if rows is not None and rows.num_rows:
            at_column = pa.array(np.full(rows.num_rows, moment.value), pa.timestamp("s"))
            out.append(_feed(schemas, name, op, at_column, {c: rows[c] for c in columns}, rows.num_rows))
    return out
