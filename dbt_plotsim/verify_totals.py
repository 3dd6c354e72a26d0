"""Declared totals re-checked on the data (verify.py's `totals` check): each period's rows add up to the
total the spec declares (or the nearest that holds, with `calibration.on_conflict: nearest`), to the cent."""
from __future__ import annotations

from .engine.calendar import date_keys
from .engine.clock import last_period
from .writers.duckdb import quote


def check_totals(conn, schema: str, plan, present: set[str], found) -> None:
    if plan.totals is None:
        return
    keys = [int(k) for k in date_keys(plan.starts)[: last_period(plan) + 1]]
    compared = 0
    for solved in plan.totals.solved:
        target = solved.target
        if target.table not in present:
            continue
        relation = f"{quote(schema)}.{quote(target.table)}"
        data = dict(conn.execute(f"select date_key, round(sum({quote(target.column)}) * 100)::hugeint from {relation} "
                                 "group by 1").fetchall())
        for p, key in enumerate(keys):
            compared += 1
            declared, got = int(solved.cents[p]), int(data.get(key) or 0)
            if declared != got:
                found.failures.append(f"totals: {target.table}.{target.column} in period {key} adds up to "
                                      f"{got / 100:,.2f}, declared {declared / 100:,.2f} ({target.path})")
    found.checked.append(f"totals: {compared} period totals")
