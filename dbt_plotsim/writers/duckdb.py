"""DuckDB writer: every table of a generation in one transaction, so a failure leaves the old tables."""
from __future__ import annotations

import os

import duckdb

from ..errors import WriteError


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


def write_duckdb(generation, target: str | os.PathLike | duckdb.DuckDBPyConnection, schema: str = "main") -> list[str]:
    """Create or replace the generation's tables in `schema`, atomically. `target` is a file or a connection."""
    own = not isinstance(target, duckdb.DuckDBPyConnection)
    conn = connect(target) if own else target
    prefix = quote(schema) + "."
    try:
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            for name, arrow_schema in generation.schemas.items():
                _create(conn, prefix + quote(name), arrow_schema)
            for chunk in generation.chunks():
                for name, table in chunk.items():
                    conn.register("_plotsim_chunk", table)
                    conn.execute(f"INSERT INTO {prefix}{quote(name)} SELECT * FROM _plotsim_chunk")
                    conn.unregister("_plotsim_chunk")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except duckdb.Error as exc:
        raise WriteError(f"writing to DuckDB failed, nothing was changed: {exc}") from None
    finally:
        if own:
            conn.close()
    return list(generation.schemas)


def _create(conn, qualified: str, arrow_schema) -> None:
    empty = arrow_schema.empty_table()
    conn.register("_plotsim_empty", empty)
    conn.execute(f"CREATE OR REPLACE TABLE {qualified} AS SELECT * FROM _plotsim_empty")
    conn.unregister("_plotsim_empty")
    described = (arrow_schema.metadata or {}).get(b"description")
    if described:
        conn.execute(f"COMMENT ON TABLE {qualified} IS {_literal(described.decode())}")
    for field in arrow_schema:
        text = (field.metadata or {}).get(b"description")
        if text:
            conn.execute(f"COMMENT ON COLUMN {qualified}.{quote(field.name)} IS {_literal(text.decode())}")
