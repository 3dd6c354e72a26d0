"""Parquet writer: one file per table, written aside and moved into place only when every file is complete."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import WriteError

ROW_GROUP_ROWS = 1 << 17  # fixed row groups: file bytes never depend on the chunk size
MANIFEST = "_plotsim_manifest.json"


class _RowGroupWriter:
    """Buffers rows and writes row groups of exactly ROW_GROUP_ROWS (the last one shorter)."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.writer = pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=True)
        self.pending: list[pa.Table] = []
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            combined = pa.concat_tables(self.pending)
            full = (combined.num_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
            self.writer.write_table(combined.slice(0, full), row_group_size=ROW_GROUP_ROWS)
            rest = combined.slice(full)
            self.pending, self.rows = [rest], rest.num_rows

    def close(self) -> None:
        if self.rows:
            self.writer.write_table(pa.concat_tables(self.pending), row_group_size=ROW_GROUP_ROWS)
        self.writer.close()


def write_parquet(generation, out_dir: str | os.PathLike, manifest: dict | None = None) -> dict[str, Path]:
    """Write every table of a generation to `out_dir/<table>.parquet`; all files or none change."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".plotsim-", dir=out))
    except OSError as exc:
        raise WriteError(f"cannot write to {out}: {exc.strerror or exc}") from None
    try:
        writers = {name: _RowGroupWriter(staging / f"{name}.parquet", schema)
                   for name, schema in generation.schemas.items()}
        for chunk in generation.chunks():
            for name, table in chunk.items():
                writers[name].write(table)
        for writer in writers.values():
            writer.close()
        (staging / MANIFEST).write_text(json.dumps({**(manifest or {}), "tables": list(writers)}, indent=2) + "\n")
        previous = _previous_tables(out)
        for name in writers:
            os.replace(staging / f"{name}.parquet", out / f"{name}.parquet")
        for stale in previous - set(writers):  # tables an earlier spec made and this one does not
            (out / f"{stale}.parquet").unlink(missing_ok=True)
        os.replace(staging / MANIFEST, out / MANIFEST)
    except OSError as exc:
        raise WriteError(f"cannot write Parquet files to {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: out / f"{name}.parquet" for name in generation.schemas}


def _previous_tables(out: Path) -> set[str]:
    try:
        return set(json.loads((out / MANIFEST).read_text())["tables"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()
