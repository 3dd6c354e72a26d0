"""Materialize one synthetic source into a DuckDB database: tables, or views over Parquet files.

Next to the tables, two small tables in the source's schema record what was generated:
`_plotsim_state` (state.py: hashes, seed, package version, the clock's period; unchanged sources are
skipped, and a source whose `window.as_of` moved forward gets the new periods appended) and
`_plotsim_relations` (declared lags and correlations: the ground truth the package's dbt tests read).
Everything of one source, state included, is committed in one transaction.
"""
from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field

import duckdb

from . import __version__ as package_version
from .api import spec_hash, story_hash, stream
from .engine.budget import check_disk
from .engine.calendar import date_keys
from .engine.clock import last_period
from .writers.digests import record_digests
from .writers.spec_record import record_spec, spec_document
from .engine.fitted import relations
from .sources import SyntheticSource
from .story import StoryStore
from .state import (APPEND, REGENERATE, SKIP, STATE_TABLE, Decision, count_rows, decide, existing_tables,
                    manifest_state, read_state, record_state)
from . import interrupts
from .progress import Observer
from .writers.duckdb import rollback, quote, write_duckdb
from .writers.parquet import write_parquet
from .writers.parquet_set import ParquetSet


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
    status: str  # generated | appended | skipped
    tables: list[str] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    detail: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"source": self.source, "status": self.status, "tables": self.tables, "rows": self.rows,
                "seconds": round(self.seconds, 2), "detail": self.detail, "warnings": self.warnings}


def materialize(source: SyntheticSource, conn: duckdb.DuckDBPyConnection, *, force: bool = False,
                chunk_entities: int | None = None, workers: int = 1, skip_unchanged: bool = True,
                progress: Observer | None = None) -> Outcome:
    """Generate a source into `conn` (state.py decides: skip, append or regenerate; `force` regenerates).
    `skip_unchanged=False` never skips (the CLI writes when asked) but still appends when it can. `progress`
    hears of each chunk written (progress.py); a skipped source writes none."""
    if source.file_layout:  # CSV, JSONL, partitioned Parquet: files and views over them
        from .materialize_files import materialize_files

        return materialize_files(source, conn, force=force, chunk_entities=chunk_entities, workers=workers,
                                 skip_unchanged=skip_unchanged)
    began = time.perf_counter()
    digest, story = spec_hash(source.spec), story_hash(source.spec)
    generation = stream(source.spec, chunk_entities=chunk_entities, workers=workers)
    interrupts.check()  # planning may take seconds: a Ctrl-C meanwhile stops before anything is written
    tables = generation.table_names
    plan = generation.plan
    keys = date_keys(plan.starts)
    last = last_period(plan)
    decision = Decision(REGENERATE, "forced") if force else _decide(conn, source, generation, digest, story, keys, last,
                                                                    skip_unchanged)
    if decision.action == SKIP:
        rows = sum(generation.row_counts().values())
        return Outcome(source.name, "skipped", tables, rows, time.perf_counter() - began, decision.detail)
    appended = decision.action == APPEND
    if appended:
        generation = generation.append_after(decision.since)
    base = count_rows(conn, source.schema, tables) if appended else 0
    database = conn.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    database = database[0] if database and database[0] else None  # None: in memory
    if source.output == "parquet":
        generation = _told(generation, StoryStore.in_parquet_store(ParquetSet(source.path).store, story,
                                                                   __version__), force)
    elif database is not None:
        generation = _told(generation, StoryStore.beside_database(database, source.schema, source.name, story,
                                                                  __version__), force)

    def record(connection: duckdb.DuckDBPyConnection) -> None:
        written = sum(generation.written.values())
        total = count_rows(connection, source.schema, tables) if appended else written
        record_state(connection, source.schema, source.name, spec_hash=digest, story_hash=story,
                     seed=source.spec.seed, version=__version__, output=source.output, tables=tables, rows=total,
                     as_of=source.spec.window.as_of or source.spec.window.end, last_period_key=int(keys[last]))
        _record_relations(connection, source, plan)
        record_spec(connection, source.schema, source.name, source.spec)
        if source.output == "duckdb":  # a Parquet set records its files' hashes in its manifest
            record_digests(connection, source.schema, source.name, tables)

    if source.output == "parquet":
        manifest = manifest_of(source.spec, plan, digest, story)
        write_parquet(generation, source.path, manifest, append=appended,
                      commit=lambda paths: _views_over_parquet(conn, source.schema, paths, record), progress=progress)
    else:
        if database is not None:
            check_disk(generation, database)
        write_duckdb(generation, conn, source.schema, finalize=record, append=appended, progress=progress)
    rows = sum(generation.written.values())
    detail = f"{decision.detail}: {rows:,} rows written to {base:,}" if appended else decision.detail
    return Outcome(source.name, "appended" if appended else "generated", tables, rows, time.perf_counter() - began,
                   detail, warnings=plan.warnings)


def manifest_of(spec, plan, digest: str, story: str) -> dict:
    """What a Parquet set records about itself (its state, as _plotsim_state does in DuckDB)."""
    return {"spec_hash": digest, "story_hash": story, "seed": spec.seed, "dbt_plotsim": __version__,
            "last_period_key": int(date_keys(plan.starts)[last_period(plan)]), "relations": relations(plan),
            "spec": spec_document(spec)}


def generate_parquet(spec, out, *, chunk_entities: int | None = None, workers: int = 1,
                     progress: Observer | None = None) -> Outcome:
    """The CLI's Parquet output, with the set's manifest as its state: appends when only `as_of` moved
    forward, writes everything otherwise (never skips: the CLI writes when asked)."""
    began = time.perf_counter()
    digest, story = spec_hash(spec), story_hash(spec)
    generation = stream(spec, chunk_entities=chunk_entities, workers=workers)
    interrupts.check()
    plan = generation.plan
    recorded, present, counted = manifest_state(out)
    decision = decide(recorded, spec_hash=digest, story_hash=story, version=__version__, output="parquet",
                      present=present, counted=counted, period_keys=date_keys(plan.starts), last=last_period(plan),
                      skip_unchanged=False)
    appended = decision.action == APPEND
    if appended:
        generation = generation.append_after(decision.since)
    generation = _told(generation, StoryStore.in_parquet_store(ParquetSet(out).store, story, __version__))
    write_parquet(generation, out, manifest_of(spec, plan, digest, story), append=appended, progress=progress)
    return Outcome(Path(out).name, "appended" if appended else "generated", generation.table_names,
                   sum(generation.written.values()), time.perf_counter() - began, decision.detail, plan.warnings)


def _told(generation, store: StoryStore, force: bool = False):
    """The generation replaying a kept story of its own (or keeping the one it draws, when a load can follow)."""
    return store.told(generation, force=force)


def _decide(conn, source: SyntheticSource, generation, digest: str, story: str, keys, last: int,
            skip_unchanged: bool) -> Decision:
    tables = generation.table_names
    present = set(tables) <= existing_tables(conn, source.schema)
    if source.output == "parquet":
        present = present and all((source.path / f"{t}.parquet").exists() for t in tables)
    recorded = read_state(conn, source.schema, source.name)
    counted = count_rows(conn, source.schema, tables) if present and recorded is not None else None
    return decide(recorded, spec_hash=digest, story_hash=story, version=__version__, output=source.output,
                  present=present, counted=counted, period_keys=keys, last=last, skip_unchanged=skip_unchanged)


def _ensure_relations_table(conn, schema: str) -> None:
    s = quote(schema)
    conn.execute(f"""create table if not exists {s}.{RELATIONS_TABLE} (
        source_name varchar, kind varchar, metric varchar, other varchar, value double, weight double)""")
    for column, kind in (("declared", "double"), ("delivered", "double"), ("scope", "varchar")):
        # tables written before these columns existed gain them
        conn.execute(f"alter table {s}.{RELATIONS_TABLE} add column if not exists {column} {kind}")


def _record_relations(conn, source: SyntheticSource, plan) -> None:
    _ensure_relations_table(conn, source.schema)
    s = quote(source.schema)
    conn.execute(f"delete from {s}.{RELATIONS_TABLE} where source_name = ? or source_name not in "
                 f"(select source_name from {s}.{STATE_TABLE})", [source.name])  # and those of overwritten sources
    rows = [(source.name, r["kind"], r["metric"], r["other"], r["value"], r["weight"], r["declared"], r["delivered"],
             r["scope"]) for r in relations(plan)]
    if rows:
        conn.executemany(f"insert into {s}.{RELATIONS_TABLE} "
                         "(source_name, kind, metric, other, value, weight, declared, delivered, scope) "
                         "values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _views_over_parquet(conn, schema: str, paths: dict, finalize) -> None:
    relations = {name: "select * from read_parquet([" + ", ".join(
                     "'" + str(path.resolve()).replace("'", "''") + "'" for path in files) + "])"
                 for name, files in paths.items()}
    views_in_one_transaction(conn, schema, relations, finalize)


def views_in_one_transaction(conn, schema: str, relations: dict[str, str], finalize) -> None:
    """A view per table over `relations` (table -> SQL), replacing a table an earlier DuckDB run left under
    the name, and `finalize` (state, relations), committed together or not at all."""
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"create schema if not exists {quote(schema)}")
        kinds = dict(conn.execute("select table_name, table_type from information_schema.tables "
                                  "where table_schema = ?", [schema]).fetchall())
        for name, relation in relations.items():
            if kinds.get(name) == "BASE TABLE":
                conn.execute(f"drop table {quote(schema)}.{quote(name)}")
            conn.execute(f"create or replace view {quote(schema)}.{quote(name)} as {relation}")
        finalize(conn)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
