"""Missing values with a mechanism: `noise.missing` as a number (completely at random) or a block with a
rate, a mechanism (mcar, mar, mnar), what the nulls depend on and how strongly.

The strength is the point-biserial correlation between the missing indicator and the driver's normal score
(the normal quantile of its rank among the rows that exist): negative means low values go missing. A binary
indicator's correlation with a normal is bounded: at rate p it reaches at most phi(z_p) / sqrt(p (1 - p)).
"""
from __future__ import annotations

import difflib
import math
from typing import Annotated, Union

from pydantic import Discriminator, Field, Tag, field_validator

from .base import Identifier, StrictModel

MECHANISMS = ("mcar", "mar", "mnar")
TRAJECTORY = "trajectory"
DEFAULT_STRENGTH = -0.3  # low values go missing; half the reachable bound at rates where this is out of reach
MAX_RATE = 0.9


class Missing(StrictModel):
    rate: float = Field(ge=0.0, le=MAX_RATE, description="share of the rows that exist set to null")
    mechanism: str = Field("mcar", description="mcar (completely at random), mar (at random given another "
                           "metric or a numeric attribute) or mnar (given the metric's own value or the trajectory)")
    depends_on: Identifier | None = Field(None, description="mar: another metric or a numeric attribute; mnar: the "
                                          "metric itself (default) or `trajectory`")
    strength: float | None = Field(None, ge=-1.0, le=1.0, description=(
        "point-biserial r between the null indicator and the driver's normal score; negative: low values go "
        f"missing; default {DEFAULT_STRENGTH}"))

    @field_validator("mechanism")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in MECHANISMS:
            close = difflib.get_close_matches(value, MECHANISMS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"got '{value}', not a mechanism; allowed: {', '.join(MECHANISMS)}{hint}")
        return value


def _kind(value) -> str:
    return "[block]" if isinstance(value, dict) or isinstance(value, Missing) else "[rate]"


# A number (today's completely-at-random share, kept as a number so specs and their hashes do not change) or a
# block. The tags are bracketed so error paths skip them (noise.missing.rate, not noise.missing.[block].rate).
MissingValue = Annotated[
    Union[Annotated[float, Field(ge=0.0, le=MAX_RATE), Tag("[rate]")], Annotated[Missing, Tag("[block]")]],
    Discriminator(_kind),
]


def as_block(value) -> Missing:
    """The block form of a `missing` value (a number is a completely-at-random rate)."""
    return value if isinstance(value, Missing) else Missing(rate=float(value))


def reach(rate: float) -> float:
    """The largest |point-biserial r| a null indicator of this rate can have with a normal score."""
    from scipy.special import ndtri
    from scipy.stats import norm

    if not 0.0 < rate < 1.0:
        return 0.0
    return float(norm.pdf(ndtri(rate)) / math.sqrt(rate * (1.0 - rate)))


def strength_of(missing: Missing) -> float:
    """The strength in effect: the declared one, 0 for mcar, else the default (half the bound when the
    default is out of reach at this rate)."""
    if missing.mechanism == "mcar":
        return 0.0
    if missing.strength is not None:
        return missing.strength
    bound = reach(missing.rate)
    return DEFAULT_STRENGTH if abs(DEFAULT_STRENGTH) <= bound else math.copysign(round(bound / 2, 3), DEFAULT_STRENGTH)


def driver_of(missing: Missing, metric: str) -> str | None:
    """What the nulls depend on: None (mcar), a metric, a numeric attribute or `trajectory`."""
    if missing.mechanism == "mcar":
        return None
    if missing.mechanism == "mnar":
        return missing.depends_on or metric
    return missing.depends_on


def check_missing(spec) -> list:
    """Every metric's `missing` block: what it depends on exists and suits its mechanism, and the strength
    can be reached at its rate. A spec-level block is reported once, at noise.missing."""
    from ..errors import Problem

    found: dict[tuple[str, str], None] = {}
    for metric in spec.metrics:
        own = metric.noise is not None and metric.noise.missing is not None
        value = metric.noise.missing if own else spec.noise.missing
        if not isinstance(value, Missing):
            continue
        path = f"metrics.{metric.name}.noise.missing" if own else "noise.missing"
        for key, message in _problems(spec, metric.name, value, own):
            found[(f"{path}.{key}", message)] = None
    return [Problem(path, message) for path, message in found]


def _problems(spec, metric: str, missing: Missing, own: bool) -> list[tuple[str, str]]:
    from .checks import suggest

    metrics = [m.name for m in spec.metrics]
    numbers = {a.name: a for a in spec.attributes if a.type == "number"}
    on, mechanism = missing.depends_on, missing.mechanism
    where = "" if own else f" (for metric {metric}: give it its own noise.missing)"
    out = []
    if mechanism == "mcar":
        out += [(key, f"mcar nulls depend on nothing; `{key}` applies to mechanism mar or mnar")
                for key in ("depends_on", "strength") if getattr(missing, key) is not None]
    elif mechanism == "mar":
        if on is None:
            out.append(("depends_on", "mar needs `depends_on`: another metric or a number attribute, one of "
                        f"{sorted(set(metrics + list(numbers)))}"))
        elif on == metric:
            out.append(("depends_on", f"mar nulls depend on something else observed; nulls that depend on "
                        f"{metric}'s own value are mnar: set `mechanism: mnar`{where}"))
        elif on == TRAJECTORY:
            out.append(("depends_on", "the trajectory is not observed, so nulls that depend on it are mnar: set "
                        "`mechanism: mnar`"))
        elif on in numbers and numbers[on].follows:
            out.append(("depends_on", f"attribute '{on}' follows {numbers[on].follows}; nulls depend on an "
                        "attribute drawn on its own, or on what it follows directly"))
        elif on not in metrics and on not in numbers:
            typed = {a.name: a.type for a in spec.attributes}
            out.append(("depends_on", f"'{on}' is a {typed[on]} attribute; mar depends on a metric or a number "
                        "attribute" if on in typed else
                        f"unknown metric or number attribute '{on}'; {suggest(on, metrics + list(numbers))}"))
    elif on is not None and on not in (metric, TRAJECTORY):
        if on in metrics or on in numbers:
            out.append(("depends_on", f"'{on}' is another {'metric' if on in metrics else 'attribute'}; nulls "
                        f"that depend on it are mar: set `mechanism: mar`{where}"))
        else:
            out.append(("depends_on", f"unknown driver '{on}'; mnar depends on the metric's own value ({metric}, "
                        f"the default) or {TRAJECTORY}; {suggest(on, [metric, TRAJECTORY])}"))
    if mechanism != "mcar" and missing.strength is not None:
        bound = reach(missing.rate)
        if missing.rate == 0:
            out.append(("rate", "is 0: no nulls, so there is no strength to hold; drop `strength` or raise the rate"))
        elif abs(missing.strength) > bound:
            nearest = math.copysign(math.floor(bound * 1000) / 1000, missing.strength)
            out.append(("strength", f"{missing.strength:g} cannot hold at rate {missing.rate:g}: a null indicator "
                        f"of that rate correlates at most {bound:.3f} with a normal score (phi(z_p) / sqrt(p (1 - p))); "
                        f"the nearest value that holds is {nearest:g}"))
    return out
