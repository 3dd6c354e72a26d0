"""Per-period figures the plan holds, re-checked on the data (verify.py's `totals` and `rates` checks):
each period's rows add up to the declared total (or the nearest that holds, with `calibration.on_conflict:
nearest`) to the cent, and each exact rate's rows number the count its plan holds (engine/exact_rates.py)."""
from __future__ import annotations

from typing import Callable

from .engine.calendar import date_keys
from .engine.clock import last_period
from .writers.duckdb import quote


def check_totals(conn, schema: str, plan, present: set[str], found) -> None:
    if plan.totals is None:
        return
    compared = 0
    for solved in plan.totals.solved:
        target = solved.target
        if target.table not in present:
            continue
        data = _per_period(conn, f"select date_key, round(sum({quote(target.column)}) * 100)::hugeint from "
                                 f"{quote(schema)}.{quote(target.table)} group by 1")
        compared += _compare(plan, solved.cents, data, found, lambda key, held, got: (
            f"totals: {target.table}.{target.column} in period {key} adds up to {got / 100:,.2f}, declared "
            f"{held / 100:,.2f} ({target.path})"))
    found.checked.append(f"totals: {compared} period totals")


def check_rates(conn, schema: str, plan, present: set[str], found) -> None:
    if plan.exact_rates is None:
        return
    compared = 0
    for solved in plan.exact_rates.solved.values():
        source = solved.source
        if source.table not in present:
            continue
        where = f" where event_type = '{source.event}'" if source.typed else ""  # identifiers: no quotes inside
        data = _per_period(conn, f"select date_key, count(*) from {quote(schema)}.{quote(source.table)}{where} "
                                 "group by 1")
        what = f"{source.event} rows" if source.typed else "rows"
        compared += _compare(plan, solved.target, data, found, lambda key, held, got: (
            f"rates: {source.table} has {got:,} {what} in period {key}, the exact rate holds {held:,} "
            f"({source.path})"))
    found.checked.append(f"rates: {compared} period counts")


def _per_period(conn, sql: str) -> dict[int, int]:
    return {int(key): int(value or 0) for key, value in conn.execute(sql).fetchall() if key is not None}


def _compare(plan, held, data: dict[int, int], found, failure: Callable[[int, int, int], str]) -> int:
    """Each period up to as_of: the plan's figure against the data's; the periods compared."""
    keys = [int(k) for k in date_keys(plan.starts)[: last_period(plan) + 1]]
    for p, key in enumerate(keys):
        want, got = int(held[p]), data.get(key, 0)
        if want != got:
            found.failures.append(failure(key, want, got))
    return len(keys)
