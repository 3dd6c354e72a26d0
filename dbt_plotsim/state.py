"""What a source's tables hold, recorded next to them in `_plotsim_state`, and what the next run does.

The row records two hashes: of the whole spec, and of the story (the spec without `window.as_of`), with the
period the clock stood at. The next run then skips (nothing changed and the tables still hold their rows),
appends (only `as_of` moved forward: the new periods are added, engine/clock.py), or regenerates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .writers.duckdb import quote

STATE_TABLE = "_plotsim_state"
SKIP, APPEND, REGENERATE = "skip", "append", "regenerate"


@dataclass(frozen=True)
class Recorded:
    spec_hash: str
    story_hash: str | None
    package_version: str
    output: str
    total_rows: int
    last_period_key: int | None


@dataclass(frozen=True)
class Decision:
    action: str  # SKIP | APPEND | REGENERATE
    detail: str = ""
    since: int | None = None  # APPEND: index of the last period already written


def existing_tables(conn, schema: str) -> set[str]:
    rows = conn.execute("select table_name from information_schema.tables where table_schema = ?", [schema]).fetchall()
    return {r[0] for r in rows}


def ensure_state_table(conn, schema: str) -> None:
    conn.execute(f"""create table if not exists {quote(schema)}.{STATE_TABLE} (
        source_name varchar primary key, spec_hash varchar, seed bigint, package_version varchar,
        output varchar, tables varchar, total_rows bigint, generated_at timestamp)""")
    for column, kind in (("story_hash", "varchar"), ("as_of", "date"), ("last_period_key", "integer")):
        # state written before these columns existed gains them (null: such tables are regenerated, not appended)
        conn.execute(f"alter table {quote(schema)}.{STATE_TABLE} add column if not exists {column} {kind}")


def read_state(conn, schema: str, source: str) -> Recorded | None:
    if STATE_TABLE not in existing_tables(conn, schema):
        return None
    columns = {r[0] for r in conn.execute("select column_name from information_schema.columns where "
                                          "table_schema = ? and table_name = ?", [schema, STATE_TABLE]).fetchall()}
    wanted = [c if c in columns else "null" for c in ("spec_hash", "story_hash", "package_version", "output",
                                                       "total_rows", "last_period_key")]
    row = conn.execute(f"select {', '.join(wanted)} from {quote(schema)}.{STATE_TABLE} where source_name = ?",
                       [source]).fetchall()
    return Recorded(*row[0]) if row else None


def record_state(conn, schema: str, source: str, *, spec_hash: str, story_hash: str, seed: int, version: str,
                 output: str, tables: list[str], rows: int, as_of, last_period_key: int) -> None:
    ensure_state_table(conn, schema)
    table = f"{quote(schema)}.{STATE_TABLE}"
    conn.execute(f"delete from {table} where source_name = ?", [source])
    for other, listed in conn.execute(f"select source_name, tables from {table}").fetchall():
        if set((listed or "").split(",")) & set(tables):  # another source's tables, now overwritten: not its own
            conn.execute(f"delete from {table} where source_name = ?", [other])
    conn.execute(f"insert into {table} (source_name, spec_hash, seed, package_version, output, tables, total_rows, "
                 "generated_at, story_hash, as_of, last_period_key) "
                 "values (?, ?, ?, ?, ?, ?, ?, current_timestamp::timestamp, ?, ?, ?)",
                 [source, spec_hash, seed, version, output, ",".join(tables), rows, story_hash, as_of, last_period_key])


def manifest_state(out) -> tuple[Recorded | None, bool, int | None]:
    """A Parquet set's own record (its manifest): what wrote it, whether its files are all there, their rows."""
    import json
    from pathlib import Path

    import pyarrow.parquet as pq

    path = Path(out) / "_plotsim_manifest.json"
    try:
        manifest = json.loads(path.read_text())
        listed = manifest.get("files") or {t: [f"{t}.parquet"] for t in manifest["tables"]}
        files = [Path(out) / f for fs in listed.values() for f in fs]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, False, None
    recorded = Recorded(manifest.get("spec_hash"), manifest.get("story_hash"), manifest.get("dbt_plotsim"), "parquet",
                        sum((manifest.get("rows") or {}).values()) if manifest.get("rows") else None,
                        manifest.get("last_period_key"))
    if not all(f.is_file() for f in files):
        return recorded, False, None
    return recorded, True, sum(pq.read_metadata(f).num_rows for f in files)


def count_rows(conn, schema: str, tables: list[str]) -> int:
    """Rows of the tables now: count(*) is cheap (DuckDB and Parquet both keep it as metadata)."""
    counts = " + ".join(f"(select count(*) from {quote(schema)}.{quote(t)})" for t in tables)
    return conn.execute(f"select {counts}").fetchone()[0]


def decide(recorded: Recorded | None, *, spec_hash: str, story_hash: str, version: str, output: str,
           present: bool, counted: int | None, period_keys: np.ndarray, last: int, skip_unchanged: bool) -> Decision:
    """`present`: every table of the spec exists; `counted`: their rows now; `period_keys`: the window's date
    keys; `last`: the index of the clock's period now."""
    if recorded is None:
        return Decision(REGENERATE, "no earlier run recorded")
    if (recorded.package_version, recorded.output) != (version, output):
        return Decision(REGENERATE, "another package version or output wrote the tables")
    if not present or counted != recorded.total_rows:
        return Decision(REGENERATE, "tables missing or changed since the last run")
    if recorded.spec_hash == spec_hash and skip_unchanged:
        return Decision(SKIP, f"spec unchanged (hash {spec_hash}), tables present with their {counted:,} rows")
    if recorded.story_hash != story_hash or recorded.last_period_key is None:
        return Decision(REGENERATE, "the spec changed beyond window.as_of")
    since = int(np.searchsorted(period_keys, recorded.last_period_key))
    if since >= len(period_keys) or period_keys[since] != recorded.last_period_key or since > last:
        return Decision(REGENERATE, "window.as_of moved back")
    return Decision(APPEND, f"window.as_of moved forward {last - since} period(s)", since)
