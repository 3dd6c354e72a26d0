"""A/B experiments with a known lift: a share of the entities is treated, and from `start` on the treated
entities' values of one metric are lifted (relatively or by an absolute amount)."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator

from .base import Identifier, StrictModel
from .window import month_shorthand


class Experiment(StrictModel):
    name: Identifier
    metric: Identifier = Field(description="the declared metric the treatment lifts")
    lift: float = Field(description="relative: treated values x (1 + lift) from `start` on; absolute: + lift")
    lift_kind: Literal["relative", "absolute"] = "relative"
    start: dt.date = Field(description="the first day of the treatment: from the period holding it on")
    share: float = Field(0.5, description="share of the taking-part entities that is treated, in (0, 1)")
    segments: tuple[Identifier, ...] | None = Field(None, description="only these segments take part; default all")

    @field_validator("start", mode="before")
    @classmethod
    def _month_shorthand(cls, value):
        return month_shorthand(value)


def check_experiments(spec) -> list:
    from collections import Counter

    from ..errors import Problem
    from .checks import suggest

    problems: list[Problem] = []
    experiments = getattr(spec, "experiments", ()) or ()
    for name, count in Counter(e.name for e in experiments).items():
        if count > 1:
            problems.append(Problem(f"experiments.{name}", "experiment name used more than once; names must be unique"))
    metrics = {m.name: m for m in getattr(spec, "metrics", ()) or ()}
    segments = [s.name for s in getattr(spec, "segments", ()) or ()]
    window = getattr(spec, "window", None)
    for experiment in experiments:
        path = f"experiments.{experiment.name}"
        if experiment.metric not in metrics:
            problems.append(Problem(f"{path}.metric", f"unknown metric '{experiment.metric}'; "
                                    f"{suggest(experiment.metric, sorted(metrics))}"))
        if not 0.0 < experiment.share < 1.0:
            problems.append(Problem(f"{path}.share", f"{experiment.share:g} must lie strictly between 0 and 1 (the "
                                    "share of entities treated; both groups need members)"))
        if experiment.lift_kind == "relative" and not experiment.lift > -1.0:
            problems.append(Problem(f"{path}.lift", f"{experiment.lift:g} would make values 0 or negative; a relative "
                                    "lift is above -1 (-0.2 is 20% lower)"))
        if window is not None and period_of(window, experiment.start) < 1:
            problems.append(Problem(f"{path}.start", f"{experiment.start} is not inside the window after its first "
                                    f"period ({window.start}..{window.end}); the difference-in-differences needs "
                                    "periods before the start and from it"))
        if experiment.segments is not None and not experiment.segments:
            problems.append(Problem(f"{path}.segments", "lists no segment; leave it out for every segment to take part"))
        for segment in experiment.segments or ():
            if segment not in segments:
                problems.append(Problem(f"{path}.segments", f"unknown segment '{segment}'; {suggest(segment, segments)}"))
    return problems


def period_of(window, day: dt.date) -> int:
    """Index of the window's period holding `day`: -1 before the window, -2 after it."""
    from ..engine.calendar import period_starts

    if window.end < window.start or day < window.start:
        return -1
    if day > window.end:
        return -2
    import numpy as np

    starts = period_starts(window.start, window.end, window.grain)
    return int(np.searchsorted(starts, np.datetime64(day, "D"), side="right")) - 1
