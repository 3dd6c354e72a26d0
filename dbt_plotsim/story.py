"""The story kept between loads, so a load costs what it writes, not the engine's work.

The engine draws every value over the whole window and the clock (engine/clock.py) keeps what has happened
by `as_of`, so the chunks before the clock are the same at every `as_of` of one story. A source generated
before its window's end keeps those chunks beside its output; the next load (an append, or any other as-of
of the same story) replays them through the clock instead of drawing the story again.

    <folder>/story.json               story hash, package version, per chunk and table: its size and batches
    <folder>/000000/<table>.arrow     one chunk's rows of one table (Arrow IPC, LZ4), hidden columns included

A growing table's rows are kept grouped by the first period whose clock shows them (engine/first_shown.py),
one record batch per period, with their place in the chunk (`_plotsim_row`): a load reads only the batches
of the periods it adds and puts their rows back in the order the engine drew them. Other tables are one
batch each. Every batch's CRC-32 is recorded and checked before a replay reads it.

A story is written in a staging sibling while the chunks go to the writer and renamed into place after the
last one, so a folder that exists is complete. It is a pure function of the story hash and the package
version: whatever happens to the output (a failed commit, an overwritten table), a folder whose record matches
is still right, and anything else (another story, a missing, resized or altered file) is set aside and the
engine draws.
The folder is removed once a load reaches the window's end: nothing more can be appended.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa

from .engine.budget import DISK_SHARE, free_space
from .engine.clock import appended, last_period, rules_for
from .engine.first_shown import first_shown
from .engine.estimates import row_width
from .engine.pipeline import expected_rows
from .errors import WriteError

RECORD = "story.json"
ROW = "_plotsim_row"  # a growing table's row: its place in the chunk as drawn
STAGING_PREFIX = ".story-staging-"
COMPRESSION = "lz4"  # fast both ways; a story is read once per load


@dataclass(frozen=True)
class StoryStore:
    folder: Path
    story: str  # story hash (api.story_hash)
    version: str  # package version, Faker's included (materialize.__version__)

    @classmethod
    def beside_database(cls, database: str | os.PathLike, schema: str, source: str, story: str,
                        version: str) -> "StoryStore":
        """`.<file name>.plotsim/story-<schema>-<source>/` next to a DuckDB file."""
        path = Path(os.path.abspath(database))
        return cls(path.parent / f".{path.name}.plotsim" / f"story-{schema}-{source}", story, version)

    @classmethod
    def in_parquet_store(cls, store: Path, story: str, version: str) -> "StoryStore":
        """`story/` in a Parquet set's hidden store (writers/parquet_set.py), which never prunes it."""
        return cls(store / "story", story, version)

    # ------------------------------------------------------------------ the hook a Generation calls
    def told(self, generation, *, force: bool = False):
        """The generation with its story taken through this store: a kept story that matches is replayed (a
        forced run draws again); otherwise the engine draws and, when a later load can follow and the story
        fits on the disk, its chunks are kept on the way."""
        plan = generation.plan
        rules = rules_for(plan, generation.loaded)
        since = -1 if generation.since is None else generation.since
        # only these tables skip the periods an append already wrote; derived tables (truth, features) see
        # the whole window, so with them every period is replayed and the append's clock drops the old rows
        grown = set() if generation.derived else appended(plan, rules)
        keep = self.worth_keeping(generation)

        def told(draw: Callable[[], Iterator]) -> Iterator:
            self._remove_staging()
            chunks = None if force else self._record()
            if chunks is not None and self._intact(chunks, since, last_period(plan), grown):
                return self._replay(chunks, since, last_period(plan), grown, keep)
            if keep:
                return self._keep(draw(), lambda chunk: first_shown(plan, rules, chunk))
            self.discard()
            return draw()

        return generation.told_by(told)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()  # the DuckDB side's folder once no source keeps a story there
        except OSError:
            pass  # not empty (another source's story, a Parquet set's versions) or already gone

    # ------------------------------------------------------------------ reading
    def _record(self) -> list[dict] | None:
        """The chunks of a complete folder of this story and version, or None."""
        try:
            record = json.loads((self.folder / RECORD).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("story") != self.story or record.get("version") != self.version:
            return None
        chunks = record.get("chunks")
        try:
            for chunk in chunks:
                for name, (size, batches) in chunk["tables"].items():
                    if (self.folder / chunk["folder"] / f"{name}.arrow").stat().st_size != size or \
                            not all(len(b) == 3 for b in batches):
                        return None
        except (OSError, TypeError, KeyError, AttributeError, ValueError):
            return None
        return chunks

    def _intact(self, chunks: list[dict], since: int, last: int, grown: set[str]) -> bool:
        """Whether every batch a replay would read has the CRC-32 it was written with."""
        try:
            for chunk in chunks:
                for name, (_, batches) in chunk["tables"].items():
                    with pa.memory_map(str(self.folder / chunk["folder"] / f"{name}.arrow")) as source:
                        reader = pa.ipc.open_file(source)
                        if reader.num_record_batches != len(batches):
                            return False
                        for i in _wanted(batches, since if name in grown else -1, last):
                            if _crc(reader.get_batch(i)) != batches[i][2]:
                                return False
        except (OSError, pa.ArrowException):
            return False
        return True

    def _replay(self, chunks: list[dict], since: int, last: int, grown: set[str],
                keep: bool) -> Iterator[dict[str, pa.Table]]:
        """The kept chunks; of a growing table, only the rows first shown after `since`, up to `last`."""
        for chunk in chunks:
            out = {}
            for name, entry in chunk["tables"].items():
                path = self.folder / chunk["folder"] / f"{name}.arrow"
                try:
                    with pa.memory_map(str(path)) as source:
                        out[name] = _read(pa.ipc.open_file(source), entry, since if name in grown else -1, last)
                except (OSError, pa.ArrowException) as exc:
                    raise WriteError(f"the story kept at {self.folder} is damaged ({path.name}: {exc}); remove "
                                     "that folder and run again. Nothing was written.") from None
            yield out
        if not keep:
            self.discard()

    # ------------------------------------------------------------------ writing
    def _keep(self, chunks: Iterator[dict[str, pa.Table]],
              shown: Callable[[dict], dict[str, np.ndarray]]) -> Iterator[dict[str, pa.Table]]:
        """The chunks, each kept by a second thread while the writer takes it and the engine draws the next
        (pyarrow writes without the GIL); one chunk at a time, so no chunk is held longer than without it. A
        story that cannot be written (a full disk) is given up: the output does not need it."""
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.folder.parent))
        except OSError:  # a folder we cannot write to: the output does not need the story
            yield from chunks
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="plotsim-story")
        listed: list[dict] = []
        pending, kept = None, True
        try:
            for index, chunk in enumerate(chunks):  # the engine's errors propagate; the story's only end keeping
                kept = kept and _took(pending, listed)
                pending = pool.submit(_keep_chunk, staging / f"{index:06d}", chunk, shown) if kept else None
                yield chunk
            kept = kept and _took(pending, listed)
            pending = None
            if kept:
                try:
                    (staging / RECORD).write_text(json.dumps({"story": self.story, "version": self.version,
                                                              "chunks": listed}) + "\n")
                    self.discard()
                    os.rename(staging, self.folder)
                except OSError:
                    pass  # not kept: the output does not need it
        finally:
            if pending is not None:
                pending.cancel() or pending.exception()  # let a running write finish before removing staging
            pool.shutdown()
            shutil.rmtree(staging, ignore_errors=True)  # a no-op once renamed

    def worth_keeping(self, generation) -> bool:
        """Whether a load can follow (the clock stands before the window's end) and the whole story fits on
        the disk; keeping it is optional: without it, the next load draws the story again."""
        plan = generation.plan
        if last_period(plan) >= plan.periods - 1:
            return False
        need = sum(n * row_width(generation.schemas[name])
                   for name, n in expected_rows(plan).items() if name in generation.schemas)
        return need * DISK_SHARE < free_space(self.folder.parent)[1]

    def _remove_staging(self) -> None:
        """Staging a killed run left (one writer at a time: DuckDB locks its file, Parquet sets their store)."""
        if not self.folder.parent.is_dir():
            return
        for entry in self.folder.parent.iterdir():
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)


def _took(pending, listed: list) -> bool:
    """Wait for the chunk being kept (if any) and list it; False when it could not be written."""
    if pending is None:
        return True
    try:
        listed.append(pending.result())
    except OSError:
        return False
    return True


def _keep_chunk(folder: Path, chunk: dict[str, pa.Table], shown) -> dict:
    """One chunk's files; returns its entry in the record."""
    folder.mkdir()
    firsts = shown(chunk)
    options = pa.ipc.IpcWriteOptions(compression=COMPRESSION)
    entries = {}
    for name, table in chunk.items():
        path = folder / f"{name}.arrow"
        schema = table.schema.append(pa.field(ROW, pa.int64())) if name in firsts else table.schema
        with pa.ipc.new_file(str(path), schema, options=options) as writer:
            if name in firsts:
                batches = _write_by_period(writer, table, firsts[name])
            else:
                batch = _one_batch(table)
                writer.write_batch(batch)
                batches = [[None, table.num_rows, _crc(batch)]]
        entries[name] = [path.stat().st_size, batches]
    return {"folder": folder.name, "tables": entries}


def _crc(batch: pa.RecordBatch) -> int:
    """CRC-32 of a batch's uncompressed bytes."""
    return zlib.crc32(batch.serialize())


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    return pa.record_batch([column.combine_chunks() for column in table.columns], schema=table.schema)


def _wanted(batches: list, since: int, last: int) -> list[int]:
    """Batches a replay reads: every batch of a table kept whole, a growing table's first shown in (since, last]."""
    return [i for i, (period, _, _) in enumerate(batches) if period is None or since < period <= last]


def _write_by_period(writer, table: pa.Table, first: np.ndarray) -> list[list[int]]:
    """The rows as one record batch per first period, each in the chunk's order, with their place in it;
    returns [[period, batch rows], ...] in file order."""
    small = first.astype(np.int16 if first.max(initial=0) < np.iinfo(np.int16).max else np.int32)
    order = np.argsort(small, kind="stable")  # a radix sort for 16-bit keys
    counts = np.bincount(small, minlength=1)
    periods = np.flatnonzero(counts)
    counts = counts[periods]
    ranked = table.take(pa.array(order)).append_column(ROW, pa.array(order, pa.int64()))
    offset, out = 0, []
    for period, count in zip(periods, counts):
        batch = _one_batch(ranked.slice(offset, int(count)))
        writer.write_batch(batch)
        out.append([int(period), int(count), _crc(batch)])
        offset += int(count)
    return out


def _read(reader, entry: list, since: int, last: int) -> pa.Table:
    """A kept table: all of it, or of a growing one the batches first shown in (since, last], in the order
    the engine drew them."""
    batches = entry[1]
    table = pa.Table.from_batches([reader.get_batch(i) for i in _wanted(batches, since, last)], schema=reader.schema)
    if ROW not in table.column_names:
        return table
    place = table[ROW].to_numpy()
    return table.drop_columns([ROW]).take(pa.array(np.argsort(place, kind="stable")))
