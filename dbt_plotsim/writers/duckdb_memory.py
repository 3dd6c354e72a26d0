"""DuckDB's memory during a write: its buffer pool held to WRITE_LIMIT, then set back to the default.

DuckDB keeps every block it writes in its buffer pool until the pool reaches `memory_limit` (80% of RAM by
default), so a write of N rows into a file grew the process by about as much as the rows' compressed size,
long after each insert was committed. Those blocks are persistent (each insert commits, writers/duckdb.py),
so a lower limit only makes DuckDB drop them and read them back from the file if it needs them again.

`bounded(conn)` lowers DuckDB's default limit for the write and RESETs it afterwards, whatever happened in
between. A limit someone set is theirs and left as it is (DuckDB shows it rounded, so it could not be put
back exactly anyway). The setting belongs to the whole DuckDB instance, so other queries on it meanwhile (a
dbt run's other threads) share the lower limit; PLOTSIM_DUCKDB_MEMORY (a DuckDB size such as `2GB`, or
`off`) changes it or turns it off. An in-memory database is left alone: its tables live in the pool, and a
lower limit would only move them to temporary files. `temp_directory` is left alone too: a file database
has one by default (`<file>.tmp`), nothing of ours needs to spill, and DuckDB refuses to switch it back
once it was used.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Iterator

import duckdb

from ..errors import WriteError

WRITE_LIMIT = "256MiB"  # the pool's bound during a write: every insert fits, peak RSS stays flat
ENV = "PLOTSIM_DUCKDB_MEMORY"
_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def size_bytes(text: str) -> int | None:
    """Bytes of a DuckDB size ('18.8 GiB', '256MB', '0 bytes'); None when it reads otherwise."""
    found = _SIZE.match(text or "")
    if found is None or found.group(2).lower() not in _UNITS:
        return None
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def write_limit() -> str | None:
    """The limit a write uses: PLOTSIM_DUCKDB_MEMORY when set (None for `off`), else WRITE_LIMIT."""
    chosen = os.environ.get(ENV, "").strip()
    if not chosen:
        return WRITE_LIMIT
    if chosen.lower() in ("off", "none", "0"):
        return None
    if not size_bytes(chosen):
        raise WriteError(f"{ENV}={chosen!r} is not a size: give one DuckDB reads, such as 512MB or 2GB, or `off` "
                         "to leave DuckDB's memory_limit as it is. Nothing was written.")
    return chosen


def _setting(conn, name: str) -> str:
    return conn.execute(f"select current_setting('{name}')").fetchone()[0]


def _default_limit() -> str:
    """memory_limit of a fresh instance in this process: what RESET gives back."""
    with duckdb.connect(":memory:") as fresh:
        return _setting(fresh, "memory_limit")


def _on_file(conn) -> bool:
    row = conn.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    return bool(row and row[0])


@contextmanager
def bounded(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block with DuckDB's default memory_limit lowered to write_limit() (see the module's docstring)."""
    wanted = write_limit()
    if wanted is None or not _on_file(conn) or _setting(conn, "memory_limit") != _default_limit():
        yield
        return
    try:
        conn.execute(f"SET memory_limit = '{wanted}'")
    except duckdb.OutOfMemoryException:  # the instance holds more than that already: write as it is
        yield
        return
    try:
        yield
    finally:
        try:
            conn.execute("RESET memory_limit")
        except duckdb.Error:
            pass  # the connection is unusable: the error that got us here is the one to report
