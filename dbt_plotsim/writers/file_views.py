"""DuckDB relations over a file set (Hive Parquet, CSV, JSONL) that give back each table's exact types.

The set's manifest records every table's columns with their DuckDB types (`columns_of`, as the DuckDB
writer would create them from the same Arrow schema); the relation reads the manifest's files with those
types, so a view over CSV or JSON Lines has the same columns, order and types as the DuckDB table.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa


def columns_of(schemas: dict[str, pa.Schema]) -> dict[str, list[list[str]]]:
    """table -> [[column, DuckDB type], ...] in the table's order."""
    conn = duckdb.connect()
    try:
        out = {}
        for name, schema in schemas.items():
            relation = conn.from_arrow(schema.empty_table())
            out[name] = [[column, str(kind)] for column, kind in zip(relation.columns, relation.types)]
        return out
    finally:
        conn.close()


def relation_sql(directory: Path, manifest: dict, table: str) -> str | None:
    """`select ... from read_...(...)` over the table's files as the manifest lists them (None: no files)."""
    files = [Path(directory) / f for f in manifest["files"][table]]
    files = [str(f.resolve()) for f in files if f.is_file()]
    if not files:
        return None
    columns = manifest["columns"][table]
    listed = "[" + ", ".join(_literal(f) for f in files) + "]"
    names = ", ".join(_quote(c) for c, _ in columns)
    fmt = manifest["format"]
    if fmt == "parquet":
        partition = (manifest.get("partitions") or {}).get(table)
        hive = (f", hive_partitioning = true, hive_types = {{{_literal(partition['column'])}: {partition['type']}}}"
                if partition else ", hive_partitioning = false")
        # Parquet has no second-unit timestamp (pyarrow stores milliseconds): cast back to the recorded types
        typed_names = ", ".join(f"cast({_quote(c)} as {t}) as {_quote(c)}" for c, t in columns)
        return f"select {typed_names} from read_parquet({listed}{hive})"
    typed = "{" + ", ".join(f"{_literal(c)}: {_literal(t)}" for c, t in columns) + "}"
    if fmt == "csv":  # `""` is an empty text, an empty field a null
        return (f"select {names} from read_csv({listed}, header = true, allow_quoted_nulls = false, "
                f"columns = {typed})")
    if fmt == "jsonl":
        return f"select {names} from read_json({listed}, format = 'newline_delimited', columns = {typed})"
    raise ValueError(f"bug: no relation for file format {fmt!r}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
