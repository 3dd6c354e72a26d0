"""Shared pydantic base: strict (unknown keys are errors), frozen once validated."""
from __future__ import annotations

import math

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER)]
IDENTIFIER_HELP = "lower-case letters, digits and underscores, starting with a letter (it becomes a SQL name)"


def is_identifier(value: str) -> bool:
    return bool(re.match(IDENTIFIER, value))


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


MAX_MAGNITUDE = 1e15  # float64 still holds cents exactly below this


def range_problem(low: float, high: float) -> str | None:
    """What is wrong with a numeric [min, max] (not finite, not increasing, too large), or None."""
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        return f"[{low}, {high}] must be two finite numbers with min < max"
    if max(abs(low), abs(high)) > MAX_MAGNITUDE:
        return (f"[{low:g}, {high:g}] reaches beyond +/-{MAX_MAGNITUDE:g}; values that large lose their cents and "
                "break the distribution maths, so keep the range within it")
    return None
