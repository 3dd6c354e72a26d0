"""Derived tables (truth tables, experiment tables, features) for the Spark engine, made on the driver.

Locally, each derived set observes every chunk as the clock shows it (before source systems and defects)
and emits its tables at the end (engine/derived.py). The Spark tasks make no derived tables; once every run
is written, the driver reads the runs back one at a time, in run order (the static run first, as the local
engine's first chunk), and gives each run's tables to one set of fresh observers as one chunk. The derived
sets add their sums block by block in block order and order their rows by entity (REPLAYED in units.py), and
a run is consecutive units of at most a local chunk, so the emitted bytes are the local engine's.

Only the tables the clock showed are read (the run's own list, in its order: not the source system tables,
not other derived tables). Tables that defects change are read from the clean copies the run kept under
CLEAN (removed before the output is swapped in), since the observers saw them before the defects.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..engine.derived import derived_for, merged
from .part_files import PartFiles, part

CLEAN = ".clean"  # <staging>/.clean/<table>/part-<run>.parquet: rows as the observers saw them


def replay(generation, staging: Path, runs: list[tuple[int, list[str]]], clean: set[str], index: int) -> tuple:
    """The derived tables of the written `runs` ((run, the tables the clock showed it, in order), in run
    order) into <staging>/<table>/part-<index>.parquet; returns (index, {}, rows per table written), as a
    written run (runner._write_run). One run's tables are in memory at a time."""
    observers = derived_for(generation.plan, generation.loaded)
    if not observers:
        return index, {}, {}
    files = PartFiles(index)

    def write(emitted: dict[str, pa.Table]) -> None:
        for name, table in emitted.items():
            files.write(staging, name, table, generation.schemas[name])

    try:
        for run, names in runs:
            chunk = {name: _read(staging, name, run, name in clean, generation.loaded[name]) for name in names}
            write(merged([d.observe(chunk) for d in observers]))
            del chunk
        write(merged([d.finish() for d in observers]))
        files.close()
    finally:
        files.abandon()
    return index, {}, files.rows(staging)


def _read(staging: Path, name: str, run: int, cleaned: bool, schema: pa.Schema) -> pa.Table:
    """A run's table as the clock showed it (an empty one when the run had no rows for it: none written)."""
    path = part(staging / CLEAN if cleaned else staging, name, run)
    if not path.exists():
        return schema.empty_table()
    table = pq.read_table(path)
    return table if table.schema.equals(schema, check_metadata=True) else table.cast(schema)
