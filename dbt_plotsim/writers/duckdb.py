"""DuckDB writer: every table of a generation in one transaction, so a failure leaves the old tables."""
from __future__ import annotations

import os
from typing import Callable

import duckdb
import pyarrow as pa

from .. import interrupts
from ..engine.budget import check_disk
from ..errors import WriteError
from ..progress import Observer, expected_rows
from .duckdb_memory import bounded
from .overlap import overlapped


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(database: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(database))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WriteError(
                f"the DuckDB file {database} is open in another process (a dbt run, a notebook, the DuckDB CLI?); "
                "close it and run again. Nothing was written."
            ) from None
        raise WriteError(f"cannot open DuckDB file {database}: {exc}") from None


STAGING = "_plotsim_new_"  # prefix of tables being filled; spec names start with a letter, so none collide


def write_duckdb(generation, target: str | os.PathLike | duckdb.DuckDBPyConnection, schema: str = "main",
                 finalize: Callable[[duckdb.DuckDBPyConnection], None] | None = None, append: bool = False,
                 progress: Observer | None = None) -> list[str]:
    """Create or replace the generation's tables in `schema`, atomically. `target` is a file or a connection;
    `finalize` runs inside the same transaction, after the tables (for bookkeeping rows). With `append`
    (a generation made by `append_after`, over tables an earlier run wrote) the growing tables get the new
    rows inserted and the others are replaced, in the same one transaction.

    The rows go into staging tables chunk by chunk, each insert committed, so DuckDB writes them to the
    file instead of holding one transaction's rows in memory; one short transaction then drops the old
    tables and renames the staging ones. A failure or a kill before it leaves the old tables, and staging
    left by a killed run is dropped by the next. `progress` hears of each chunk (progress.py). DuckDB's buffer
    pool is held small meanwhile (duckdb_memory.py), so the process does not grow with the rows written."""
    own = not isinstance(target, duckdb.DuckDBPyConnection)
    if own:
        check_disk(generation, target)
    conn = connect(target) if own else target
    names = list(generation.schemas)
    grown, replaced = generation.layout() if append else ([], names)
    try:
        with bounded(conn):  # DuckDB's buffer pool held small for the write, given back after
            _write(conn, generation, schema, finalize, grown, replaced, progress)
    except duckdb.InterruptException:  # DuckDB saw the Ctrl-C first (inside dbt): the same stop as ours
        raise interrupts.Interrupted() from None
    except (duckdb.Error, RuntimeError) as exc:
        stopped = interrupts.swallowed(exc)
        if stopped is not None:  # our handler's Interrupted, reported by DuckDB as its own error
            raise stopped from None
        if not isinstance(exc, duckdb.Error):
            raise
        raise WriteError(f"writing to DuckDB failed, nothing was changed: {exc}") from None
    finally:
        if own:
            conn.close()
    return names


def _write(conn, generation, schema: str, finalize, grown: list[str], replaced: list[str], progress) -> None:
    """Fill staging tables chunk by chunk, then swap them in (and run `finalize`) in one transaction."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    drop_staging(conn, schema)
    try:
        for name in grown + replaced:
            _create(conn, schema, STAGING + name, generation.schemas[name])
        pending = _Pending(conn, schema)
        if progress is not None:
            progress.begin(expected_rows(generation))
        for chunk in overlapped(generation.chunks, generation.workers > 1):
            interrupts.check()
            pending.add(chunk)
            if progress is not None:
                progress.chunk({name: table.num_rows for name, table in chunk.items()})
        pending.flush()
        with interrupts.finish_first():  # the swap, the bookkeeping and the COMMIT as a whole or not at all
            conn.execute("BEGIN TRANSACTION")
            try:
                for name in replaced:
                    _replace(conn, schema, name)
                for name in grown:
                    _insert(conn, schema, name)
                if finalize is not None:
                    finalize(conn)
                conn.execute("COMMIT")
            except BaseException:
                rollback(conn)
                raise
        if progress is not None:
            progress.finish()
    except BaseException:
        drop_staging(conn, schema)
        raise


PENDING_BYTES = 64 << 20  # rows held before an insert: each committed insert costs a WAL sync


class _Pending:
    """Small chunks (an append's new period, a dimension's rows) gathered into fewer inserts; memory stays
    within PENDING_BYTES plus one chunk."""

    def __init__(self, conn, schema: str):
        self.conn, self.schema = conn, schema
        self.tables: dict[str, list] = {}
        self.bytes = 0

    def add(self, chunk) -> None:
        for name, table in chunk.items():
            if table.num_rows:
                self.tables.setdefault(name, []).append(table)
                self.bytes += table.nbytes
        if self.bytes >= PENDING_BYTES:
            self.flush()

    def flush(self) -> None:
        for name, tables in self.tables.items():
            self.conn.register("_plotsim_chunk", pa.concat_tables(tables) if len(tables) > 1 else tables[0])
            self.conn.execute(f"INSERT INTO {quote(self.schema)}.{quote(STAGING + name)} SELECT * FROM _plotsim_chunk")
            self.conn.unregister("_plotsim_chunk")
        self.tables, self.bytes = {}, 0


def drop_staging(conn, schema: str) -> None:
    """Drop the staging tables of `schema` (a killed run's, or this run's after a failure); best effort."""
    try:
        rows = conn.execute("select table_name from information_schema.tables where table_schema = ? "
                            "and table_type = 'BASE TABLE' and starts_with(table_name, ?)", [schema, STAGING]).fetchall()
        for (name,) in rows:
            conn.execute(f"DROP TABLE IF EXISTS {quote(schema)}.{quote(name)}")
    except duckdb.Error:
        pass  # the connection is unusable: the error that got us here is the one to report


def _replace(conn, schema: str, name: str) -> None:
    """Drop `name` (a table, or the view an earlier Parquet run left) and give the staging table its name."""
    kind = conn.execute("select table_type from information_schema.tables where table_schema = ? and "
                        "table_name = ?", [schema, name]).fetchall()
    qualified = f"{quote(schema)}.{quote(name)}"
    if kind:
        conn.execute(f"DROP {'VIEW' if kind[0][0] == 'VIEW' else 'TABLE'} {qualified}")
    conn.execute(f"ALTER TABLE {quote(schema)}.{quote(STAGING + name)} RENAME TO {quote(name)}")


def _insert(conn, schema: str, name: str) -> None:
    """Append the staging table's rows to `name` and drop it."""
    staged = f"{quote(schema)}.{quote(STAGING + name)}"
    conn.execute(f"INSERT INTO {quote(schema)}.{quote(name)} SELECT * FROM {staged}")
    conn.execute(f"DROP TABLE {staged}")


def rollback(conn) -> None:
    """Roll back if a transaction is still open; the error that got us here is the one to report."""
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error:
        pass  # already committed (an interrupt held until after COMMIT) or already aborted


def _create(conn, schema: str, name: str, arrow_schema) -> None:
    qualified = f"{quote(schema)}.{quote(name)}"
    # Column types as DuckDB reads them from Arrow, then a plain CREATE TABLE: with DuckDB 2.0, a table made
    # by CREATE TABLE AS from an empty Arrow table and filled in the same transaction could read as empty
    # in that process once an insert passed one row group (122,880 rows).
    conn.register("_plotsim_empty", arrow_schema.empty_table())
    columns = conn.execute("DESCRIBE SELECT * FROM _plotsim_empty").fetchall()
    conn.unregister("_plotsim_empty")
    definition = ", ".join(f"{quote(column)} {kind}" for column, kind, *_ in columns)
    conn.execute(f"CREATE OR REPLACE TABLE {qualified} ({definition})")
    described = (arrow_schema.metadata or {}).get(b"description")
    if described:
        conn.execute(f"COMMENT ON TABLE {qualified} IS {_literal(described.decode())}")
    for field in arrow_schema:
        text = (field.metadata or {}).get(b"description")
        if text:
            conn.execute(f"COMMENT ON COLUMN {qualified}.{quote(field.name)} IS {_literal(text.decode())}")
