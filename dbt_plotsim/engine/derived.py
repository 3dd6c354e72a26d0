"""Tables derived from the rows a generation keeps: truth tables, experiment truth, per-entity features.

A derived table set sees every chunk's clean rows (as the clock shows them at `as_of`, before source systems
and defects are made) and emits its own rows: some with each chunk, the rest once the last chunk has passed.
Derived tables are rewritten by every load, so an append shows them the whole window up to `as_of`, not only
the periods it adds (pipeline.Generation runs a second clock for them).

Each kind registers a factory in FACTORIES: `factory(plan, loaded) -> Derived | None` (None: the spec
declares nothing for it). Factories are imported lazily so this module stays free of their dependencies.
"""
from __future__ import annotations

from importlib import import_module
from typing import Protocol

import pyarrow as pa

# module path, factory name: each returns a Derived or None
FACTORIES: tuple[tuple[str, str], ...] = (
    (".truth", "truth_for"),
    (".experiment_tables", "experiment_tables"),
    (".features", "feature_tables"),
)


class Derived(Protocol):
    def schemas(self) -> dict[str, pa.Schema]:
        """The layouts of the tables this set writes (column descriptions in the field metadata)."""

    def observe(self, chunk: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """Take one chunk's clean tables; return rows to write now (an empty dict when all come at the end)."""

    def finish(self) -> dict[str, pa.Table]:
        """The rows left to write once every chunk has been observed."""

    def row_estimate(self) -> dict[str, int]:
        """Rows each table is expected to get (for `info` and the disk check)."""


def derived_for(plan, loaded: dict[str, pa.Schema]) -> list[Derived]:
    """The derived table sets a plan writes, in FACTORIES' order."""
    found = []
    for module, name in FACTORIES:
        made = getattr(import_module(module, __package__), name)(plan, loaded)
        if made is not None:
            found.append(made)
    return found


def derived_schemas(sets: list[Derived]) -> dict[str, pa.Schema]:
    out: dict[str, pa.Schema] = {}
    for derived in sets:
        for name, schema in derived.schemas().items():
            if name in out:
                raise ValueError(f"bug: derived table {name} is written by two derived sets")
            out[name] = schema
    return out


def merged(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """The rows several derived sets emit at one step, as one chunk."""
    out: dict[str, pa.Table] = {}
    for part in parts:
        for name, table in part.items():
            out[name] = pa.concat_tables([out[name], table]) if name in out else table
    return out
