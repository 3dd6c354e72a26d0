"""Parquet writer: one file per table, in fixed row groups; the set is replaced as a whole (parquet_set.py)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from .. import interrupts
from ..engine.budget import check_disk
from ..errors import WriteError
from .parquet_set import MANIFEST, ParquetSet

ROW_GROUP_ROWS = 1 << 17  # fixed row groups: file bytes never depend on the chunk size


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
            self.pending, self.rows = [], 0
        self.writer.close()

    def abandon(self) -> None:
        """Close after a failure without raising (nor letting pyarrow retry, and print, at garbage collection)."""
        try:
            self.writer.close()
        except Exception:
            self.writer.is_open = False


def write_parquet(generation, out_dir: str | os.PathLike, manifest: dict | None = None,
                  commit: Callable[[dict[str, Path]], None] | None = None) -> dict[str, Path]:
    """Write every table of a generation as `out_dir/<table>.parquet`, replacing the previous set as a whole
    (parquet_set.py). `commit(paths)` runs after the new set is in place and before the old one is removed
    (the dbt path records views and state there); if it fails, the previous set is put back."""
    check_disk(generation, out_dir)
    with ParquetSet(out_dir) as files:
        previous = files.current()
        staging = files.new_staging()
        writers: dict[str, _RowGroupWriter] = {}
        try:
            for name, schema in generation.schemas.items():
                writers[name] = _RowGroupWriter(staging / f"{name}.parquet", schema)
            for chunk in generation.chunks():
                interrupts.check()
                for name, table in chunk.items():
                    writers[name].write(table)
            for writer in writers.values():
                writer.close()
            (staging / MANIFEST).write_text(json.dumps({**(manifest or {}), "tables": list(writers)}, indent=2) + "\n")
            with interrupts.finish_first():  # the swap, the dbt bookkeeping and the prune happen as a whole
                version = files.publish(staging)
                paths = {name: files.path(version) / f"{name}.parquet" for name in generation.schemas}
                if commit is not None:
                    try:
                        commit(paths)
                    except BaseException:
                        if previous is not None:
                            files.point(previous)
                        files.discard(version)
                        raise
                files.prune({version})
        except OSError as exc:
            raise WriteError(f"cannot write Parquet files to {out_dir}: {exc.strerror or exc}") from None
        finally:
            for writer in writers.values():
                writer.abandon()  # a no-op for the closed ones
            shutil.rmtree(staging, ignore_errors=True)
    return {name: Path(out_dir) / f"{name}.parquet" for name in generation.schemas}
