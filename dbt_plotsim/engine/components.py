"""Components: optional parts of the star schema (attributes, reference tables, sub-entities, transactions,
history, lifecycle stages) built on the same blocks of entities as the metrics.

A component adds tables and columns; it never changes the values of another table. Each one lives in its
own module and is listed in `COMPONENTS`; a component whose spec section is empty adds nothing.

Contract, all vectorized over the entities of the blocks given:
- `schemas(plan)`: the tables it adds (name -> Arrow schema with descriptions), in output order;
- `unit_fields(plan)`: columns it adds to dim_<unit>;
- `period_fields(plan)` / `period_columns(plan, blocks)`: columns it adds to every fact and unit event table,
  given as (n, P) values per entity and period of `blocks` (a row takes its entity's value in its period);
- `static_tables(plan)`: tables that do not depend on entities (reference lookups), written once;
- `unit_columns(plan, blocks)`: values of its dim_<unit> columns for the entities of `blocks`;
- `chunk_tables(plan, blocks, counters)`: its entity-dependent rows for `blocks` (consecutive, in output
  order); `counters` carries the last id given per table, so ids run 1, 2, ... whatever the chunking;
- `row_estimate(plan, cells)`: expected rows of its tables, given `cells` expected active entity-periods;
- `fans_out` / `fanout_rows(plan, block)`: a component whose rows per entity are unbounded (sub-entities,
  transactions) says so, and gives {table: (n,) expected rows per entity of the block}, so a block whose
  fan-out would pass the memory budget is generated in parts (parts.py); its draws come from
  `fanout.block_stream`, which names the part;
- `clock(plan)`: how its tables follow the as-of clock (clock.py);
- `tests(plan, ref)`: data tests for sync-sources, {table: {column: [(test name, arguments)]}}, where
  `ref(table)` renders a reference to another table of the same source.
Random draws come from `rng.stream(seed, "<component>", name, segment, block)`: named, per block.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa

TestList = list[tuple[str, dict | None]]


class Component:
    """Base: adds nothing. Subclasses override what they contribute."""

    fans_out = False

    def active(self, plan) -> bool:
        return True

    def schemas(self, plan) -> dict[str, pa.Schema]:
        return {}

    def unit_fields(self, plan) -> list[pa.Field]:
        return []

    def period_fields(self, plan) -> list[pa.Field]:
        return []

    def period_columns(self, plan, blocks) -> dict[str, np.ndarray]:
        return {}

    def static_tables(self, plan, schemas: dict[str, pa.Schema]) -> dict[str, pa.Table]:
        return {}

    def unit_columns(self, plan, blocks) -> dict[str, pa.Array]:
        return {}

    def chunk_tables(self, plan, blocks, schemas: dict[str, pa.Schema], counters: dict[str, int]) -> dict[str, pa.Table]:
        return {}

    def row_estimate(self, plan, cells: float) -> dict[str, float]:
        return {}

    def fanout_rows(self, plan, block) -> dict[str, np.ndarray]:
        return {}

    def clock(self, plan) -> dict:
        """{table: clock.TableClock}: how its tables follow `window.as_of` (rows it holds back, dates it hides)."""
        return {}

    def tests(self, plan, ref: Callable[[str], str]) -> dict[str, dict[str, TestList]]:
        return {}


def components(plan) -> list[Component]:
    """The components with something to add for this plan, in a fixed order."""
    from .registry import COMPONENTS

    return [c for c in COMPONENTS if c.active(plan)]
