"""The Python API: load a spec, generate Arrow tables, write them to DuckDB or Parquet."""
from __future__ import annotations

import hashlib
import os
from typing import Any, Mapping

import duckdb
import pyarrow as pa

from .engine.pipeline import Generation, start
from .progress import Observer
from .spec import Spec, load_spec
from .writers import duckdb as duckdb_writer
from .writers import parquet as parquet_writer

SpecLike = Spec | Mapping[str, Any] | str | os.PathLike


def _spec(source: SpecLike) -> Spec:
    return source if isinstance(source, Spec) else load_spec(source)


def spec_hash(spec: Spec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]


def story_hash(spec: Spec) -> str:
    """Hash of the story: the spec without `window.as_of` (how much of it has happened)."""
    return spec_hash(spec.model_copy(update={"window": spec.window.model_copy(update={"as_of": None})}))


def stream(spec: SpecLike, *, chunk_entities: int | None = None, workers: int = 1) -> Generation:
    """Table layouts plus a stream of chunks, for writing large specs in bounded memory."""
    return start(_spec(spec), chunk_entities=chunk_entities, workers=workers)


def generate(spec: SpecLike, *, chunk_entities: int | None = None, workers: int = 1) -> dict[str, pa.Table]:
    """Every table of the star schema, in memory, as Arrow tables keyed by table name."""
    return stream(spec, chunk_entities=chunk_entities, workers=workers).tables()


def write_duckdb(spec: SpecLike, database: str | os.PathLike | duckdb.DuckDBPyConnection, schema: str = "main", *,
                 chunk_entities: int | None = None, workers: int = 1, progress: Observer | None = None) -> list[str]:
    """Create or replace the tables in `schema` of a DuckDB file (or connection), all in one transaction;
    `progress` (progress.py) hears of each chunk written."""
    return duckdb_writer.write_duckdb(stream(spec, chunk_entities=chunk_entities, workers=workers), database, schema,
                                      progress=progress)


def write_parquet(spec: SpecLike, out_dir: str | os.PathLike, *, chunk_entities: int | None = None,
                  workers: int = 1, progress: Observer | None = None) -> dict[str, os.PathLike]:
    """Write `<out_dir>/<table>.parquet` for every table; files change only once all are complete;
    `progress` (progress.py) hears of each chunk written."""
    spec = _spec(spec)
    generation = stream(spec, chunk_entities=chunk_entities, workers=workers)
    from .materialize import manifest_of

    manifest = manifest_of(spec, generation.plan, spec_hash(spec), story_hash(spec))
    return parquet_writer.write_parquet(generation, out_dir, manifest, progress=progress)


def write_files(spec: SpecLike, out_dir: str | os.PathLike, format: str = "parquet", *, partition_by: str | None = None,
                chunk_entities: int | None = None, workers: int = 1, progress=None) -> dict[str, list[os.PathLike]]:
    """Write every table as files in `out_dir`, replaced as a whole once all are complete:
    `format="parquet"` with `partition_by` (`"period"`: facts and events by date key, or a column name)
    as `<table>/<column>=<value>/part-00000.parquet`; `"csv"` or `"jsonl"` as `<table>.csv` / `<table>.jsonl`.
    Returns table -> its files. `format="parquet"` without `partition_by` is the Parquet set (write_parquet)."""
    from .writers.layouts import check_options, write_layout

    if format == "parquet" and partition_by is None:
        written = write_parquet(spec, out_dir, chunk_entities=chunk_entities, workers=workers, progress=progress)
        return {name: [path] for name, path in written.items()}
    check_options(format, partition_by)
    spec = _spec(spec)
    generation = stream(spec, chunk_entities=chunk_entities, workers=workers)
    from .materialize import manifest_of

    manifest = manifest_of(spec, generation.plan, spec_hash(spec), story_hash(spec))
    return write_layout(generation, out_dir, format, partition_by, manifest, progress=progress)


def write_partitioned_parquet(spec: SpecLike, out_dir: str | os.PathLike, partition_by: str = "period",
                              **options) -> dict[str, list[os.PathLike]]:
    """Hive-partitioned Parquet (see write_files)."""
    return write_files(spec, out_dir, "parquet", partition_by=partition_by, **options)


def write_csv(spec: SpecLike, out_dir: str | os.PathLike, **options) -> dict[str, list[os.PathLike]]:
    """`<out_dir>/<table>.csv` for every table, ready for `dbt seed` (see write_files)."""
    return write_files(spec, out_dir, "csv", **options)


def write_jsonl(spec: SpecLike, out_dir: str | os.PathLike, **options) -> dict[str, list[os.PathLike]]:
    """`<out_dir>/<table>.jsonl` for every table, one JSON object per line (see write_files)."""
    return write_files(spec, out_dir, "jsonl", **options)
