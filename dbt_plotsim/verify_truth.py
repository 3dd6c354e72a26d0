"""The truth tables' counts and sums recomputed from the rows (verify.py's `truth` check)."""
from __future__ import annotations

import math
from collections import defaultdict

from .writers.duckdb import quote

TRUTH_TABLE = "_plotsim_truth"
RELATIVE = 1e-9  # sums of doubles added in another order
COUNTED = {"rows": "count(*)", "non_null": "count({c})", "sum": "sum({c})"}
ENTITY_COLUMNS = {"arriving_entities": "first_date_key", "ending_entities": "ended_date_key"}


def check_truth(conn, schema: str, tables: set[str], found) -> None:
    """Every overall (all segments) row, non-null and sum truth of the given tables, per period."""
    s = quote(schema)
    truth = conn.execute(f"select table_name, column_name, measure, date_key, value from {s}.{TRUTH_TABLE} "
                         "where segment is null and category is null").fetchall()
    wanted: dict[str, dict[tuple, float]] = defaultdict(dict)
    for table, column, measure, key, value in truth:
        if table in tables and (measure in COUNTED or measure in ENTITY_COLUMNS):
            wanted[table][(column, measure, key)] = value
    compared = 0
    for table, values in sorted(wanted.items()):
        columns = sorted({c for c, m, _ in values if c is not None and m in COUNTED})
        table_columns = {r[0] for r in conn.execute(f"describe {s}.{quote(table)}").fetchall()}
        got = _recomputed(conn, f"{s}.{quote(table)}", columns, table_columns, {m for _, m, _ in values})
        arrivals = [key for _, m, key in values if m == "arriving_entities" and key is not None]
        if arrivals and "first_date_key" not in table_columns:  # no arrivals declared: all there from the start
            got[(None, "arriving_entities", min(arrivals))] = got.get((None, "rows", None), 0)
        for (column, measure, key), value in sorted(values.items(), key=lambda kv: str(kv[0])):
            compared += 1
            now = got.get((column, measure, key), 0.0)
            if not _same(value, now, measure):
                what = f"{table}.{column}" if column else table
                found.failures.append(f"truth: {what} {measure} in period {key}: truth {value:,.6g}, data {now:,.6g}")
    found.checked.append(f"truth: {compared:,} period figures of {len(wanted)} tables")


def _recomputed(conn, relation: str, columns: list[str], present: set[str], measures: set[str]) -> dict:
    """Figures per date key (None: the rows without one, or the whole table when it has no date_key)."""
    out: dict[tuple, float] = {}
    if measures & set(COUNTED):
        parts = ["count(*)"] + [COUNTED[m].format(c=quote(c)) for c in columns for m in ("non_null", "sum")]
        period = "date_key" if "date_key" in present else "cast(null as integer)"
        for row in conn.execute(f"select {period}, {', '.join(parts)} from {relation} group by 1").fetchall():
            key = row[0]
            out[(None, "rows", key)] = row[1]
            for i, column in enumerate(columns):
                out[(column, "non_null", key)] = row[2 + 2 * i]
                out[(column, "sum", key)] = float(row[3 + 2 * i] or 0)
    for measure, column in ENTITY_COLUMNS.items():
        if measure in measures and column in present:
            for key, count in conn.execute(f"select {quote(column)}, count(*) from {relation} "
                                           f"where {quote(column)} is not null group by 1").fetchall():
                out[(None, measure, key)] = count
    return out


def _same(truth: float, data: float, measure: str) -> bool:
    if measure != "sum":
        return truth == data
    return math.isclose(truth, data, rel_tol=RELATIVE, abs_tol=1e-6)
