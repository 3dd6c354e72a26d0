"""Exact rates re-checked on the data (verify.py's `rates` check): each period's rows of an event or
transaction declared `{mean, exact: true}` number the count its plan holds (engine/exact_rates.py)."""
from __future__ import annotations

from .engine.calendar import date_keys
from .engine.clock import last_period
from .writers.duckdb import quote


def check_rates(conn, schema: str, plan, present: set[str], found) -> None:
    if plan.exact_rates is None:
        return
    keys = [int(k) for k in date_keys(plan.starts)[: last_period(plan) + 1]]
    compared = 0
    for solved in plan.exact_rates.solved.values():
        source = solved.source
        if source.table not in present:
            continue
        relation = f"{quote(schema)}.{quote(source.table)}"
        where = f" where event_type = '{source.event}'" if source.typed else ""  # identifiers: no quotes inside
        data = dict(conn.execute(f"select date_key, count(*) from {relation}{where} group by 1").fetchall())
        what = f"{source.event} rows" if source.typed else "rows"
        for p, key in enumerate(keys):
            compared += 1
            held, got = int(solved.target[p]), int(data.get(key) or 0)
            if held != got:
                found.failures.append(f"rates: {source.table} has {got:,} {what} in period {key}, the exact rate "
                                      f"holds {held:,} ({source.path})")
    found.checked.append(f"rates: {compared} period counts")
