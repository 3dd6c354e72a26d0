"""Metrics: what is measured per entity and period, its distribution, direction and range."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from .base import MAX_MAGNITUDE, Identifier, StrictModel, range_problem
from .noise import NoiseOverride
from .totals import Total

MetricType = Literal["score", "amount", "count", "measure"]
Family = Literal["normal", "lognormal", "beta", "poisson", "negative_binomial", "gamma", "weibull"]
COUNT_FAMILIES = ("poisson", "negative_binomial")
Polarity = Literal["positive", "negative"]

DEFAULT_FAMILY: dict[str, str] = {"score": "beta", "amount": "lognormal", "count": "negative_binomial", "measure": "normal"}

# Native parameters each family accepts in `params`; anything else is a typo.
FAMILY_PARAMS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "beta": ("a", "b"),
    "poisson": ("mean",),
    "negative_binomial": ("mean", "dispersion"),  # variance = mean + dispersion * mean^2
    "gamma": ("shape", "scale"),
    "weibull": ("shape", "scale"),
}


class Metric(StrictModel):
    name: Identifier
    type: MetricType = "measure"
    distribution: Family | None = None
    polarity: Polarity = "positive"
    range: tuple[float, float] | None = None
    mean: float | None = None
    params: dict[str, float] = Field(default_factory=dict)
    signal: float | None = Field(None, ge=0.0, le=0.95, description=(
        "loading on the trajectory score; unset, it is fitted (up to 0.7) so that every declared relation holds"))
    description: str | None = None
    noise: NoiseOverride | None = Field(None, description="this metric's own noise keys, over the spec's `noise`")
    total: Total | None = Field(None, description="what its rows add up to in each period, exactly (spec/totals.py)")

    @property
    def family(self) -> str:
        return self.distribution or DEFAULT_FAMILY[self.type]

    @property
    def sign(self) -> float:
        return 1.0 if self.polarity == "positive" else -1.0



def check_metric(metric: Metric) -> list[tuple[str, str]]:
    """Problems of one metric as (key, message); keys are relative to `metrics.<name>`."""
    family = metric.family
    problems: list[tuple[str, str]] = []
    if metric.range is not None:
        low, high = metric.range
        wrong = range_problem(low, high)
        if wrong:
            problems.append(("range", wrong))
        elif metric.type == "score" and (low < 0 or high > 1):
            problems.append(("range", f"[{low}, {high}]: a score lies within [0, 1]"))
        elif metric.type == "count" and low < 0:
            problems.append(("range", f"[{low}, {high}]: a count cannot go below 0"))
        elif family in ("lognormal", "gamma", "weibull") and low < 0:
            problems.append(("range", f"[{low}, {high}] goes below 0, outside the support of {family}"))
    if family in COUNT_FAMILIES and metric.type != "count":
        problems.append(("distribution", f"{family} is for type count, not {metric.type}; "
                         "allowed: normal, lognormal, beta, gamma, weibull"))
    if metric.type == "score" and family in ("lognormal", "gamma", "weibull") and metric.range is None:
        problems.append(("range", f"a score with distribution {family} needs a range within [0, 1]"))
    allowed = FAMILY_PARAMS[family]
    for key, value in metric.params.items():
        if key not in allowed:
            problems.append((f"params.{key}", f"is not a parameter of {family}; allowed: {list(allowed)}"))
        elif key != "mean" and not (value > 0 and math.isfinite(value)):
            problems.append((f"params.{key}", f"{value} must be a positive number"))
    if metric.mean is not None:
        if not math.isfinite(metric.mean) or abs(metric.mean) > MAX_MAGNITUDE:
            problems.append(("mean", f"{metric.mean:g} must be a finite number within +/-{MAX_MAGNITUDE:g}"))
        if "mean" in metric.params:
            problems.append(("mean", "give `mean` or `params.mean`, not both"))
        if metric.range is not None and not (metric.range[0] < metric.mean < metric.range[1]):
            problems.append(("mean", f"{metric.mean} lies outside range [{metric.range[0]}, {metric.range[1]}]"))
        if family in ("lognormal", "gamma", "weibull", *COUNT_FAMILIES) and metric.mean <= 0:
            problems.append(("mean", f"{metric.mean} must be above 0 for {family}"))
        if family == "beta" and metric.range is None and not (0 < metric.mean < 1):
            problems.append(("mean", f"{metric.mean} must lie in (0, 1) for beta without a range"))
    return problems
