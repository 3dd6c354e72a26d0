"""Optional declaration of the tables: which metrics go in which fact table, which attributes in which
dimension, which events in which event table, and bridge tables.

Without `facts` each metric gets its own fact table `fct_<metric>`; without `dims` every attribute is a
column of `dim_<unit>`; without `events` each event gets its own table `evt_<event>`. A bridge is a many-to-many table between the unit and
a reference table (accounts and the features they use, patients and their diagnoses): each entity gets a
number of distinct members that follows its trajectory, each added in the period its count first reached it.
"""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .attributes import Weights
from .base import Identifier, StrictModel

MAX_MEMBERS = 1000  # members an entity can have in one bridge


class FactTable(StrictModel):
    name: Identifier
    metrics: tuple[Identifier, ...] = Field(min_length=1)
    description: str | None = None


class DimTable(StrictModel):
    """A 1:1 extension of dim_<unit> holding some attributes (contact details kept apart, say)."""

    name: Identifier
    attributes: tuple[Identifier, ...] = Field(min_length=1)
    description: str | None = None


class EventTable(StrictModel):
    """One table for several events, told apart by `event_type`."""

    name: Identifier
    events: tuple[Identifier, ...] = Field(min_length=1)
    description: str | None = None


class Members(StrictModel):
    """Members per entity: `min` at trajectory position 0 to `max` at position 1 (the other way round with
    polarity negative), never falling."""

    min: int = Field(1, description="members at position 0")
    max: int = Field(description="members at position 1; at most the reference table's rows")
    polarity: Literal["positive", "negative"] = Field("positive", description="negative: more members as the "
                                                      "trajectory falls (diagnoses of a declining patient)")

    follows: ClassVar[str] = "trajectory"  # the per-parent rule of sub-entity counts, fixed for members
    removals: ClassVar[bool] = False


class Bridge(StrictModel):
    reference: Identifier = Field(description="the reference table on the other side")
    name: Identifier | None = Field(None, description="table name; default bridge_<unit>_<reference>")
    per_entity: Members
    weights: Weights | None = Field(None, description="how likely each member is, by label; default equal")
    description: str | None = None

    @property
    def key(self) -> str:
        """Its name in error paths: tables.bridges.<key>."""
        return self.name or self.reference

    def table(self, unit: str) -> str:
        return self.name or f"bridge_{unit}_{self.reference}"


class Tables(StrictModel):
    facts: tuple[FactTable, ...] | None = None
    dims: tuple[DimTable, ...] = ()
    events: tuple[EventTable, ...] = ()
    bridges: tuple[Bridge, ...] = ()
    trajectory: bool = Field(True, description="emit the ground-truth trajectory table")
    truth: bool = Field(True, description=(
        "emit the truth tables: per-period figures of the rows written and the delivered correlations and lags"))


def event_tables(spec) -> list[tuple[str, tuple[str, ...], EventTable | None]]:
    """(table, its events, its declaration or None for a default evt_<event>), in the order of the events."""
    declared = {e: t for t in spec.tables.events for e in t.events}
    out: list[tuple[str, tuple[str, ...], EventTable | None]] = []
    for event in spec.events:
        table = declared.get(event.name)
        if table is None:
            out.append((f"evt_{event.name}", (event.name,), None))
        elif table.name not in [name for name, _, _ in out]:
            out.append((table.name, tuple(table.events), table))
    return out


def dim_of(spec) -> dict[str, str]:
    """attribute -> the declared dimension holding it (attributes not listed stay in dim_<unit>)."""
    return {a: t.name for t in spec.tables.dims for a in t.attributes}


def check_placement(spec) -> list:
    """Declared dims and event tables: known attributes and events, each placed once."""
    from collections import Counter

    from ..errors import Problem
    from .checks import suggest

    problems: list[Problem] = []
    tables = getattr(spec, "tables", None)
    for section, items, known, kind in (
        ("dims", getattr(tables, "dims", ()) or (), [a.name for a in getattr(spec, "attributes", ()) or ()], "attribute"),
        ("events", getattr(tables, "events", ()) or (), [e.name for e in getattr(spec, "events", ()) or ()], "event"),
    ):
        placed: Counter[str] = Counter()
        for name, count in Counter(t.name for t in items).items():
            if count > 1:
                problems.append(Problem(f"tables.{section}.{name}", "table name used more than once"))
        for table in items:
            key = "attributes" if section == "dims" else "events"
            for name in getattr(table, key):
                placed[name] += 1
                if name not in known:
                    problems.append(Problem(f"tables.{section}.{table.name}.{key}", (
                        f"unknown {kind} '{name}'; {suggest(name, known) if known else f'no {kind}s are declared'}")))
        for name, count in sorted(placed.items()):
            if count > 1 and name in known:
                problems.append(Problem(f"tables.{section}", f"{kind} '{name}' is in {count} tables; place it once"))
    return problems


def check_bridges(spec) -> list:
    from collections import Counter

    from ..errors import Problem
    from .attributes import check_label_weights, undeclared_table

    problems: list[Problem] = []
    tables = getattr(spec, "tables", None)
    bridges = getattr(tables, "bridges", ()) or ()
    reference = {t.name: t for t in getattr(spec, "reference", ()) or ()}
    for key, count in Counter(b.key for b in bridges).items():
        if count > 1:
            problems.append(Problem(f"tables.bridges.{key}", "listed more than once; give each bridge its own `name`"))
    for bridge in bridges:
        path = f"tables.bridges.{bridge.key}"
        members = bridge.per_entity
        if members.min < 0:
            problems.append(Problem(f"{path}.per_entity.min", f"{members.min} is a member count below zero; counts are 0 or more"))
        if members.max < members.min:
            problems.append(Problem(f"{path}.per_entity.max", f"max {members.max} is below min {members.min}"))
        if members.max > MAX_MEMBERS:
            problems.append(Problem(f"{path}.per_entity.max", f"{members.max:,} is above the limit of {MAX_MEMBERS:,}"))
        table = reference.get(bridge.reference)
        if table is None:
            problems.append(Problem(f"{path}.reference", undeclared_table(bridge.reference, reference)))
            continue
        if members.max > len(table.rows):
            problems.append(Problem(f"{path}.per_entity.max", (
                f"{members.max} members, but reference.{table.name} has {len(table.rows)} rows; an entity's members "
                "are distinct rows")))
        if bridge.weights is None:
            continue
        found = check_label_weights(f"{path}.weights", bridge.weights, table)
        problems.extend(found)
        positive = sum(1 for w in bridge.weights.values() if w > 0)
        if not found and positive < members.max:
            problems.append(Problem(f"{path}.weights", (
                f"{positive} rows have a weight above 0, fewer than per_entity.max {members.max}; unlisted rows "
                "have weight 0")))
    return problems
