"""Parquet writer: one file per table, in fixed row groups; the set is replaced as a whole (parquet_set.py).

An append (a generation from `append_after`) writes each growing table's new rows as one more file,
`<table>.<date key of the load>.parquet`, keeps the earlier files as they are (hard links into the new
version, nothing rewritten) and rewrites the other tables; the manifest lists every table's files in order.
"""
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
from ..progress import Observer, expected_rows
from .digests import file_sha256
from .overlap import overlapped
from .parquet_set import MANIFEST, ParquetSet

ROW_GROUP_ROWS = 1 << 17  # fixed row groups: file bytes never depend on the chunk size
# Measured by benchmarks/parquet_encoding.py (saas template, 2.2M rows, best of 3): without dictionaries the
# set writes 2.3x faster (0.19 s against 0.43 s) and 32% smaller (15.8 against 23.2 MiB) than with them on
# every column (high-cardinality doubles overflow them); zstd is 40% smaller than snappy (26.4 MiB) for 0.05 s
# more; the row group size (64k, 128k, 1M rows) changed neither figure, and 128k keeps several row groups per
# file for readers' threads.
COMPRESSION = "zstd"
DICTIONARY = False


class _RowGroupWriter:
    """Buffers rows and writes row groups of exactly ROW_GROUP_ROWS (the last one shorter)."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.writer = pq.ParquetWriter(path, schema, compression=COMPRESSION, use_dictionary=DICTIONARY)
        self.pending: list[pa.Table] = []
        self.rows = 0
        self.total = 0  # rows written or pending

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        self.total += table.num_rows
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
                  commit: Callable[[dict[str, list[Path]]], None] | None = None, append: bool = False,
                  progress: Observer | None = None) -> dict[str, Path]:
    """Write every table of a generation as `out_dir/<table>.parquet`, replacing the previous set as a whole
    (parquet_set.py). `commit(files)` (table -> its files) runs after the new set is in place and before the
    old one is removed (the dbt path records views and state there); if it fails, the previous set is put
    back. With `append`, the growing tables get one more file each (see the module's docstring). `progress`
    hears of each chunk (progress.py)."""
    check_disk(generation, out_dir)
    with ParquetSet(out_dir) as files:
        previous = files.current()
        staging = files.new_staging()
        writers: dict[str, _RowGroupWriter] = {}
        try:
            listed, counted = _carried(files, previous, staging, generation) if append else ({}, {})
            carried_hashes = _recorded_hashes(files, previous) if append else {}
            written = {}
            for name, schema in generation.schemas.items():
                if append and name not in _written_tables(generation):
                    continue
                file = _fresh(staging, f"{name}.{_load_key(generation)}") if name in listed else f"{name}.parquet"
                writers[name] = _RowGroupWriter(staging / file, schema)
                written[name] = file
            if progress is not None:
                progress.begin(expected_rows(generation))
            for chunk in overlapped(generation.chunks, generation.workers > 1):
                interrupts.check()
                for name, table in chunk.items():
                    writers[name].write(table)
                if progress is not None:
                    progress.chunk({name: table.num_rows for name, table in chunk.items()})
            for writer in writers.values():
                writer.close()
            table_files = {name: listed.get(name, []) + ([written[name]] if name in written else [])
                           for name in generation.schemas}
            rows = {name: counted.get(name, 0) + (writers[name].total if name in writers else 0)
                    for name in generation.schemas}
            hashes = {f: carried_hashes.get(f) or file_sha256(staging / f) for fs in table_files.values() for f in fs}
            (staging / MANIFEST).write_text(json.dumps({**(manifest or {}), "tables": list(generation.schemas),
                                                        "files": table_files, "rows": rows, "sha256": hashes},
                                                       indent=2) + "\n")
            with interrupts.finish_first():  # the swap, the dbt bookkeeping and the prune happen as a whole
                version = files.publish(staging)
                paths = {name: [files.path(version) / f for f in fs] for name, fs in table_files.items()}
                if commit is not None:
                    try:
                        commit(paths)
                    except BaseException:
                        if previous is not None:
                            files.point(previous)
                        files.discard(version)
                        raise
                files.prune({version})
            if progress is not None:
                progress.finish()
        except OSError as exc:
            raise WriteError(f"cannot write Parquet files to {out_dir}: {exc.strerror or exc}") from None
        finally:
            for writer in writers.values():
                writer.abandon()  # a no-op for the closed ones
            shutil.rmtree(staging, ignore_errors=True)
    return {name: Path(out_dir) / f"{name}.parquet" for name in generation.schemas}


def _written_tables(generation) -> set[str]:
    grown, replaced = generation.layout()
    return set(grown) | set(replaced)


def _load_key(generation) -> int:
    from ..engine.calendar import date_keys
    from ..engine.clock import last_period

    plan = generation.plan
    return int(date_keys(plan.starts)[last_period(plan)])


def _carried(files, previous: str | None, staging: Path, generation) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Hard-link the previous version's files of the growing and unchanged tables into staging; return their
    files so far (table -> names) and rows."""
    if previous is None:
        raise WriteError("bug: a Parquet append needs an earlier version")
    before = json.loads((files.path(previous) / MANIFEST).read_text())
    old_files = before.get("files") or {name: [f"{name}.parquet"] for name in before["tables"]}
    grown, replaced = generation.layout()
    carried, rows = {}, {}
    for name in generation.schemas:
        if name in replaced:
            continue
        for file in old_files[name]:
            os.link(files.path(previous) / file, staging / file)
        carried[name] = list(old_files[name])  # growing: one more file follows; unchanged: kept as they were
        rows[name] = sum(pq.read_metadata(staging / file).num_rows for file in old_files[name])
    return carried, rows


def _recorded_hashes(files, previous: str) -> dict[str, str]:
    """The SHA-256 of the previous version's files, as its manifest recorded them (carried files keep them)."""
    return json.loads((files.path(previous) / MANIFEST).read_text()).get("sha256") or {}


def _fresh(staging: Path, stem: str) -> str:
    """A file name not yet in staging: writing to a hard-linked file would change the earlier version too."""
    name, number = f"{stem}.parquet", 1
    while (staging / name).exists():
        number += 1
        name = f"{stem}-{number}.parquet"
    return name
