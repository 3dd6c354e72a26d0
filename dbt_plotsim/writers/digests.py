"""Content digests recorded at generation, so `dbt-plotsim verify` can tell whether a table changed since.

DuckDB tables: per table its row count and the sum (as a 128-bit integer) of DuckDB's hash of every row,
which any changed, added or removed row changes, whatever the row order; kept in `_plotsim_digests`.
Parquet sets: the SHA-256 of every file, kept in the set's manifest.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from ..state import STATE_TABLE
from .duckdb import quote

DIGESTS_TABLE = "_plotsim_digests"


def table_digest(conn, relation: str) -> tuple[int, str]:
    """(rows, digest) of a table or view given as a quoted, qualified relation."""
    rows, digest = conn.execute(f"select count(*), coalesce(sum(hash(t)), 0)::varchar from {relation} t").fetchone()
    return int(rows), digest


def record_digests(conn, schema: str, source: str, tables: list[str]) -> None:
    """Digest every table of a source, inside the transaction that wrote them."""
    s = quote(schema)
    conn.execute(f"""create table if not exists {s}.{DIGESTS_TABLE} (
        source_name varchar, table_name varchar, row_count bigint, digest varchar, duckdb_version varchar)""")
    conn.execute(f"delete from {s}.{DIGESTS_TABLE} where source_name = ? or source_name not in "
                 f"(select source_name from {s}.{STATE_TABLE})", [source])  # and those of overwritten sources
    rows = [(source, name, *table_digest(conn, f"{s}.{quote(name)}"), duckdb.__version__) for name in tables]
    conn.executemany(f"insert into {s}.{DIGESTS_TABLE} values (?, ?, ?, ?, ?)", rows)


def recorded_digests(conn, schema: str, source: str) -> dict[str, tuple[int, str, str]] | None:
    """table -> (rows, digest, DuckDB version) as recorded, or None when the source has no record."""
    try:
        rows = conn.execute(f"select table_name, row_count, digest, duckdb_version from {quote(schema)}."
                            f"{DIGESTS_TABLE} where source_name = ?", [source]).fetchall()
    except duckdb.CatalogException:
        return None
    return {name: (count, digest, version) for name, count, digest, version in rows} or None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
