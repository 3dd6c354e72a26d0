"""Declared defects of the raw data, with an answer key (engine/defects.py).

defects:
  tables:
    dim_account:
      - {kind: messy_text, column: account_code, rate: 0.05}
      - {kind: duplicate, rate: 0.02}
    fct_account_monthly:
      - {kind: out_of_range, column: mrr, rate: 0.01}
      - {kind: orphan, column: account_id, rate: 0.005, periods: {from: 2024-01-01}}
    evt_user_login:
      - {kind: wrong_timezone, column: occurred_at, rate: 0.03, hours: -5}

Each entry injects one kind of defect into that share of the table's rows (optionally only rows of the periods
`from`..`until`), chosen by a hash of the row's key, so the same rows are hit whatever the chunking or as-of.
Every injected defect is one row of `_plotsim_defects` with the clean value.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Identifier, StrictModel

KINDS = ("duplicate", "near_duplicate", "orphan", "invalid_value", "messy_text", "out_of_range", "wrong_timezone")


class DefectPeriods(StrictModel):
    from_: dt.date | None = Field(None, alias="from")
    until: dt.date | None = None

    @field_validator("from_", "until", mode="before")
    @classmethod
    def _dates(cls, value):
        return dt.date.fromisoformat(f"{value}-01") if isinstance(value, str) and len(value) == 7 else value

    @model_validator(mode="after")
    def _ordered(self):
        if self.from_ is not None and self.until is not None and self.until < self.from_:
            raise ValueError(f"until ({self.until}) is before from ({self.from_})")
        return self


class Defect(StrictModel):
    kind: Literal["duplicate", "near_duplicate", "orphan", "invalid_value", "messy_text", "out_of_range",
                  "wrong_timezone"]
    rate: float = Field(gt=0.0, lt=1.0, description="share of the table's rows (in `periods`) that get it")
    column: Identifier | None = None
    periods: DefectPeriods | None = None
    values: list[str] | None = Field(None, min_length=1, description="invalid_value: what appears instead")
    hours: int = Field(5, ge=-14, le=14, description="wrong_timezone: the shift, in hours (not 0)")

    @model_validator(mode="after")
    def _needs(self):
        wants_column = self.kind not in ("duplicate", "near_duplicate")
        if wants_column and self.column is None:
            raise ValueError(f"a {self.kind} defect needs `column`: the column it changes")
        if not wants_column and self.column is not None:
            raise ValueError(f"a {self.kind} copies whole rows; it takes no `column`")
        if self.values is not None and self.kind != "invalid_value":
            raise ValueError("`values` is for invalid_value defects only")
        if self.kind == "wrong_timezone" and self.hours == 0:
            raise ValueError("hours: 0 is no shift; use -14..14 without 0")
        return self


class Defects(StrictModel):
    tables: dict[Identifier, list[Defect]] = Field(default_factory=dict)

    def declared(self) -> list[tuple[str, int, Defect]]:
        return [(table, i, d) for table, defects in self.tables.items() for i, d in enumerate(defects)]
