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
    fct_account_usage_monthly:
      - {kind: number_as_text, column: mrr, rate: 0.03}          # the column is text; 3% "1,234.50", "N/A"...
      - {kind: schema_drift, column: seats, renamed_to: seat_count, periods: {from: 2024-07-01}}
      - {kind: volume_drop, rate: 0.6, periods: {from: 2024-03-01, until: 2024-03-31}}
      - {kind: volume_spike, rate: 1.0, copies: 2, periods: {from: 2024-09-01, until: 2024-09-30},
         segments: [enterprise]}
  every_table:                                                  # source-wide: each table it fits
    - {kind: duplicate, rate: 0.01}
    - {kind: wrong_timezone, column: occurred_at, rate: 0.02}

Each entry injects one kind of defect into that share of the table's rows (optionally only rows of the periods
`from`..`until`, or of some segments' entities), chosen by a hash of the row's key, so the same rows are hit
whatever the chunking or as-of. Every injected defect is one row of `_plotsim_defects` with the clean value.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Identifier, StrictModel

CELL_KINDS = ("orphan", "invalid_value", "messy_text", "out_of_range", "wrong_timezone", "number_as_text",
              "schema_drift")
ROW_KINDS = ("duplicate", "near_duplicate", "volume_spike", "volume_drop")
KINDS = ROW_KINDS + CELL_KINDS
Kind = Literal["duplicate", "near_duplicate", "volume_spike", "volume_drop", "orphan", "invalid_value", "messy_text",
               "out_of_range", "wrong_timezone", "number_as_text", "schema_drift"]


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
    kind: Kind
    rate: float | None = Field(None, gt=0.0, le=1.0, description=(
        "share of the table's rows (in `periods`, of `segments`) that get it; a changed cell counts only where it "
        "has a value; not for schema_drift, which changes every row from `periods.from` on"))
    column: Identifier | None = None
    periods: DefectPeriods | None = None
    segments: list[Identifier] | None = Field(None, min_length=1, description="only rows of these segments' entities")
    values: list[str] | None = Field(None, min_length=1, description=(
        "invalid_value: what appears instead; schema_drift with `added`: what the new column holds"))
    hours: int = Field(5, ge=-14, le=14, description="wrong_timezone: the shift, in hours (not 0)")
    copies: int = Field(1, ge=1, le=20, description="volume_spike: extra copies of each row hit")
    renamed_to: Identifier | None = Field(None, description="schema_drift: the column's new name from the period on")
    added: Identifier | None = Field(None, description="schema_drift: a new text column from the period on")

    @model_validator(mode="after")
    def _needs(self):
        drift = self.kind == "schema_drift"
        wants_column = self.kind in CELL_KINDS and not (drift and self.added is not None)
        if wants_column and self.column is None:
            raise ValueError(f"a {self.kind} defect needs `column`: the column it changes")
        if not wants_column and self.column is not None:
            raise ValueError(f"a {self.kind} defect {'adds a column' if drift else 'changes whole rows'}; "
                             "it takes no `column`")
        if drift:
            if self.rate is not None:
                raise ValueError("a schema_drift changes every row from `periods.from` on; it takes no `rate`")
            if (self.renamed_to is None) == (self.added is None):
                raise ValueError("a schema_drift needs one of `renamed_to` (the column's new name) or `added` "
                                 "(a new column's name)")
            if self.periods is None or self.periods.from_ is None:
                raise ValueError("a schema_drift needs `periods: {from: <date>}`: the first period it shows in")
            if self.added is not None and self.values is None:
                raise ValueError("a schema_drift that adds a column needs `values`: what the new column holds")
        else:
            if self.rate is None:
                raise ValueError(f"a {self.kind} defect needs `rate`: the share of rows it hits")
            if self.rate == 1.0 and not self.kind.startswith("volume_"):
                raise ValueError("rate must be below 1 (only volume_spike and volume_drop take every row)")
            if self.renamed_to is not None or self.added is not None:
                raise ValueError("`renamed_to` and `added` are for schema_drift defects only")
        if self.kind.startswith("volume_") and self.periods is None:
            raise ValueError(f"a {self.kind} needs `periods`: the periods whose volume it changes")
        if self.values is not None and self.kind not in ("invalid_value", "schema_drift"):
            raise ValueError("`values` is for invalid_value and schema_drift (added) defects only")
        if self.copies != 1 and self.kind != "volume_spike":
            raise ValueError("`copies` is for volume_spike defects only")
        if self.kind == "wrong_timezone" and self.hours == 0:
            raise ValueError("hours: 0 is no shift; use -14..14 without 0")
        return self


class Defects(StrictModel):
    tables: dict[Identifier, list[Defect]] = Field(default_factory=dict)
    every_table: list[Defect] = Field(default_factory=list, description=(
        "defects for every entity table they fit (a copy or volume kind: every one; a cell kind: those with "
        "`column`), after each table's own"))

    @property
    def any(self) -> bool:
        return bool(self.tables or self.every_table)

    def declared(self) -> list[tuple[str, int, Defect]]:
        return [(table, i, d) for table, defects in self.tables.items() for i, d in enumerate(defects)]
