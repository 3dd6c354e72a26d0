"""Exact rates re-checked on the data (verify.py's `rates` check): each period's rows of an event declared
`rate: {mean, exact: true}` number the count its plan holds (engine/exact_rates.py), row for row."""
from __future__ import annotations

from .engine.calendar import date_keys
from .engine.clock import last_period
from .spec.schema import event_tables
from .writers.duckdb import quote


def check_rates(conn, schema: str, plan, present: set[str], found) -> None:
    if plan.exact_rates is None:
        return
    keys = [int(k) for k in date_keys(plan.starts)[: last_period(plan) + 1]]
    tables = {event: (table, declared is not None) for table, events, declared in event_tables(plan.spec)
              for event in events}
    compared = 0
    for name, solved in plan.exact_rates.solved.items():
        table, shared = tables[name]
        if table not in present:
            continue
        where = f" where event_type = '{name}'" if shared else ""  # names are identifiers: no quotes inside
        data = dict(conn.execute(f"select date_key, count(*) from {quote(schema)}.{quote(table)}{where} "
                                 "group by 1").fetchall())
        for p, key in enumerate(keys):
            compared += 1
            held, got = int(solved.target[p]), int(data.get(key) or 0)
            if held != got:
                found.failures.append(f"rates: {table} has {got:,} {name} rows in period {key}, the exact rate "
                                      f"holds {held:,} ({solved.path})")
    found.checked.append(f"rates: {compared} period counts")
