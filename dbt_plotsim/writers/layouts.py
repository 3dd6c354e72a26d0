"""The file layouts besides the Parquet set and DuckDB: which writer a format and partitioning choose."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import WriteError
from . import hive, text
from .file_views import columns_of

FILE_FORMATS = ("parquet", "csv", "jsonl")  # written by this module (plain `parquet` only when partitioned)


def check_options(fmt: str, partition_by: str | None) -> None:
    """WriteError for a combination no writer serves, before anything is generated."""
    if partition_by is not None and fmt != "parquet":
        raise WriteError(f"--partition-by works with --format parquet only (got --format {fmt}); drop "
                         "--partition-by or write Parquet")
    if fmt not in FILE_FORMATS:
        raise WriteError(f"unknown file format {fmt!r}; use one of: {', '.join(FILE_FORMATS)}")
    if fmt == "parquet" and partition_by is None:
        raise WriteError("bug: plain Parquet sets are written by writers/parquet.py")
    if partition_by is not None and not partition_by.strip():
        raise WriteError("--partition-by needs `period` or a column name")


def write_layout(generation, out: str | os.PathLike, fmt: str, partition_by: str | None = None,
                 manifest: dict | None = None, commit=None, progress=None) -> dict[str, list[Path]]:
    """Write a generation in one of the file layouts; table -> its files. `commit(manifest)` runs once the
    new set is in place; if it fails, the previous set is put back (file_set.py)."""
    check_options(fmt, partition_by)
    manifest = {**(manifest or {}), "columns": columns_of(generation.schemas)}  # for typed views (file_views.py)
    if fmt == "parquet":
        return hive.write_hive(generation, out, partition_by, manifest, commit, progress)
    return {name: [path] for name, path in text.write_text(generation, out, fmt, manifest, commit, progress).items()}
