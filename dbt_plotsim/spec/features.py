"""A temporal holdout (the last periods set apart in dim_date) and a per-entity feature table with a label:
what an entity looked like before a cutoff, and whether an event followed within some periods."""
from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from .base import Identifier, StrictModel
from .experiments import period_of
from .window import month_shorthand


class Holdout(StrictModel):
    """The periods from `from` (or the `last` periods) are the holdout, the earlier ones train."""

    start: dt.date | None = Field(None, alias="from", description="the first day of the holdout")
    last: int | None = Field(None, ge=1, description="or: the number of periods at the end of the window held out")

    @field_validator("start", mode="before")
    @classmethod
    def _month_shorthand(cls, value):
        return month_shorthand(value)


class Label(StrictModel):
    event: Identifier = Field(description="a declared event")
    within: int = Field(ge=1, le=1000, description="periods from the cutoff in which the event counts")


class Features(StrictModel):
    label: Label
    cutoff: dt.date | None = Field(None, description=(
        "features use the periods before the one holding it; default the holdout's start, else the window's "
        "last `within` periods are the label's"))

    @field_validator("cutoff", mode="before")
    @classmethod
    def _month_shorthand(cls, value):
        return month_shorthand(value)


def periods_of(window) -> int:
    from ..engine.calendar import period_count

    return period_count(window.start, window.end, window.grain)


def holdout_period(spec) -> int | None:
    """Index of the first holdout period, or None without a holdout."""
    holdout = getattr(spec, "holdout", None)
    if holdout is None:
        return None
    if holdout.last is not None:
        return periods_of(spec.window) - holdout.last
    return period_of(spec.window, holdout.start)


def cutoff_period(spec) -> int:
    """Index of the first period after the features' history: the label's first period."""
    features = spec.features
    if features.cutoff is not None:
        return period_of(spec.window, features.cutoff)
    held = holdout_period(spec)
    return held if held is not None else periods_of(spec.window) - features.label.within


def check_features(spec) -> list:
    from ..errors import Problem
    from .checks import suggest

    problems: list[Problem] = []
    window = getattr(spec, "window", None)
    if window is None or window.end < window.start:
        return problems
    periods = periods_of(window)
    holdout = getattr(spec, "holdout", None)
    if holdout is not None:
        if (holdout.start is None) == (holdout.last is None):
            problems.append(Problem("holdout", "give `from` (a date) or `last` (periods), one of them"))
        elif holdout.last is not None and holdout.last >= periods:
            problems.append(Problem("holdout.last", f"{holdout.last} periods leave none of the window's {periods} "
                                    f"to train on; at most {periods - 1}"))
        elif holdout.start is not None and period_of(window, holdout.start) < 1:
            problems.append(Problem("holdout.from", f"{holdout.start} is not inside the window after its first "
                                    f"period ({window.start}..{window.end})"))
    features = getattr(spec, "features", None)
    if features is None:
        return problems
    events = [e.name for e in getattr(spec, "events", ()) or ()]
    if features.label.event not in events:
        problems.append(Problem("features.label.event", f"unknown event '{features.label.event}'; "
                                + (suggest(features.label.event, events) if events else "no events are declared")))
    if problems:
        return problems
    cutoff = cutoff_period(spec)
    where = "features.cutoff" if features.cutoff is not None else "features.label.within"
    if cutoff < 1:
        problems.append(Problem(where, "the cutoff leaves no period before it for the features: it lies outside "
                                f"the window {window.start}..{window.end} or in its first period"))
    elif cutoff + features.label.within > periods:
        problems.append(Problem(where, f"the label's {features.label.within} periods from the cutoff (period "
                                f"{cutoff}) run past the window's {periods} periods"))
    return problems
