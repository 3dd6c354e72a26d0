"""The time window: first and last day and the grain of one period."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import field_validator

from .base import StrictModel

Grain = Literal["day", "week", "month"]


def month_shorthand(value):
    """"2024-01" means the first day of that month."""
    if isinstance(value, str) and len(value) == 7 and value[4] == "-":
        return value + "-01"
    return value


class Window(StrictModel):
    start: dt.date
    end: dt.date
    grain: Grain = "month"
    as_of: dt.date | None = None  # how much of the story has happened (default: all of it, window.end)

    @field_validator("start", "end", "as_of", mode="before")
    @classmethod
    def _month_shorthand(cls, value):
        return month_shorthand(value)
