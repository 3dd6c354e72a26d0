"""Declared defects (spec/defects.py) injected into the rows the clock keeps, with their answer key.

Each declared defect hits the rows whose hashed uniform (the row's key with the seed, the table and the
defect's place in the list) falls under its rate, among the rows of its periods; so the same rows are hit
whatever the chunking, parts or as-of, and a row's defect never depends on any other row. Defects of one
table apply in the declared order; each is one row of `_plotsim_defects` naming the table, the row (its key
column and value, and its period's date key), the column, the kind, the value before and the value after,
so the clean table is the messy one with the key undone in reverse order (and the copies dropped).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import Problem
from .calendar import date_keys
from .fanout import field
from .hashing import hashed_uniform

KEY_TABLE = "_plotsim_defects"
ORPHAN_OFFSET = 10**12  # an orphan key: the real one plus this, so no parent row has it
INVALID_VALUES = ("UNKNOWN", "n/a", "")
COPIES = ("duplicate", "near_duplicate")


def key_schema() -> pa.Schema:
    return pa.schema([
        field("defect_number", pa.int64(), "Order of the defect within its table: undo in reverse order."),
        field("table_name", pa.string(), "The table the defect is in."),
        field("kind", pa.string(), "duplicate, near_duplicate, orphan, invalid_value, messy_text, out_of_range "
              "or wrong_timezone."),
        field("key_column", pa.string(), "The table's first column, which with date_key names the row."),
        field("key_value", pa.int64(), "The row's value of key_column, as the table shows it."),
        field("date_key", pa.int32(), "The date key of the row's period; null for rows without one.", nullable=True),
        field("column_name", pa.string(), "The column changed; null for a duplicate (a whole extra row).",
              nullable=True),
        field("original_value", pa.string(), "The clean value, as text; null for a duplicate.", nullable=True),
        field("defect_value", pa.string(), "The value the table shows instead, as text; for a near_duplicate the "
              "copy's value; null for a duplicate.", nullable=True),
    ], metadata={"description": (
        "The answer key of the declared defects: one row per defect injected. A duplicate or near_duplicate is an "
        "extra copy of the row, right after it (the near copy differs in column_name); the other kinds change one "
        "cell in place. Rows come chunk by chunk: order by table_name, key_value, date_key, defect_number.")})


def _period_column(table_schema: pa.Schema, rule) -> str | None:
    if rule is not None and rule.period is not None:
        return rule.period
    return "date_key" if "date_key" in table_schema.names else None


def _own_key(layout: pa.Schema, column: str) -> bool:
    """The table's own key: its first column, unless it is keyed by entity and period (a fact)."""
    return column == layout.names[0] and not (len(layout.names) > 1 and layout.names[1] == "date_key")


def check(plan, schemas: dict[str, pa.Schema], rules: dict) -> list[Problem]:
    """Each declared defect must name a table the spec makes and a column its kind can change."""
    from .tables import static_names

    problems: list[Problem] = []
    static = set(static_names(plan, schemas))
    ranges = {m.name: m.range for m in plan.spec.metrics}
    for table, i, defect in plan.spec.defects.declared():
        path = f"defects.tables.{table}[{i}]"
        if table not in schemas or table in static or table.endswith("_changes"):
            made = ", ".join(n for n in schemas if n not in static)
            problems.append(Problem(f"defects.tables.{table}", f"the spec makes no table {table!r} with entity rows "
                                                                 f"(it makes {made})"))
            continue
        layout = schemas[table]
        if defect.periods is not None and _period_column(layout, rules.get(table)) is None:
            problems.append(Problem(f"{path}.periods", f"{table} has no period column, so its defects cannot be "
                                                       "limited to periods"))
        if defect.column is None:
            continue
        if defect.column not in layout.names:
            problems.append(Problem(f"{path}.column", f"{table} has no column {defect.column!r} (it has "
                                                      f"{', '.join(layout.names)})"))
            continue
        kind = layout.field(defect.column).type
        wrong = {
            "messy_text": None if pa.types.is_string(kind) else "a text column",
            "invalid_value": None if pa.types.is_string(kind) else "a text (category) column",
            "wrong_timezone": None if pa.types.is_timestamp(kind) else "a timestamp column",
            "orphan": None if pa.types.is_integer(kind) and defect.column.endswith("_id")
            and not _own_key(layout, defect.column) else "a foreign key column (an *_id that is not the table's key)",
            "out_of_range": None if ranges.get(defect.column) is not None else "a metric column with a declared range",
        }[defect.kind]
        if wrong:
            problems.append(Problem(f"{path}.column", f"{defect.kind} needs {wrong}; {table}.{defect.column} is "
                                                      f"not one ({kind})"))
    return problems


def inject(plan, chunk: dict[str, pa.Table], rules: dict) -> dict[str, pa.Table]:
    """The chunk with its declared defects and the chunk's rows of the answer key (KEY_TABLE)."""
    keys: list[pa.Table] = []
    out = dict(chunk)
    for table, defects in plan.spec.defects.tables.items():
        if table not in out or not out[table].num_rows:
            continue
        rows = out[table]
        key = rows.column(0).to_numpy().astype(np.int64)
        period_column = _period_column(rows.schema, rules.get(table))
        period = rows[period_column].to_numpy() if period_column else None
        copies: list[pa.Table] = []
        copied: list[np.ndarray] = []  # the row each copy follows
        # cells change in the declared order; copies come last, of each row as it finally is
        for number, defect in sorted(enumerate(defects), key=lambda item: item[1].kind in COPIES):
            u = hashed_uniform(plan.spec.seed, ("defect", table, str(number)), key,
                               *([period.astype("datetime64[D]").astype(np.int64) if period.dtype.kind == "M"
                                  else period] if period is not None else []))
            hit = (u < defect.rate) & _in_periods(plan, defect, period)
            if not hit.any():
                continue
            where = np.flatnonzero(hit)
            second = u[where] / defect.rate  # uniform again, for choices within the defect
            rows, copy, column, before, after = _apply(plan, defect, rows, where, second)
            if copy is not None:
                copies.append(copy)
                copied.append(where)
            keys.append(_key_rows(plan, table, number, defect.kind, rows, where, period, column, before, after))
        out[table] = _with_copies(rows, copies, copied) if copies else rows
    out[KEY_TABLE] = pa.concat_tables(keys).cast(key_schema()) if keys else key_schema().empty_table()
    return out


def _with_copies(rows: pa.Table, copies: list[pa.Table], copied: list[np.ndarray]) -> pa.Table:
    """Each copy right after its row, so the table's order does not depend on the chunking."""
    after = np.concatenate([np.arange(rows.num_rows), *copied])
    order = np.argsort(after, kind="stable")
    return pa.concat_tables([rows, *copies]).take(pa.array(order))


def _in_periods(plan, defect, period) -> np.ndarray | bool:
    if defect.periods is None or period is None:
        return True
    day = period.astype("datetime64[D]") if period.dtype.kind == "M" else None
    lo, hi = defect.periods.from_, defect.periods.until
    if day is None:  # a date key
        lo_key = int(lo.strftime("%Y%m%d")) if lo else -1
        hi_key = int(hi.strftime("%Y%m%d")) if hi else 10**9
        return (period >= lo_key) & (period <= hi_key)
    return (day >= np.datetime64(lo or "0001-01-01")) & (day <= np.datetime64(hi or "9999-12-31"))


def _apply(plan, defect, rows: pa.Table, where: np.ndarray, u: np.ndarray):
    """(rows, extra copies or None, column changed, values before, values after) for the hit rows."""
    if defect.kind in COPIES:
        copy = rows.take(pa.array(where))
        if defect.kind == "duplicate":
            return rows, copy, None, None, None
        column = _near_column(rows.schema)
        if column is None:
            return rows, copy, None, None, None
        before = copy[column]
        after = _changed_text(before, u) if pa.types.is_string(before.type) else \
            pc.add(before, pa.array(1 + (59 * u).astype(np.int64), pa.duration("s")))
        return rows, copy.set_column(copy.schema.get_field_index(column), copy.schema.field(column), after), \
            column, before, after
    column = defect.column
    before = rows[column].take(pa.array(where))
    if defect.kind == "orphan":
        after = pc.add(before, pa.scalar(ORPHAN_OFFSET, before.type))
    elif defect.kind == "invalid_value":
        choices = defect.values or list(INVALID_VALUES)
        after = pa.array([choices[i] for i in np.minimum((u * len(choices)).astype(int), len(choices) - 1)], pa.string())
    elif defect.kind == "messy_text":
        after = _changed_text(before, u)
    elif defect.kind == "wrong_timezone":
        after = pc.add(before, pa.scalar(defect.hours * 3600, pa.duration("s")))
    else:  # out_of_range: beyond the declared range, by half to twice its width
        low, high = plan.spec.metric(column).range
        width = (high - low) * (0.5 + 1.5 * u)
        beyond = np.where(u < 0.5, low - width, high + width)
        if low >= 0 and high > 0:  # a non-negative metric: above it (a negative is another kind of wrong)
            beyond = high + width
        after = pa.array(np.round(beyond, 2) if not pa.types.is_integer(before.type) else np.round(beyond)).cast(
            before.type, safe=False)
    index = rows.schema.get_field_index(column)
    full = rows[column].combine_chunks()
    mask = np.zeros(rows.num_rows, dtype=bool)
    mask[where] = True
    replaced = pc.replace_with_mask(full, pa.array(mask), pa.concat_arrays(
        after.chunks if isinstance(after, pa.ChunkedArray) else [after]).cast(full.type))
    return rows.set_column(index, rows.schema.field(column), replaced), None, column, before, after


def _near_column(schema: pa.Schema) -> str | None:
    """What a near copy changes: the first text column that is not a key, else the first timestamp."""
    for kind in (pa.types.is_string, pa.types.is_timestamp):
        for f in schema:
            if kind(f.type) and not f.name.endswith(("_id", "_key")) and not f.name.startswith("_"):
                return f.name
    return None


def _changed_text(values, u: np.ndarray) -> pa.Array:
    """Case, padding or a dropped character, chosen per value; always different from the clean value."""
    text = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    style = np.minimum((u * 3).astype(int), 2)
    upper, lower = pc.utf8_upper(text), pc.utf8_lower(text)
    cased = pc.if_else(pc.equal(upper, text), lower, upper)
    padded = pc.binary_join_element_wise("  ", text, " ", "")  # leading, and a trailing space
    dropped = pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, 1), pc.utf8_slice_codeunits(text, 2), "")
    pick = pc.case_when(pc.make_struct(pa.array(style == 0), pa.array(style == 1)), cased, dropped, padded)
    return pc.if_else(pc.equal(pick, text), padded, pick)  # "" or one character: padding still shows


def _text(values) -> pa.Array:
    if values is None:
        return None
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return array.cast(pa.string())


def _key_rows(plan, table, number, kind, rows, where, period, column, before, after) -> pa.Table:
    n = len(where)
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
