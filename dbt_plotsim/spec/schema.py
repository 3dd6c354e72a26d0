"""Optional declaration of the tables: fact tables (which metrics go where) and bridge tables.

Without `facts` each metric gets its own fact table. A bridge is a many-to-many table between the unit and
a reference table (accounts and the features they use, patients and their diagnoses): each entity gets a
number of distinct members that follows its trajectory, each added in the period its count first reached it.
"""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .attributes import Weights
from .base import Identifier, StrictModel

MAX_MEMBERS = 1000  # members an entity can have in one bridge


class FactTable(StrictModel):
    name: Identifier
    metrics: tuple[Identifier, ...] = Field(min_length=1)
    description: str | None = None


class Members(StrictModel):
    """Members per entity: `min` at trajectory position 0 to `max` at position 1, never falling."""

    min: int = Field(1, description="members at position 0")
    max: int = Field(description="members at position 1; at most the reference table's rows")

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
    bridges: tuple[Bridge, ...] = ()
    trajectory: bool = Field(True, description="emit the ground-truth trajectory table")


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
