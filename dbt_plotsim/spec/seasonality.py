"""Seasonality: calendar multipliers on metrics and event rates, felt more by some segments than others."""
from __future__ import annotations

from pydantic import Field

from .base import Identifier, StrictModel


class Seasonality(StrictModel):
    month_of_year: tuple[float, ...] | None = Field(None, description="12 multipliers, January first")
    day_of_week: tuple[float, ...] | None = Field(None, description="7 multipliers, Monday first (day grain)")
    applies_to: tuple[Identifier, ...] | None = Field(
        None, description="metrics, events, sub-entity events (<child>_<event>) and transactions; default: every "
                          "event, sub-entity event and transaction")
    sensitivity: dict[Identifier, float] = Field(default_factory=dict, description="per segment; default 1")


def rate_targets(spec) -> list[str]:
    """What seasonality scales by default: every event, sub-entity event (<child>_<event>) and transaction."""
    children = [f"{c.name}_{e.name}" for c in getattr(spec, "children", ()) or () for e in c.events]
    return [e.name for e in spec.events] + children + [t.name for t in getattr(spec, "transactions", ()) or ()]


def check_seasonality(spec) -> list:
    from ..errors import Problem
    from .checks import suggest

    season = spec.seasonality
    if season is None:
        return []
    problems = []
    for key, size in (("month_of_year", 12), ("day_of_week", 7)):
        values = getattr(season, key)
        if values is None:
            continue
        if len(values) != size:
            problems.append(Problem(f"seasonality.{key}", f"needs {size} multipliers, got {len(values)}"))
        if any(not (v > 0) for v in values):
            problems.append(Problem(f"seasonality.{key}", f"multipliers must be above 0, got {list(values)}"))
    if season.month_of_year is None and season.day_of_week is None:
        problems.append(Problem("seasonality", "give month_of_year, day_of_week or both"))
    if season.day_of_week is not None and spec.window is not None and spec.window.grain != "day":
        problems.append(Problem("seasonality.day_of_week", f"needs window.grain day, not {spec.window.grain}"))
    metrics = {m.name: m for m in spec.metrics}
    targets = sorted(metrics) + sorted(rate_targets(spec))
    for name in season.applies_to or ():
        if name not in targets:
            problems.append(Problem("seasonality.applies_to", (
                f"unknown metric, event, sub-entity event (<child>_<event>) or transaction '{name}'; "
                f"{suggest(name, targets)}")))
        elif name in metrics and metrics[name].type == "score":
            problems.append(Problem("seasonality.applies_to", f"'{name}' is a score (bounded 0-1); seasonality "
                                    "scales amounts, counts, measures and event rates"))
    segments = [s.name for s in spec.segments]
    for name, value in season.sensitivity.items():
        if name not in segments:
            problems.append(Problem(f"seasonality.sensitivity.{name}", f"unknown segment; {suggest(name, segments)}"))
        if value < 0:
            problems.append(Problem(f"seasonality.sensitivity.{name}", f"{value} must be 0 or more"))
    return problems
