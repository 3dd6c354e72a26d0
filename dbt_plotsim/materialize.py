"""Materialize one synthetic source into a DuckDB database: tables, or views over Parquet files.

Next to the tables, two small tables in the source's schema record what was generated:
`_plotsim_state` (spec hash, seed, package version: unchanged sources are skipped) and
`_plotsim_relations` (declared lags and correlations: the ground truth the package's dbt tests read).
Everything of one source, state included, is committed in one transaction.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import duckdb

from . import __version__ as package_version
from .api import spec_hash, stream
from .engine.fitted import relations
from .sources import SyntheticSource
from . import interrupts
from .writers.duckdb import rollback, quote, write_duckdb
from .writers.parquet import write_parquet

STATE_TABLE = "_plotsim_state"


def _faker_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("Faker")
    except PackageNotFoundError:
        return "none"


# Output depends on the package and on Faker's data (names, cities): a change of either regenerates.
__version__ = f"{package_version} (Faker {_faker_version()})"
RELATIONS_TABLE = "_plotsim_relations"


@dataclass
class Outcome:
    source: str
    status: str  # generated | skipped
    tables: list[str] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    detail: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"source": self.source, "status": self.status, "tables": self.tables, "rows": self.rows,
                "seconds": round(self.seconds, 2), "detail": self.detail, "warnings": self.warnings}


def materialize(source: SyntheticSource, conn: duckdb.DuckDBPyConnection, *, force: bool = False,
                chunk_entities: int | None = None, workers: int = 1) -> Outcome:
    began = time.perf_counter()
    digest = spec_hash(source.spec)
    generation = stream(source.spec, chunk_entities=chunk_entities, workers=workers)
    interrupts.check()  # planning may take seconds: a Ctrl-C meanwhile stops before anything is written
    tables = generation.table_names
    rows = sum(generation.row_counts().values())
    if not force:
        reason = _up_to_date(conn, source, digest, tables)
        if reason:
            return Outcome(source.name, "skipped", tables, rows, time.perf_counter() - began, reason)

    def record(connection: duckdb.DuckDBPyConnection) -> None:
        _record_state(connection, source, digest, tables, sum(generation.written.values()))
        _record_relations(connection, source, generation.plan)

    if source.output == "parquet":
        manifest = {"spec_hash": digest, "seed": source.spec.seed, "dbt_plotsim": __version__,
                    "relations": relations(generation.plan)}
        write_parquet(generation, source.path, manifest,
                      commit=lambda paths: _views_over_parquet(conn, source.schema, paths, record))
    else:
        write_duckdb(generation, conn, source.schema, finalize=record)
    rows = sum(generation.written.values())
    return Outcome(source.name, "generated", tables, rows, time.perf_counter() - began,
                   warnings=generation.plan.warnings)


def _existing_tables(conn, schema: str) -> set[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = ?", [schema]
    ).fetchall()
    return {r[0] for r in rows}


def _up_to_date(conn, source: SyntheticSource, digest: str, tables: list[str]) -> str:
    existing = _existing_tables(conn, source.schema)
    if STATE_TABLE not in existing:
        return ""
    row = conn.execute(
        f"select spec_hash, package_version, output, total_rows from {quote(source.schema)}.{STATE_TABLE} "
        "where source_name = ?", [source.name],
    ).fetchall()
    if not row or tuple(row[0][:3]) != (digest, __version__, source.output):
        return ""
    if not set(tables) <= existing:
        return ""
    if source.output == "parquet" and not all((source.path / f"{t}.parquet").exists() for t in tables):
        return ""
    # rows deleted or added by hand since: count(*) is cheap (DuckDB and Parquet both keep it as metadata)
    counts = " + ".join(f"(select count(*) from {quote(source.schema)}.{quote(t)})" for t in tables)
    counted = conn.execute(f"select {counts}").fetchone()[0]
    if counted != row[0][3]:
        return ""
    return f"spec unchanged (hash {digest}), tables present with their {counted:,} rows"


def _ensure_meta_tables(conn, schema: str) -> None:
    s = quote(schema)
    conn.execute(f"""create table if not exists {s}.{STATE_TABLE} (
        source_name varchar primary key, spec_hash varchar, seed bigint, package_version varchar,
        output varchar, tables varchar, total_rows bigint, generated_at timestamp)""")
    conn.execute(f"""create table if not exists {s}.{RELATIONS_TABLE} (
        source_name varchar, kind varchar, metric varchar, other varchar, value double, weight double)""")
    for column, kind in (("declared", "double"), ("delivered", "double"), ("scope", "varchar")):
        # tables written before these columns existed gain them
        conn.execute(f"alter table {s}.{RELATIONS_TABLE} add column if not exists {column} {kind}")


def _record_state(conn, source: SyntheticSource, digest: str, tables: list[str], rows: int) -> None:
    _ensure_meta_tables(conn, source.schema)
    s = quote(source.schema)
    conn.execute(f"delete from {s}.{STATE_TABLE} where source_name = ?", [source.name])
    conn.execute(
        f"insert into {s}.{STATE_TABLE} values (?, ?, ?, ?, ?, ?, ?, current_timestamp::timestamp)",
        [source.name, digest, source.spec.seed, __version__, source.output, ",".join(tables), rows],
    )


def _record_relations(conn, source: SyntheticSource, plan) -> None:
    s = quote(source.schema)
    conn.execute(f"delete from {s}.{RELATIONS_TABLE} where source_name = ?", [source.name])
    rows = [(source.name, r["kind"], r["metric"], r["other"], r["value"], r["weight"], r["declared"], r["delivered"],
             r["scope"]) for r in relations(plan)]
    if rows:
        conn.executemany(f"insert into {s}.{RELATIONS_TABLE} "
                         "(source_name, kind, metric, other, value, weight, declared, delivered, scope) "
                         "values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _views_over_parquet(conn, schema: str, paths: dict, finalize) -> None:
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"create schema if not exists {quote(schema)}")
        kinds = dict(conn.execute("select table_name, table_type from information_schema.tables "
                                  "where table_schema = ?", [schema]).fetchall())
        for name, path in paths.items():
            literal = str(path.resolve()).replace("'", "''")
            if kinds.get(name) == "BASE TABLE":  # an earlier DuckDB run left a table of this name
                conn.execute(f"drop table {quote(schema)}.{quote(name)}")
            conn.execute(f"create or replace view {quote(schema)}.{quote(name)} as select * from read_parquet('{literal}')")
        finalize(conn)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
