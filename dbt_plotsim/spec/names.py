"""Every table a spec makes, who makes it, and the one check that no two parts make the same table.

Parts are listed in output order; when two claim a table the later one is reported, under its own path,
naming the earlier owner. Tables named `_plotsim_*` hold the package's own state and are never generated.
"""
from __future__ import annotations

from typing import NamedTuple

from ..errors import Problem
from .schema import event_tables

RESERVED_PREFIX = "_plotsim"


class Claim(NamedTuple):
    table: str
    owner: str  # reads after "is already", e.g. "the fact table of metric mrr"
    path: str  # where the owner is declared, for the error


def table_claims(spec) -> list[Claim]:
    unit = spec.unit
    claims = [Claim("dim_date", "the date dimension", "unit"), Claim(f"dim_{unit}", f"the {unit} dimension", "unit")]
    for table in getattr(getattr(spec, "tables", None), "dims", ()) or ():
        claims.append(Claim(table.name, f"declared dimension {table.name}", f"tables.dims.{table.name}"))
    for table in getattr(spec, "reference", ()) or ():
        claims.append(Claim(f"dim_{table.name}", f"reference table {table.name}", f"reference.{table.name}"))
    tables = getattr(spec, "tables", None)
    for bridge in getattr(tables, "bridges", ()) or ():
        claims.append(Claim(bridge.table(unit), f"bridge {bridge.table(unit)}", f"tables.bridges.{bridge.key}"))
    for child in getattr(spec, "children", ()) or ():
        path = f"children.{child.name}"
        claims.append(Claim(f"dim_{child.name}", f"the table of sub-entity {child.name}", path))
        claims.extend(Claim(f"evt_{child.name}_{e.name}", f"event {e.name} of sub-entity {child.name}", path)
                      for e in child.events)
    for tx in getattr(spec, "transactions", ()) or ():
        path = f"transactions.{tx.name}"
        claims.append(Claim(f"fct_{tx.name}", f"the table of transaction {tx.name}", path))
        if tx.lines is not None:
            claims.append(Claim(f"fct_{tx.name}_line", f"the line table of transaction {tx.name}", path))
    for item in getattr(spec, "history", ()) or ():
        claims.append(Claim(item.table(unit), f"the history of {item.attribute}", f"history.{item.attribute}"))
    if getattr(spec, "stages", None) is not None:
        claims.append(Claim(spec.stages.table(unit), "the stage table", "stages"))
    if tables is not None and tables.facts is not None:
        claims.extend(Claim(f.name, f"declared fact table {f.name}", f"tables.facts.{f.name}") for f in tables.facts)
    else:
        claims.extend(Claim(f"fct_{m.name}", f"the fact table of metric {m.name}", f"metrics.{m.name}")
                      for m in spec.metrics)
    for table, events, declared in event_tables(spec):
        claims.append(Claim(table, f"event table {table}", f"tables.events.{table}") if declared is not None
                      else Claim(table, f"event {events[0]}", f"events.{events[0]}"))
    if tables is None or tables.trajectory:
        claims.append(Claim("trajectory", "the trajectory table", "tables.trajectory"))
    if getattr(spec, "experiments", None):
        claims.append(Claim(f"dim_{unit}_experiment", "the experiment assignments", "experiments"))
    if getattr(spec, "features", None) is not None:
        claims.append(Claim(f"features_{unit}", "the feature table", "features"))
    for name in getattr(spec, "systems", None) or {}:
        claims.append(Claim(f"src_{name}_{unit}", f"the table of system {name}", f"systems.{name}"))
    return claims


TRAJECTORY = "trajectory"


def check_table_names(spec) -> list[Problem]:
    problems: list[Problem] = []
    owners: dict[str, Claim] = {}
    for claim in table_claims(spec):
        if claim.table == TRAJECTORY and claim.path != "tables.trajectory":
            problems.append(Problem(claim.path, f"its table {TRAJECTORY} has the name kept for the ground-truth "
                                    "trajectory table (also when tables.trajectory is false); rename it"))
            continue
        if claim.table.startswith(RESERVED_PREFIX):
            problems.append(Problem(claim.path, f"its table {claim.table} starts with '{RESERVED_PREFIX}', kept for "
                                    "the package's own tables; rename it"))
        first = owners.setdefault(claim.table, claim)
        if first is not claim and first.owner != claim.owner:
            problems.append(Problem(claim.path, f"its table {claim.table} is already {first.owner}; rename one of them"))
    return problems


def check_metric_names(spec) -> list[Problem]:
    """A metric is a column of a fact table next to its keys, so it cannot take a key's name."""
    keys = ("date_key", f"{spec.unit}_id")
    return [Problem(f"metrics.{m.name}", f"'{m.name}' is a key column of every fact table ({', '.join(keys)}); "
                    "give the metric another name") for m in spec.metrics if m.name in keys]
