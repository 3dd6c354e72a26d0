"""Relations between metrics: pooled correlations and causal lags."""
from __future__ import annotations

from pydantic import Field

from .base import Identifier, StrictModel


POOLED, EACH_SEGMENT = "pooled", "each_segment"


class Correlation(StrictModel):
    between: tuple[Identifier, Identifier]
    r: float = Field(ge=-1.0, le=1.0, description="Pearson r of the two output columns over the rows that exist")
    scope: Identifier = Field(POOLED, description=(
        "pooled: over every row; each_segment: within every segment; a segment's name: within that segment"))

    @property
    def key(self) -> str:
        pair = f"{self.between[0]}~{self.between[1]}"
        return pair if self.scope == POOLED else f"{pair}@{self.scope}"


class Lag(StrictModel):
    metric: Identifier
    follows: Identifier
    periods: int = Field(ge=1, le=1000)
    weight: float | None = Field(None, gt=0.0, le=1.0, description=(
        "share of the follower that is the lagged driver; unset, it is fitted (0.6 where that holds)"))
