"""The data a report reads: one DuckDB connection and schema, whether the source is a DuckDB file or a
Parquet set (an in-memory DuckDB with views over its files, as `verify` opens it)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import PlotsimError, WriteError
from ..state import STATE_TABLE
from ..verify import _only_source, parquet_views, read_manifest
from ..writers.spec_record import SPEC_TABLE
from ..writers.duckdb import quote


@dataclass
class Opened:
    conn: duckdb.DuckDBPyConnection
    schema: str
    name: str  # the source's name (a Parquet set: its directory's name)
    location: str  # what the user named: the file (and schema) or the directory
    spec: object | None  # the parsed spec recorded with the data, None for older output
    tables: set[str]
    notes: list[str] = field(default_factory=list)  # what the page says is missing
    owned: bool = True  # closed with the report (not a connection dbt lent)
    recorded: list[dict] | None = None  # a Parquet set's relations as calibration measured them (its manifest)

    def relation(self, table: str) -> str:
        return f"{quote(self.schema)}.{quote(table)}"

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position", [self.schema, table]).fetchall()]

    def close(self) -> None:
        if self.owned:
            self.conn.close()


def open_duckdb(database: str | Path, schema: str = "main", source: str | None = None) -> Opened:
    if not Path(database).is_file():
        raise WriteError(f"no DuckDB file at {database}")
    try:
        conn = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        raise WriteError(f"{database} is not a DuckDB file this DuckDB can open ({exc})") from None
    try:
        return on_connection(conn, schema, source, f"{database} (schema {schema})")
    except BaseException:
        conn.close()
        raise


def on_connection(conn, schema: str, source: str | None, location: str, owned: bool = True) -> Opened:
    """A source in a DuckDB connection's schema; `owned=False` leaves the connection open (dbt's)."""
    tables = _tables(conn, schema)
    if STATE_TABLE not in tables:
        raise WriteError(f"{location} holds no synthetic source (no {STATE_TABLE} table)")
    name = source or _only_source(conn, schema)
    spec_text = None
    if SPEC_TABLE in tables:
        row = conn.execute(f"select spec_json from {quote(schema)}.{SPEC_TABLE} where source_name = ?",
                           [name]).fetchone()
        spec_text = row[0] if row else None
    opened = Opened(conn, schema, name, location, None, tables, owned=owned)
    _adopt_spec(opened, spec_text)
    return opened


def open_parquet(directory: str | Path) -> Opened:
    directory = Path(directory)
    if not directory.is_dir():
        raise WriteError(f"no Parquet set at {directory} (not a directory)")
    manifest, files = read_manifest(directory)
    conn = parquet_views(directory, files, manifest=manifest)
    opened = Opened(conn, "data", directory.name, str(directory), None, _tables(conn, "data"))
    relations = manifest.get("relations")
    opened.recorded = [r for r in relations if isinstance(r, dict)] if isinstance(relations, list) else []
    _adopt_spec(opened, manifest.get("spec"))
    return opened


def _tables(conn, schema: str) -> set[str]:
    return {r[0] for r in conn.execute("select table_name from information_schema.tables where table_schema = ?",
                                       [schema]).fetchall()}


def _adopt_spec(opened: Opened, text) -> None:
    if not text:
        opened.notes.append("No spec is recorded with this output (written before dbt-plotsim kept it): the "
                            "declared distributions are not shown.")
        return
    from ..spec.loading import parse_spec

    try:
        opened.spec = parse_spec(json.loads(text) if isinstance(text, str) else text)
    except (PlotsimError, ValueError) as exc:
        opened.notes.append(f"The recorded spec does not load with this version ({str(exc).splitlines()[0]}): "
                            "the declared distributions are not shown.")
