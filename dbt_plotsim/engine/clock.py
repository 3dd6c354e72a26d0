"""The as-of clock: the story is drawn over the whole window; `window.as_of` says how much of it has happened.

Every value is drawn as if the whole window had happened (curves, lags and events are defined over it), and
the clock then keeps what exists by `as_of`: rows of the periods that started on or before it, entities that
have arrived, and nothing a later period would reveal (an ended or removed date is null until it happens, an
SCD2 version is current until its successor starts). So moving `as_of` forward only adds rows and fills in
what has since happened; a row that exists at one `as_of` is the same row, with the same key, at any later
one. Keys are those of the whole story, so before the window's end they may have gaps.

Each table says how it follows the clock with a `TableClock` (tables.py for the core tables, each component
for its own); `Clock.apply` enforces them on every chunk, vectorized over its rows.

An append (moving the clock from period `since` to a later one) needs only what changed: tables whose rows
never change once they exist (`growing`: facts, events, transactions and their lines) get the rows of the
new periods; tables whose rows a later period may change (dimensions with revealed dates or current values,
SCD2 versions) are rewritten whole, which costs one row per entity or version, not per entity-period; tables
that do not depend on entities (dim_date, reference lookups) are left as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .calendar import date_keys, load_times


@dataclass(frozen=True)
class TableClock:
    """How one table follows the clock (every part optional)."""

    period: str | None = None  # a date-key column: rows of periods after the clock are dropped
    parent: tuple[str, str] | None = None  # (table, key column): rows whose parent row was dropped go too
    reveals: tuple[str, ...] = ()  # date-key columns that stay null until their period has happened
    versions: bool = False  # SCD2 valid_from / valid_to / is_current: versions current at the clock
    current: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (version table, its value)
    moving: tuple[str, ...] = ()  # ground truth that follows the clock (end_position): rewritten on append, not fed
    current_of: str | None = None  # rows are this version table's current rows, taken again at the clock
    loaded: str | None = None  # a timestamp column (loads.py): a row exists once the load it names has run
    restated: tuple[str, ...] = ()  # value columns a later load corrects (loads.py): before it, the originals
    deletes: Callable | None = None  # (rows, versions, clock period) -> bool mask of rows hard-deleted by then


def last_period(plan) -> int:
    """Index of the last period that has happened: the one holding `window.as_of` (the window's last one by
    default)."""
    as_of = plan.spec.window.as_of
    if as_of is None:
        return plan.periods - 1
    return int(np.searchsorted(plan.starts, np.datetime64(as_of, "D"), side="right")) - 1


HIDDEN = "_plotsim_"  # columns the engine adds for the clock to read; dropped before a chunk leaves it
RESTATED_AT = HIDDEN + "restated_at"  # when a later load corrected the row (null: never)
ORIGINAL = HIDDEN + "original_"  # + column: the value first loaded
MOVING = HIDDEN + "series_"  # + column: its value in every period (a fixed-size list), for the clock to pick


def without_hidden(table: pa.Table) -> pa.Table:
    hidden = [name for name in table.column_names if name.startswith(HIDDEN)]
    return table.drop_columns(hidden) if hidden else table


def growing(rules: dict[str, TableClock]) -> set[str]:
    """Tables whose rows never change once they exist: a period column and nothing the clock reveals later,
    or a parent that is itself growing (lines of a transaction)."""
    def grows(name: str, seen: tuple = ()) -> bool:
        rule = rules.get(name)
        if rule is None or name in seen or rule.reveals or rule.versions or rule.current or rule.moving \
                or rule.current_of or rule.restated:
            return False
        return rule.period is not None or rule.loaded is not None or \
            (rule.parent is not None and grows(rule.parent[0], seen + (name,)))

    return {name for name in rules if grows(name)}


def appended(plan, rules: dict[str, TableClock]) -> set[str]:
    """Tables an append adds rows to: the growing ones, none when defects are declared (their answer key
    covers every row, so a load rewrites the source)."""
    return set() if plan.spec.defects.any else growing(rules)


@dataclass(frozen=True)
class Since:
    """The period an append starts after: growing tables keep only rows of later periods."""

    key: int  # date key of the last period already written
    start: np.datetime64  # its first day
    load: np.datetime64  # when its load ran (loads.load_times)
    growing: frozenset[str]
    unchanged: frozenset[str]  # tables that do not depend on entities: left out of the chunks


@dataclass(frozen=True)
class Clock:
    last: int  # index of the last period that has happened
    key: int  # its date key (yyyymmdd)
    start: np.datetime64  # its first day
    load: np.datetime64  # when its load ran (loads.load_times)
    rules: dict[str, TableClock]
    since: Since | None = None

    def apply(self, chunk: dict[str, pa.Table]) -> dict[str, pa.Table]:
        out = dict(chunk)
        for name in ordered(self.rules, chunk):
            out[name] = self._table(name, out[name], self.rules[name], out, chunk)
        if self.since is not None:
            out = {name: table for name, table in out.items() if name not in self.since.unchanged}
        return {name: without_hidden(table) for name, table in out.items()}

    def _table(self, name: str, table: pa.Table, rule: TableClock, done: dict[str, pa.Table],
               raw: dict[str, pa.Table]) -> pa.Table:
        if rule.current_of is not None:
            if rule.current_of not in done:
                return table
            rows = current_rows(done[rule.current_of], table.schema)
            return rows.filter(pc.invert(pa.array(rule.deletes(rows, done[rule.current_of], self.last)))) \
                if rule.deletes is not None else rows
        keep = None
        appending = self.since is not None and name in self.since.growing
        if rule.period is not None:
            keep = pc.less_equal(table[rule.period], self._bound(table[rule.period]))
            if appending and rule.loaded is None:
                keep = pc.and_(keep, pc.greater(table[rule.period], self._bound(table[rule.period], self.since)))
        if rule.loaded is not None:
            loaded = table[rule.loaded]
            landed = pc.less_equal(loaded, pa.scalar(self.load, loaded.type))
            if appending:
                landed = pc.and_(landed, pc.greater(loaded, pa.scalar(self.since.load, loaded.type)))
            keep = landed if keep is None else pc.and_(keep, landed)
        if rule.parent is not None and rule.parent[0] in raw:
            parent, column = rule.parent
            kept = done[parent][column]
            inside = pc.is_in(table[column], value_set=kept.combine_chunks() if kept.num_chunks else pa.array([], kept.type))
            keep = inside if keep is None else pc.and_(keep, inside)
        if keep is not None:
            table = table.filter(keep)
        for column in rule.reveals:
            table = _set(table, column, _null_after(table[column], self._bound(table[column])))
        for column in rule.moving:
            if MOVING + column in table.column_names:
                table = _set(table, column, pc.list_element(table[MOVING + column], self.last))
        if rule.versions:
            valid_to = _null_after(table["valid_to"], self._bound(table["valid_to"]))
            table = _set(table, "valid_to", valid_to)
            table = _set(table, "is_current", pc.is_null(valid_to))
        for column, (versions, value) in rule.current.items():
            if versions in done:
                table = _set(table, column, _current(table, done[versions], value))
        if rule.restated:
            later = pc.fill_null(pc.greater(table[RESTATED_AT], pa.scalar(self.load, table[RESTATED_AT].type)), False)
            for column in rule.restated:
                table = _set(table, column, pc.if_else(later, table[ORIGINAL + column], table[column]))
        return table


    def _bound(self, column: pa.ChunkedArray, at=None) -> pa.Scalar:
        """The clock (or `at`, a Since) as a value of the column's type: the period's first day, or its key."""
        at = at or self
        if pa.types.is_date(column.type):
            return pa.scalar(at.start.astype("datetime64[D]").item(), column.type)
        return pa.scalar(at.key, column.type)


def rules_for(plan, schemas: dict[str, pa.Schema]) -> dict[str, TableClock]:
    from .components import components
    from .loads import with_loads
    from .tables import core_clock

    rules = core_clock(plan)
    for component in components(plan):
        for name, rule in component.clock(plan).items():
            rules[name] = _merged(rules[name], rule) if name in rules else rule
    return with_loads(plan, {name: rule for name, rule in rules.items() if name in schemas}, schemas)


def clock_for(plan, schemas: dict[str, pa.Schema], since: int | None = None) -> Clock | None:
    """The clock of a plan, or None when the whole window has happened and nothing is declared about loads
    (nothing to hold back) and this is not an append; `since` (a period index up to the clock's) makes it
    an append after that period."""
    last = last_period(plan)
    if last >= plan.periods - 1 and since is None and not plan.spec.loads.tables:
        return None
    return clock_at(plan, schemas, rules_for(plan, schemas), last, since)


def clock_at(plan, schemas: dict[str, pa.Schema], rules: dict[str, TableClock], last: int,
             since: int | None = None) -> Clock:
    """The clock standing at period `last` (change feeds read the state at every load)."""
    loads = load_times(plan.starts, plan.spec.window.grain)
    keys = date_keys(plan.starts)
    after = None
    if since is not None:
        from .tables import static_names

        after = Since(int(keys[since]), plan.starts[since], loads[since], frozenset(appended(plan, rules)),
                      frozenset(static_names(plan, schemas)))
    return Clock(last, int(keys[last]), plan.starts[last], loads[last], rules, after)


def _merged(a: TableClock, b: TableClock) -> TableClock:
    """Two components' rules for one table (dim_<unit> gets its own and the history's)."""
    return TableClock(a.period or b.period, a.parent or b.parent, a.reveals + b.reveals, a.versions or b.versions,
                      {**a.current, **b.current}, a.moving + b.moving, a.current_of or b.current_of,
                      a.loaded or b.loaded, a.restated + b.restated, a.deletes or b.deletes)


def current_rows(versions: pa.Table, schema: pa.Schema) -> pa.Table:
    """The current state a source system shows: each current version's entity and value, with `updated_at`
    the moment it took effect (its valid_from)."""
    current = versions.filter(versions["is_current"])
    columns = {name: current[name] for name in schema.names if name != "updated_at"}
    columns["updated_at"] = current["valid_from"].cast(pa.timestamp("s"))
    return pa.Table.from_pydict(columns, schema=schema)


def ordered(rules: dict[str, TableClock], chunk: dict) -> list[str]:
    """Tables of the chunk with a rule, parents (and version tables) before the tables that read them."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name not in chunk or name not in rules:
            return
        rule = rules[name]
        for needed in [rule.parent[0]] if rule.parent else []:
            visit(needed)
        for versions, _ in rule.current.values():
            visit(versions)
        if rule.current_of:
            visit(rule.current_of)
        order.append(name)

    for name in chunk:
        visit(name)
    return order


def _null_after(column: pa.ChunkedArray, bound: pa.Scalar) -> pa.ChunkedArray:
    return pc.if_else(pc.greater(column, bound), pa.scalar(None, column.type), column)


def _set(table: pa.Table, name: str, values) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, table.schema.field(name), values)


def _current(units: pa.Table, versions: pa.Table, value: str) -> pa.ChunkedArray:
    """Per unit row, `value` of its version current at the clock (the versions are already clipped); a unit
    with none (it ended before the clock, closing its last version) keeps its value, the last one's."""
    key = units.schema.names[0]
    current = versions.filter(versions["is_current"])
    ids = current[key].to_numpy()
    if not len(ids):
        return units[value]
    order = np.argsort(ids, kind="stable")
    wanted = units[key].to_numpy()
    where = np.minimum(np.searchsorted(ids[order], wanted), len(ids) - 1)
    found = ids[order][where] == wanted
    taken = current[value].take(pa.array(order[where]))
    return pc.if_else(pa.array(found), taken, units[value].combine_chunks())
