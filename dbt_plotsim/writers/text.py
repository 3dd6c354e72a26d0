"""CSV (for `dbt seed`) and JSON Lines: one file per table, `<out>/<table>.csv` or `<out>/<table>.jsonl`,
replaced as a whole (file_set.py).

CSV comes from pyarrow's writer: a header row, ISO dates (`2024-01-31`) and timestamps
(`2024-01-31 08:15:00`), decimals as written (`12.50`), doubles in their shortest form that reads back to the
same value, nulls as empty fields (an empty text as `""`), booleans as `true`/`false`. JSON Lines comes from
DuckDB's `COPY ... (FORMAT json)` over each chunk's Arrow table: one object per row, numbers as numbers
(doubles again shortest and exact, decimals unquoted), dates and timestamps as ISO strings, nulls as `null`.
Both are streamed chunk by chunk in generation order, so the bytes do not depend on the chunk size.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from .. import interrupts
from ..progress import reported_chunks
from .overlap import overlapped
from ..engine.budget import check_disk
from .file_set import replace_set

FORMATS = ("csv", "jsonl")
SEED_PROPERTIES = "_plotsim_seeds.yml"  # dbt reads properties files in its seed paths


def seed_properties(columns: dict[str, list[list[str]]]) -> str:
    """A dbt properties file giving each seed's column types (dbt's own guesses make decimals doubles and
    every integer INTEGER); JSON is YAML, and keeps names and types quoted."""
    seeds = [{"name": name, "config": {"column_types": {c: t for c, t in cols}}} for name, cols in columns.items()]
    return "# written by dbt-plotsim with the CSV files: each seed's column types\n" + \
        json.dumps({"version": 2, "seeds": seeds}, indent=1) + "\n"


def write_text(generation, out_dir: str | os.PathLike, fmt: str, manifest: dict | None = None,
               commit=None, progress=None) -> dict[str, Path]:
    """Write every table of a generation as `out_dir/<table>.<fmt>`; the previous set is replaced only once
    the new one is complete. Returns table -> its file. With the manifest's `columns` (file_views.py), a CSV
    set also gets SEED_PROPERTIES, so `dbt seed` loads every column with its type."""
    columns = (manifest or {}).get("columns")
    if fmt not in FORMATS:
        raise ValueError(f"bug: text format {fmt!r} is not one of {FORMATS}")
    check_disk(generation, out_dir)

    def fill(staging: Path):
        names = {name: f"{name}.{fmt}" for name in generation.schemas}
        writer = _Csv(staging, generation.schemas, names) if fmt == "csv" else _Jsonl(staging, names)
        try:
            for chunk in reported_chunks(generation, progress, overlapped(generation.chunks, generation.workers > 1)):
                interrupts.check()
                for name, table in chunk.items():
                    writer.write(name, table)
        finally:
            writer.close()
        if fmt == "csv" and columns:
            (staging / SEED_PROPERTIES).write_text(seed_properties(columns))
        return ({name: [file] for name, file in names.items()},
                {"layout": "files", "format": fmt, "tables": list(generation.schemas), "rows": writer.rows})

    files = replace_set(out_dir, fill, manifest or {}, commit)
    return {name: Path(out_dir) / fs[0] for name, fs in files.items()}


class _Csv:
    def __init__(self, staging: Path, schemas: dict[str, pa.Schema], names: dict[str, str]):
        self.writers, self.rows = {}, {name: 0 for name in names}
        for name, schema in schemas.items():  # every file opened now: an empty table still has its header
            self.writers[name] = pa_csv.CSVWriter(staging / names[name], schema)

    def write(self, name: str, table: pa.Table) -> None:
        self.writers[name].write_table(table)
        self.rows[name] += table.num_rows

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


class _Jsonl:
    """DuckDB writes each chunk to a scratch file, appended to the table's file (COPY cannot append)."""

    def __init__(self, staging: Path, names: dict[str, str]):
        import duckdb

        self.staging, self.names = staging, names
        self.rows = {name: 0 for name in names}
        for file in names.values():
            (staging / file).touch()
        self.conn = duckdb.connect()
        self.conn.execute("SET preserve_insertion_order = true")  # rows in their order (the default, pinned)
        self.conn.execute("SET threads = 1")  # an ordered COPY was 1.6-2.5x slower with 2 threads than with 1
        self.scratch = staging / ".chunk.json"

    def write(self, name: str, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self.conn.register("_chunk", table)
        try:
            self.conn.execute(f"COPY _chunk TO '{_sql_path(self.scratch)}' (FORMAT json)")
        finally:
            self.conn.unregister("_chunk")
        with open(self.staging / self.names[name], "ab") as target, open(self.scratch, "rb") as source:
            shutil.copyfileobj(source, target, 1 << 20)
        self.rows[name] += table.num_rows

    def close(self) -> None:
        self.conn.close()
        self.scratch.unlink(missing_ok=True)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
