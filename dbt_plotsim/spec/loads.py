"""How the source's rows arrive: loads, late rows, restated values, change feeds (engine/loads.py, feeds.py).

loads:
  tables:
    fct_account_monthly: {loaded_at: true, late: 0.03, late_by: 2, restated: 0.01, changes: true}
    dim_account_plan_current: {changes: true, deletes: 0.02}

One load runs at the end of every period (its last day, 23:00). A listed table gets what its options ask:
`loaded_at` a `_loaded_at` column; `late` a share of rows that land 1..`late_by` loads after their period;
`restated` (fact tables) a share of rows first loaded with wrong values and corrected 1..`late_by` loads
later; `changes` a change feed `<table>_changes`; `deletes` (current-state tables) a share of rows hard-deleted
from the source at a later load.
"""
from __future__ import annotations

from pydantic import Field

from .base import Identifier, StrictModel


class TableLoads(StrictModel):
    loaded_at: bool = False
    late: float = Field(0.0, ge=0.0, lt=1.0, description="share of rows landing in a later load than their period's")
    late_by: int = Field(2, ge=1, le=1000, description="at most this many loads late (late rows and restatements)")
    restated: float = Field(0.0, ge=0.0, lt=1.0, description="share of fact rows corrected by a later load")
    changes: bool = False
    deletes: float = Field(0.0, ge=0.0, lt=1.0, description="share of current-state rows hard-deleted later")


class Loads(StrictModel):
    tables: dict[Identifier, TableLoads] = Field(default_factory=dict)

    def of(self, table: str) -> TableLoads | None:
        return self.tables.get(table)
