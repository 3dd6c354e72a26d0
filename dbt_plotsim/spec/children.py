"""Sub-entities: units under the main unit (users under companies), with their own dim table.

Each parent has `count[t]` sub-entities in period t: `min + (max - min) x position` rounded, or the value
of a count metric clipped to [min, max]. A sub-entity is created when the count rises; when it falls, the
most recently created ones are removed first (or, with `removals: false`, the count never falls).
"""
from __future__ import annotations

from collections import Counter

from pydantic import Field

from ..errors import Problem
from .base import Identifier, StrictModel
from .lifecycle import Rate

MAX_PER_PARENT = 100_000  # sub-entities a parent can have at once


class PerParent(StrictModel):
    """How many sub-entities a parent has in each period."""

    min: int = Field(0, description="count at trajectory position 0; a floor when following a metric")
    max: int | None = Field(None, description="count at trajectory position 1; a cap when following a metric")
    follows: Identifier = Field("trajectory", description="`trajectory`, or a count metric whose value is the count")
    removals: bool = Field(True, description="remove the newest sub-entities when the count falls")


class ChildEvent(StrictModel):
    """Rate-driven events of each sub-entity (logins of a user): Poisson per sub-entity and period."""

    name: Identifier
    rate: Rate
    description: str | None = None


class Child(StrictModel):
    name: Identifier
    per_parent: PerParent
    events: tuple[ChildEvent, ...] = ()
    description: str | None = None


def followable(spec) -> list[str]:
    return ["trajectory", *(m.name for m in getattr(spec, "metrics", ()) or ())]


def unknown_metric(name: str, spec) -> str:
    from .checks import suggest

    return f"unknown metric '{name}'; {suggest(name, followable(spec))}"


def check_children(spec) -> list[Problem]:
    children = getattr(spec, "children", ()) or ()
    problems = _check_names(children, spec)
    metrics = {m.name: m for m in getattr(spec, "metrics", ()) or ()}
    for child in children:
        path = f"children.{child.name}"
        problems.extend(_check_per_parent(f"{path}.per_parent", child.per_parent, spec, metrics))
        for name, count in Counter(e.name for e in child.events).items():
            if count > 1:
                problems.append(Problem(f"{path}.events.{name}", "event name used more than once; names must be unique"))
        for event in child.events:
            if event.rate.follows not in followable(spec):
                problems.append(Problem(f"{path}.events.{event.name}.rate.follows", unknown_metric(event.rate.follows, spec)))
    return problems


def _check_names(children, spec) -> list[Problem]:
    """Unique names, and keys that are not the unit's (tables are checked with every other table's)."""
    problems: list[Problem] = []
    for name, count in Counter(c.name for c in children).items():
        if count > 1:
            problems.append(Problem(f"children.{name}", "sub-entity name used more than once; names must be unique"))
    unit = getattr(spec, "unit", None)
    for child in children:
        path = f"children.{child.name}"
        if child.name == unit:
            problems.append(Problem(path, f"'{child.name}' is the unit itself; name the sub-entity after what it is"))
            continue
        for event in child.events:
            if f"{child.name}_{event.name}" == unit:
                problems.append(Problem(f"{path}.events.{event.name}", (
                    f"its key {unit}_id would also be the unit's key in evt_{child.name}_{event.name}; rename it")))
    return problems


def _check_per_parent(path: str, per: PerParent, spec, metrics: dict) -> list[Problem]:
    problems: list[Problem] = []
    for key in ("min", "max"):
        value = getattr(per, key)
        if value is not None and value < 0:
            problems.append(Problem(f"{path}.{key}", f"{value} is a sub-entity count below zero; counts are 0 or more"))
        elif value is not None and value > MAX_PER_PARENT:
            problems.append(Problem(f"{path}.{key}", f"{value:,} is above the limit of {MAX_PER_PARENT:,} per parent"))
    if per.max is not None and per.min > per.max:
        problems.append(Problem(f"{path}.min", f"min {per.min} is above max {per.max}"))
    if per.follows == "trajectory":
        if per.max is None:
            problems.append(Problem(f"{path}.max", "is required with follows: trajectory "
                                    "(the count runs from min at position 0 to max at position 1)"))
    elif per.follows not in metrics:
        problems.append(Problem(f"{path}.follows", unknown_metric(per.follows, spec)))
    elif metrics[per.follows].type != "count":
        counts = sorted(name for name, m in metrics.items() if m.type == "count")
        problems.append(Problem(f"{path}.follows", (
            f"'{per.follows}' is of type {metrics[per.follows].type}; the count follows the trajectory or equals "
            f"a count metric's value (count metrics: {counts})")))
    return problems
