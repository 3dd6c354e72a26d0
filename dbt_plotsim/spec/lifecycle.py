"""When entities arrive in the window, and the events that happen to them (logins, churn)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Identifier, StrictModel
from .payload import PayloadField

ArrivalPattern = Literal["start", "uniform", "ramp_up", "ramp_down", "steps"]


class ArrivalStep(StrictModel):
    at: float = Field(ge=0.0, lt=1.0, description="fraction of the window")
    share: float = Field(gt=0.0, le=1.0)


class Arrivals(StrictModel):
    """Arrival periods of a segment's entities: all at the start, or spread over [from, until]."""

    pattern: ArrivalPattern = "start"
    start: float = Field(0.0, alias="from", ge=0.0, lt=1.0)
    until: float = Field(0.8, gt=0.0, le=1.0)
    steps: tuple[ArrivalStep, ...] = ()


class Condition(StrictModel):
    """A metric (or the trajectory) staying below or above a level for `for` consecutive periods."""

    metric: Identifier = "trajectory"
    below: float | None = None
    above: float | None = None
    periods: int = Field(1, alias="for", ge=1, le=1000)


class Rate(StrictModel):
    """Events per entity and period: `mean` on average, scaled by the followed metric's value."""

    mean: float = Field(gt=0.0, le=100_000.0)
    follows: Identifier = "trajectory"
    exact: bool = Field(False, description="each period's rows number its expected count exactly, rounded "
                                           "(engine/exact_rates.py); on events and transactions")


class Event(StrictModel):
    name: Identifier
    rate: Rate | None = None
    when: Condition | None = None
    terminal: bool = Field(False, description="after it, the entity has no further facts or events")
    description: str | None = None
    payload: tuple[PayloadField, ...] = Field((), description="fields of the JSON object in each row's payload column")
