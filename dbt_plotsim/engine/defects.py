"""Declared defects (spec/defects.py) injected into the rows the clock keeps, with their answer key.

Each declared defect hits the rows whose hashed uniform (the row's key with the seed, the table and the
defect's place in the list) falls under its rate, among the rows of its periods and segments; so the same rows
are hit whatever the chunking, parts or as-of, and a row's defect never depends on any other row. Per table:
volume drops first (on the clean rows), then the cell defects in the declared order (only cells with a value),
then the copies (duplicates, near duplicates, volume spikes) of each row as it finally is. Each defect is one
row of `_plotsim_defects` naming the table, the row (its key column and value, and its period's date key), the
column, the kind, the value before and after; so the clean table is the messy one with the key undone in
reverse order (copies dropped, dropped rows put back from their JSON).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import Problem
from . import defect_values as made
from .calendar import date_keys
from .defect_layouts import Declared, by_table, column_problem, period_column, reshaped, unmatched, unnamed_rows
from .fanout import field
from .hashing import hashed_uniform

KEY_TABLE = "_plotsim_defects"
COPIES = ("duplicate", "near_duplicate", "volume_spike")


def key_schema() -> pa.Schema:
    return pa.schema([
        field("defect_number", pa.int64(), "Order of the defect within its table: undo in reverse order."),
        field("table_name", pa.string(), "The table the defect is in."),
        field("kind", pa.string(), "duplicate, near_duplicate, volume_spike, volume_drop, orphan, invalid_value, "
              "messy_text, out_of_range, wrong_timezone, number_as_text or schema_drift."),
        field("key_column", pa.string(), "The table's first column, which with date_key names the row."),
        field("key_value", pa.int64(), "The row's value of key_column, as the table shows it."),
        field("date_key", pa.int32(), "The date key of the row's period; null for rows without one.", nullable=True),
        field("column_name", pa.string(), "The column changed; null for a whole extra or missing row.",
              nullable=True),
        field("original_value", pa.string(), "The clean value, as text; for a volume_drop the whole clean row as "
              "JSON; null for a copy, or for a column a schema_drift added.", nullable=True),
        field("defect_value", pa.string(), "The value the table shows instead, as text (null where a schema_drift "
              "moved it to another column); for a near_duplicate the copy's value; null for a copy or a drop.",
              nullable=True),
    ], metadata={"description": (
        "The answer key of the declared defects: one row per defect injected. A duplicate, near_duplicate or "
        "volume_spike is an extra copy of the row, right after it (the near copy differs in column_name); a "
        "volume_drop is a row the table lacks; the other kinds change one cell in place. Rows come chunk by "
        "chunk: order by table_name, key_value, date_key, defect_number.")})


def check(plan, schemas: dict[str, pa.Schema], rules: dict) -> list[Problem]:
    """Each declared defect must name a table the spec makes and a column its kind can change, as the table is
    at that point of its list (after the defects before it)."""
    from .tables import static_names, unit_key

    problems: list[Problem] = []
    static = set(static_names(plan, schemas))
    segments = [seg.name for seg in plan.segments]
    declared = by_table(plan, schemas)
    for table in plan.spec.defects.tables:
        if table not in schemas or table in static or table.endswith("_changes"):
            made_tables = ", ".join(n for n in schemas if n not in static)
            problems.append(Problem(f"defects.tables.{table}", f"the spec makes no table {table!r} with entity rows "
                                                                 f"(it makes {made_tables})"))
            declared.pop(table, None)
        elif table in unnamed_rows(plan):
            problems.append(Problem(f"defects.tables.{table}", f"a row of {table} is named by two keys, which the "
                                    "answer key cannot name it by; declare defects on the tables it joins"))
            declared.pop(table, None)
    problems.extend(Problem(path, message) for path, message in unmatched(plan, declared))
    for table, entries in declared.items():
        layout = schemas[table]
        where = lambda path: path if path.startswith("defects.tables") else f"{path} (in {table})"  # noqa: E731
        for entry in entries:
            defect = entry.defect
            if defect.periods is not None and period_column(layout, rules.get(table)) is None:
                problems.append(Problem(f"{entry.path}.periods", f"{table} has no period column, so its defects "
                                                                 "cannot be limited to periods"))
            for name in defect.segments or ():
                if name not in segments:
                    problems.append(Problem(f"{entry.path}.segments", f"unknown segment {name!r}; known: {segments}"))
            if defect.segments and unit_key(plan) not in layout.names:
                problems.append(Problem(f"{entry.path}.segments", f"{table} has no {unit_key(plan)} column, so its "
                                                                  "rows have no segment"))
            problem = column_problem(plan, layout, defect)
            if problem:
                problems.append(Problem(where(f"{entry.path}.{problem[0]}"), problem[1]))
                continue
            layout = reshaped(layout, defect)
    return sorted(set(problems), key=lambda p: (p.path, p.message)) if problems else []


def inject(plan, chunk: dict[str, pa.Table], rules: dict, shown: dict[str, pa.Schema],
           declared: dict[str, list[Declared]]) -> dict[str, pa.Table]:
    """The chunk with its declared defects (by_table), in the layouts `shown` (shown_schemas), and the chunk's
    rows of the answer key (KEY_TABLE)."""
    keys: list[pa.Table] = []
    out = dict(chunk)
    for table, entries in declared.items():
        if table not in out or not out[table].num_rows:
            continue
        rows, table_keys = _injected(plan, table, entries, out[table], rules.get(table))
        out[table] = rows.select(shown[table].names).cast(shown[table])
        keys.extend(table_keys)
    out[KEY_TABLE] = pa.concat_tables(keys).cast(key_schema()) if keys else key_schema().empty_table()
    return out


def _injected(plan, table: str, entries: list[Declared], rows: pa.Table, rule) -> tuple[pa.Table, list[pa.Table]]:
    keys: list[pa.Table] = []
    order = {"volume_drop": 0, "duplicate": 2, "near_duplicate": 2, "volume_spike": 2}
    copies: list[pa.Table] = []
    copied: list[np.ndarray] = []  # the row each copy follows
    for number, entry in sorted(enumerate(entries), key=lambda item: order.get(item[1].defect.kind, 1)):
        defect = entry.defect
        hit, u = _hits(plan, table, entry.name, defect, rows, rule)
        if defect.kind == "schema_drift":  # a changed layout, on every row (the hits are the moved values)
            rows, where, column, before, after = _drifted(defect, rows, hit, u)
        else:
            if defect.kind in ("orphan", "messy_text", "wrong_timezone", "number_as_text"):
                hit &= rows[defect.column].is_valid().to_numpy(zero_copy_only=False)
            where = np.flatnonzero(hit)
            second = u[where] / defect.rate  # uniform again, for choices within the defect
            if defect.kind == "number_as_text":  # the whole column turns text; the hit cells messy text
                numbers = rows[defect.column].take(pa.array(where))
                rows = _as_text(rows, defect.column)
                if not len(where):
                    continue
                rows, column, before, after = _replaced(rows, defect.column, where,
                                                        made.messy_number_text(numbers, second))
            elif not len(where):
                continue
            elif defect.kind == "volume_drop":
                keys.append(_key_rows(table, number, defect.kind, rows, where, rule, None,
                                      made.row_json(rows.take(pa.array(where))), None))
                rows = rows.filter(pa.array(~hit))
                continue
            else:
                rows, copy, column, before, after = _changed(plan, defect, rows, where, second)
                if copy is not None:  # one row of the key per copy
                    where = np.repeat(where, defect.copies)
                    copies.append(copy)
                    copied.append(where)
        if len(where):
            keys.append(_key_rows(table, number, defect.kind, rows, where, rule, column, before, after))
    return (_with_copies(rows, copies, copied) if copies else rows), keys


def _period_values(rows: pa.Table, rule) -> np.ndarray | None:
    column = period_column(rows.schema, rule)
    return rows[column].to_numpy() if column else None


def _hits(plan, table, name: str, defect, rows: pa.Table, rule) -> tuple[np.ndarray, np.ndarray]:
    """(the rows the defect hits: under its rate, in its periods and segments; each row's hashed uniform)."""
    period = _period_values(rows, rule)
    extra = [period.astype("datetime64[D]").astype(np.int64) if period.dtype.kind == "M" else period] \
        if period is not None else []
    u = hashed_uniform(plan.spec.seed, ("defect", table, name), rows.column(0).to_numpy().astype(np.int64),
                       *extra)
    hit = (u < defect.rate) if defect.rate is not None else np.ones(rows.num_rows, dtype=bool)
    hit &= _in_periods(defect, period)
    if defect.segments:
        from .tables import unit_key

        firsts = np.array([seg.first_id for seg in plan.segments])
        wanted = np.array([seg.name in defect.segments for seg in plan.segments])
        entity = rows[unit_key(plan)].to_numpy(zero_copy_only=False).astype(np.int64)
        hit &= wanted[np.clip(np.searchsorted(firsts, entity, side="right") - 1, 0, len(firsts) - 1)]
    return hit, u


def _in_periods(defect, period) -> np.ndarray | bool:
    if defect.periods is None or period is None:
        return True
    lo, hi = defect.periods.from_, defect.periods.until
    if period.dtype.kind != "M":  # a date key
        lo_key = int(lo.strftime("%Y%m%d")) if lo else -1
        hi_key = int(hi.strftime("%Y%m%d")) if hi else 10**9
        return (period >= lo_key) & (period <= hi_key)
    day = period.astype("datetime64[D]")
    return (day >= np.datetime64(lo or "0001-01-01")) & (day <= np.datetime64(hi or "9999-12-31"))


def _with_copies(rows: pa.Table, copies: list[pa.Table], copied: list[np.ndarray]) -> pa.Table:
    """Each copy right after its row, so the table's order does not depend on the chunking."""
    after = np.concatenate([np.arange(rows.num_rows), *copied])
    order = np.argsort(after, kind="stable")
    return pa.concat_tables([rows, *copies]).take(pa.array(order))


def _as_text(rows: pa.Table, column: str) -> pa.Table:
    index = rows.schema.get_field_index(column)
    return rows.set_column(index, pa.field(column, pa.string()), made.number_text(rows[column]))


def _drifted(defect, rows: pa.Table, hit: np.ndarray, u: np.ndarray):
    """(rows, hit rows with a value, column, before, after) of a renamed or added column."""
    mask = pa.array(hit)
    if defect.added is not None:
        where = np.flatnonzero(hit)
        values = made.invalid_values(defect.values, u[where])
        full = pa.nulls(rows.num_rows, pa.string())
        added = pc.replace_with_mask(full, mask, values) if len(where) else full
        return rows.append_column(defect.added, added), where, defect.added, None, values
    column = rows[defect.column].combine_chunks()
    moved = pc.if_else(mask, column, pa.nulls(len(column), column.type))
    kept = pc.if_else(mask, pa.nulls(len(column), column.type), column)
    where = np.flatnonzero(hit & column.is_valid().to_numpy(zero_copy_only=False))
    index = rows.schema.get_field_index(defect.column)
    rows = rows.set_column(index, pa.field(defect.column, column.type), kept).add_column(
        index + 1, pa.field(defect.renamed_to, column.type), moved)
    return rows, where, defect.column, column.take(pa.array(where)), pa.nulls(len(where), pa.string())


def _changed(plan, defect, rows: pa.Table, where: np.ndarray, u: np.ndarray):
    """(rows, extra copies or None, column changed, values before, values after) for the hit rows."""
    if defect.kind in COPIES:
        copy = rows.take(pa.array(np.repeat(where, defect.copies)))
        column = _near_column(rows.schema) if defect.kind == "near_duplicate" else None
        if column is None:
            return rows, copy, None, None, None
        before = copy[column]
        after = made.changed_text(before, u) if pa.types.is_string(before.type) else made.near_time(before, u)
        return rows, copy.set_column(copy.schema.get_field_index(column), copy.schema.field(column), after), \
            column, before, after
    column = defect.column
    before = rows[column].take(pa.array(where))
    if defect.kind == "orphan":
        after = made.orphan_keys(before)
    elif defect.kind == "invalid_value":
        after = made.invalid_values(defect.values, u)
    elif defect.kind == "messy_text":
        after = made.changed_text(before, u)
    elif defect.kind == "wrong_timezone":
        after = made.shifted_time(before, defect.hours)
    else:
        after = made.out_of_range(before, *plan.spec.metric(column).range, u)
    rows, column, before, after = _replaced(rows, column, where, after)
    return rows, None, column, before, after


def _replaced(rows: pa.Table, column: str, where: np.ndarray, after) -> tuple:
    """(rows with `after` in the column's hit cells, column, values before, values after)."""
    full = rows[column].combine_chunks()
    before = full.take(pa.array(where))
    mask = np.zeros(rows.num_rows, dtype=bool)
    mask[where] = True
    replaced = pc.replace_with_mask(full, pa.array(mask), made.flat(after).cast(full.type))
    return rows.set_column(rows.schema.get_field_index(column), rows.schema.field(column), replaced), column, \
        before, after


def _near_column(schema: pa.Schema) -> str | None:
    """What a near copy changes: the first text column that is not a key, else the first timestamp."""
    for kind in (pa.types.is_string, pa.types.is_timestamp):
        for f in schema:
            if kind(f.type) and not f.name.endswith(("_id", "_key")) and not f.name.startswith("_"):
                return f.name
    return None


def _text(values) -> pa.Array:
    return made.flat(values).cast(pa.string())


def _key_rows(table, number, kind, rows, where, rule, column, before, after) -> pa.Table:
    n = len(where)
    period = _period_values(rows, rule)
    if period is None:
        dates = pa.nulls(n, pa.int32())
    elif period.dtype.kind == "M":
        dates = pa.array(date_keys(period[where].astype("datetime64[D]")).astype(np.int32))
    else:
        dates = pa.array(period[where].astype(np.int32))
    return pa.table({
        "defect_number": pa.array(np.full(n, number, dtype=np.int64)),
        "table_name": pa.array([table] * n, pa.string()),
        "kind": pa.array([kind] * n, pa.string()),
        "key_column": pa.array([rows.schema.names[0]] * n, pa.string()),
        "key_value": rows.column(0).take(pa.array(where)).cast(pa.int64()),
        "date_key": dates,
        "column_name": pa.array([column] * n, pa.string()),
        "original_value": _text(before) if before is not None else pa.nulls(n, pa.string()),
        "defect_value": _text(after) if after is not None else pa.nulls(n, pa.string()),
    })
