"""Relations between metrics: pooled correlations and causal lags."""
from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from .base import Identifier, StrictModel
from .window import month_shorthand


POOLED, EACH_SEGMENT = "pooled", "each_segment"


class Period(StrictModel):
    """A span of the window: from the period holding `from` to the one holding `until` (inclusive)."""

    start: dt.date = Field(alias="from")
    until: dt.date

    @field_validator("start", "until", mode="before")
    @classmethod
    def _month_shorthand(cls, value):
        return month_shorthand(value)

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.until.isoformat()}"


class Correlation(StrictModel):
    between: tuple[Identifier, Identifier]
    r: float = Field(ge=-1.0, le=1.0, description="Pearson r of the two output columns over the rows that exist")
    scope: Identifier = Field(POOLED, description=(
        "pooled: over every row; each_segment: within every segment; a segment's name: within that segment"))
    during: Period | None = Field(None, description="a regime: the r holds on the rows of these periods only")

    @property
    def key(self) -> str:
        pair = f"{self.between[0]}~{self.between[1]}"
        pair = pair if self.scope == POOLED else f"{pair}@{self.scope}"
        return pair if self.during is None else f"{pair}[{self.during.label}]"


class Lag(StrictModel):
    metric: Identifier
    follows: Identifier
    periods: int = Field(ge=1, le=1000)
    weight: float | None = Field(None, gt=0.0, le=1.0, description=(
        "share of the follower that is the lagged driver; unset, it is fitted (0.6 where that holds)"))
