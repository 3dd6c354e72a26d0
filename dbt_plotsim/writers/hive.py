"""Hive-partitioned Parquet: `<out>/<table>/<column>=<value>/part-00000.parquet`, replaced as a whole.

Tables holding the partition column (`period`: the `date_key` of facts and events, or a column the user
names) get one directory per value; the others one file, `<out>/<table>/part-00000.parquet`. As in Hive (and
DuckDB's `COPY ... PARTITION_BY`), the partition column lives in the directory name only: values are
percent-encoded, a null is `__HIVE_DEFAULT_PARTITION__`; the manifest records each table's partition column
and its DuckDB type for readers (`read_parquet(..., hive_partitioning = true, hive_types = {...})`).

Bytes depend on the rows only: every partition receives its rows in generation order (entity blocks in
order, whatever the chunk size or worker count), row groups hold exactly ROW_GROUP_ROWS rows and a new part
file starts after exactly PART_ROWS rows, so chunking never shows in the files or their names.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import interrupts
from ..progress import reported_chunks
from .overlap import overlapped
from ..engine.budget import check_disk
from ..errors import WriteError
from .file_set import replace_set
from .parquet import COMPRESSION, DICTIONARY
from .parquet import ROW_GROUP_ROWS as SET_ROW_GROUP_ROWS

PERIOD = "period"
PERIOD_COLUMN = "date_key"
# Each partition holds up to one row group of rows pending, so memory grows with partitions x row group: a
# row group half the Parquet set's (64k rows, as fast and as small in benchmarks/parquet_encoding.py).
ROW_GROUP_ROWS = SET_ROW_GROUP_ROWS // 2
PART_ROWS = 16 * ROW_GROUP_ROWS  # rows per part file of one partition (a multiple of the row group)
NULL_VALUE = "__HIVE_DEFAULT_PARTITION__"  # what Hive, Spark and DuckDB write for a null


def partition_columns(schemas: dict[str, pa.Schema], partition_by: str) -> dict[str, str | None]:
    """table -> its partition column (None: one file). WriteError when no table has the column, or one has it
    with a type a directory name cannot carry exactly (floating point, nested)."""
    column = PERIOD_COLUMN if partition_by == PERIOD else partition_by
    chosen = {name: column if column in schema.names else None for name, schema in schemas.items()}
    if not any(chosen.values()):
        allowed = sorted({c for s in schemas.values() for c in s.names if _partitionable(s.field(c).type)})
        close = difflib.get_close_matches(column, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise WriteError(f"--partition-by {partition_by}: no table has a column {column!r}; {hint}use `period` "
                         f"(the date key of facts and events) or one of: {', '.join(allowed)}")
    for name, col in chosen.items():
        if col is not None and not _partitionable(schemas[name].field(col).type):
            raise WriteError(f"--partition-by {partition_by}: {name}.{col} is {schemas[name].field(col).type}; "
                             "partition by an integer, text, date or boolean column")
    return chosen


def write_hive(generation, out_dir: str | os.PathLike, partition_by: str = PERIOD,
               manifest: dict | None = None, commit=None, progress=None) -> dict[str, list[Path]]:
    """Write every table of a generation partitioned (see the module's docstring); the previous set at
    `out_dir` is replaced only once the new one is complete. Returns table -> its files."""
    columns = partition_columns(generation.schemas, partition_by)
    check_disk(generation, out_dir)

    def fill(staging: Path):
        tables = {name: _TableWriter(staging, name, schema, columns[name])
                  for name, schema in generation.schemas.items()}
        try:
            for chunk in reported_chunks(generation, progress, overlapped(generation.chunks, generation.workers > 1)):
                interrupts.check()
                for name, table in chunk.items():
                    tables[name].write(table)
            for writer in tables.values():
                writer.close()
        finally:
            for writer in tables.values():
                writer.abandon()
        partitions = {name: {"column": col, "type": _duckdb_type(generation.schemas[name].field(col).type)}
                      for name, col in columns.items() if col is not None and tables[name].total}  # empty: one file
        rows = {name: writer.total for name, writer in tables.items()}
        return ({name: writer.files() for name, writer in tables.items()},
                {"layout": "hive", "format": "parquet", "tables": list(generation.schemas), "rows": rows,
                 "partitions": partitions})

    files = replace_set(out_dir, fill, manifest or {}, commit)
    return {name: [Path(out_dir) / f for f in fs] for name, fs in files.items()}


class _TableWriter:
    """One table: its rows split by partition value, each partition written by its own _Parts."""

    def __init__(self, staging: Path, name: str, schema: pa.Schema, column: str | None):
        self.root, self.name, self.schema, self.column = staging / name, name, schema, column
        self.root.mkdir()
        self.file_schema = schema.remove(schema.get_field_index(column)) if column else schema
        self.parts: dict[object, _Parts] = {}
        self.total = 0

    def write(self, table: pa.Table) -> None:
        self.total += table.num_rows
        if not table.num_rows:  # nothing to split (an empty table gets its one file at close)
            return
        if self.column is None:
            self._partition(None).write(table)
            return
        for value, rows in _split(table, self.column):
            self._partition(value).write(rows)

    def _partition(self, value) -> "_Parts":
        if value not in self.parts:
            relative = self.name if self.column is None else f"{self.name}/{self.column}={_directory_value(value)}"
            self.parts[value] = _Parts(self.root.parent / relative, self.file_schema, relative)
        return self.parts[value]

    def close(self) -> None:
        if not self.parts:  # an empty table still reads back, with its full schema
            self.parts[None] = _Parts(self.root, self.schema, self.name)
        for parts in self.parts.values():
            parts.close()

    def abandon(self) -> None:
        for parts in self.parts.values():
            parts.abandon()

    def files(self) -> list[str]:
        """Paths relative to the set, by partition value (nulls last), then part number."""
        keyed = sorted(self.parts.items(), key=lambda kv: (kv[0] is None, kv[0] if kv[0] is not None else 0))
        return [f"{parts.relative}/{_part_name(i)}" for _, parts in keyed for i in range(parts.count)]


class _Parts:
    """The files of one partition: row groups of exactly ROW_GROUP_ROWS rows, a new file every PART_ROWS."""

    def __init__(self, folder: Path, schema: pa.Schema, relative: str):
        self.folder, self.schema, self.relative = folder, schema, relative
        self.pending: list[pa.Table] = []
        self.rows = 0  # pending
        self.in_file = 0  # written to the open file
        self.count = 0  # files started
        self.writer = None

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            combined = pa.concat_tables(self.pending)
            full = (combined.num_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
            for start in range(0, full, ROW_GROUP_ROWS):
                self._group(combined.slice(start, ROW_GROUP_ROWS))
            rest = combined.slice(full)
            self.pending, self.rows = [rest], rest.num_rows

    def _group(self, table: pa.Table) -> None:
        if self.writer is None or self.in_file >= PART_ROWS:
            if self.writer is not None:
                self.writer.close()
            self.folder.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.folder / _part_name(self.count), self.schema,
                                           compression=COMPRESSION, use_dictionary=DICTIONARY)
            self.count, self.in_file = self.count + 1, 0
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.in_file += table.num_rows

    def close(self) -> None:
        if self.rows or self.writer is None:
            self._group(pa.concat_tables(self.pending) if self.pending else self.schema.empty_table())
            self.pending, self.rows = [], 0
        self.writer.close()

    def abandon(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:
                self.writer.is_open = False


def _split(table: pa.Table, column: str):
    """(value, rows) per distinct value of `column`, rows in their order, the partition column dropped;
    vectorized: one stable sort of the dictionary codes, then one slice per value."""
    encoded = pc.dictionary_encode(table.column(column).combine_chunks())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    rest = table.drop_columns([column])
    if len(codes) and (codes == codes[0]).all():
        value = encoded.dictionary[int(codes[0])].as_py() if codes[0] >= 0 else None
        yield value, rest
        return
    small = np.int16 if len(encoded.dictionary) < (1 << 15) else codes.dtype  # numpy radix-sorts 16-bit keys
    order = np.argsort(codes.astype(small, copy=False), kind="stable")
    ordered = rest.take(pa.array(order))
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(codes)]):
        code = int(codes[order[start]])
        yield (encoded.dictionary[code].as_py() if code >= 0 else None), ordered.slice(start, stop - start)


def _directory_value(value) -> str:
    if value is None:
        return NULL_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return quote(text, safe="")  # as DuckDB writes and reads them


def _part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def _partitionable(kind: pa.DataType) -> bool:
    return (pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_date(kind) or pa.types.is_boolean(kind))


_DUCKDB_TYPES = {"int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
                 "uint8": "UTINYINT", "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT",
                 "string": "VARCHAR", "large_string": "VARCHAR", "date32[day]": "DATE", "bool": "BOOLEAN"}


def _duckdb_type(kind: pa.DataType) -> str:
    try:
        return _DUCKDB_TYPES[str(kind)]
    except KeyError:
        raise WriteError(f"bug: no DuckDB type for a partition column of type {kind}") from None
