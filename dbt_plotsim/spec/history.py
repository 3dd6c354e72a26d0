"""Attributes that change with the trajectory (SCD2 history) and lifecycle stages.

history:
  - attribute: plan
    values: [starter, pro, enterprise]            # ordered low -> high
    initial: {follows: trajectory}                # or {weights: [0.6, 0.3, 0.1]} or {value: starter}
    up_when: {metric: trajectory, above: 0.7, for: 2}
    down_when: {metric: engagement, below: 0.3, for: 2}
    current_table: true                           # also dim_<unit>_plan_current, to run dbt snapshot over

stages:
  states: [trial, active, at_risk, churned]
  initial: trial                                  # default: the first state
  transitions:
    - {from: trial, to: active, after: 1}
    - {from: active, to: at_risk, when: {metric: engagement, below: 0.35, for: 2}}
    - {from: [active, at_risk], to: churned, event: churn}
"""
from __future__ import annotations

from collections import Counter

from pydantic import Field

from ..errors import Problem
from .base import Identifier, StrictModel
from .lifecycle import Condition

# Columns every history table has besides the attribute itself (the attribute must not take these names).
HISTORY_COLUMNS = ("valid_from", "valid_to", "is_current", "updated_at")


class Initial(StrictModel):
    """The value at arrival: from a metric's (or the trajectory's) quantile, by weights, or one fixed value."""

    follows: Identifier | None = None
    weights: tuple[float, ...] | None = None
    value: str | None = None


class History(StrictModel):
    attribute: Identifier
    values: tuple[str, ...] = Field(description="ordered from lowest to highest")
    initial: Initial = Initial(follows="trajectory")
    up_when: Condition | None = None
    down_when: Condition | None = None
    description: str | None = None
    current_table: bool = Field(False, description="also write dim_<unit>_<attribute>_current: the current state "
                                "as a source system shows it at window.as_of, for dbt snapshot")

    def table(self, unit: str) -> str:
        return f"dim_{unit}_{self.attribute}_history"

    def current(self, unit: str) -> str:
        return f"dim_{unit}_{self.attribute}_current"


class Transition(StrictModel):
    """One allowed move between stages, taken when its trigger holds (exactly one of after, when, event)."""

    source: Identifier | tuple[Identifier, ...] = Field(alias="from")
    to: Identifier
    after: int | None = Field(None, ge=1, le=10_000, description="periods spent in the `from` stage")
    when: Condition | None = None
    event: Identifier | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else tuple(self.source)


class Stages(StrictModel):
    states: tuple[Identifier, ...] = ()
    initial: Identifier | None = Field(None, description="stage at arrival; default: the first state")
    transitions: tuple[Transition, ...] = ()
    description: str | None = None

    @property
    def start(self) -> str:
        return self.initial or self.states[0]

    def table(self, unit: str) -> str:
        return f"fct_{unit}_stage"


def dim_columns(spec) -> set[str]:
    """Columns of dim_<unit> made by the core and by attributes (a history attribute adds one too)."""
    unit = spec.unit
    base = {f"{unit}_id", f"{unit}_code", "segment", "archetype", "start_position", "end_position",
            "first_date_key", "ended_date_key"}
    return base | {getattr(a, "column", None) or a.name for a in getattr(spec, "attributes", ()) or ()}


def check_history(spec) -> list[Problem]:
    from .checks import suggest  # checks imports this module

    problems: list[Problem] = []
    followable = ["trajectory", *(m.name for m in spec.metrics)]
    events = [e.name for e in getattr(spec, "events", ()) or ()]
    taken = dim_columns(spec)
    names = [h.attribute for h in spec.history]
    for name, count in sorted(Counter(names).items()):
        if count > 1:
            problems.append(Problem(f"history.{name}", "attribute used more than once; each has one history"))
    for item in spec.history:
        path = f"history.{item.attribute}"
        if item.attribute in taken or item.attribute in HISTORY_COLUMNS:
            problems.append(Problem(f"{path}.attribute", (
                f"'{item.attribute}' is already a column of dim_{spec.unit} or of the history table; "
                f"taken: {sorted(taken | set(HISTORY_COLUMNS))}")))
        values = list(item.values)
        if len(values) < 2:
            problems.append(Problem(f"{path}.values", f"{values} needs at least two values to change between"))
        for value, count in sorted(Counter(values).items()):
            if count > 1:
                problems.append(Problem(f"{path}.values", f"'{value}' is listed {count} times; values must be unique"))
        if any(not v.strip() for v in values):
            problems.append(Problem(f"{path}.values", "values cannot be empty text"))
        problems.extend(_check_initial(f"{path}.initial", item.initial, values, followable, suggest))
        if item.up_when is None and item.down_when is None:
            problems.append(Problem(path, "give `up_when`, `down_when` or both; without them the value never changes"))
        for key in ("up_when", "down_when"):
            when = getattr(item, key)
            if when is not None:
                problems.extend(check_condition(spec, f"{path}.{key}", when, followable, suggest))
    if spec.stages is not None:
        problems.extend(_check_stages(spec, spec.stages, followable, events, suggest))
    return problems


def _check_initial(path: str, initial: Initial, values: list[str], followable: list[str], suggest) -> list[Problem]:
    given = [k for k in ("follows", "weights", "value") if getattr(initial, k) is not None]
    if len(given) != 1:
        return [Problem(path, f"give one of `follows` (a metric or trajectory), `weights` or `value`; got {given or 'none'}")]
    if initial.follows is not None and initial.follows not in followable:
        return [Problem(f"{path}.follows", f"unknown metric '{initial.follows}'; {suggest(initial.follows, followable)}")]
    if initial.value is not None and initial.value not in values:
        return [Problem(f"{path}.value", f"'{initial.value}' is not one of the values {values}")]
    if initial.weights is not None:
        weights = initial.weights
        if len(weights) != len(values):
            return [Problem(f"{path}.weights", f"{len(weights)} weights for {len(values)} values; give one per value")]
        if any(not (w >= 0) for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
            return [Problem(f"{path}.weights", f"{list(weights)} must be shares of at least 0 that add up to 1")]
    return []


def check_condition(spec, path: str, when: Condition, followable: list[str], suggest) -> list[Problem]:
    """A known metric, one of below/above, and a level strictly inside the values the metric can take."""
    from .checks import _check_condition

    return _check_condition(spec, path, when, followable, "the condition would never or always hold")


def _check_stages(spec, stages: Stages, followable, events, suggest) -> list[Problem]:
    problems: list[Problem] = []
    states = list(stages.states)
    if len(states) < 2:
        problems.append(Problem("stages.states", f"{states} needs at least two states to move between"))
    for state, count in sorted(Counter(states).items()):
        if count > 1:
            problems.append(Problem("stages.states", f"'{state}' is listed {count} times; states must be unique"))
    if stages.initial is not None and stages.initial not in states:
        problems.append(Problem("stages.initial", f"'{stages.initial}' is not a state; {suggest(stages.initial, states)}"))
    if not stages.transitions:
        problems.append(Problem("stages.transitions", "list at least one transition; a move not declared never happens"))
    for index, move in enumerate(stages.transitions):
        path = f"stages.transitions[{index}]"
        for source in move.sources:
            if source not in states:
                problems.append(Problem(f"{path}.from", f"unknown stage '{source}'; {suggest(source, states)}"))
        if move.to not in states:
            problems.append(Problem(f"{path}.to", f"unknown stage '{move.to}'; {suggest(move.to, states)}"))
        if move.to in move.sources:
            problems.append(Problem(f"{path}.to", f"'{move.to}' is also its `from`; a transition changes the stage"))
        if len(set(move.sources)) != len(move.sources) or not move.sources:
            problems.append(Problem(f"{path}.from", "list each stage once, at least one"))
        triggers = [k for k in ("after", "when", "event") if getattr(move, k) is not None]
        if len(triggers) != 1:
            problems.append(Problem(path, (f"give one trigger: `after` (periods in the stage), `when` (a condition) "
                                           f"or `event` (an event's name); got {triggers or 'none'}")))
        if move.when is not None:
            problems.extend(check_condition(spec, f"{path}.when", move.when, followable, suggest))
        if move.event is not None and move.event not in events:
            problems.append(Problem(f"{path}.event", f"unknown event '{move.event}'; {suggest(move.event, events)}"))
    return problems
