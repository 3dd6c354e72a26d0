"""Materialize a synthetic source as files (CSV, JSONL, Hive-partitioned Parquet) with DuckDB views over them.

The dbt path of `output: csv | jsonl`, or `output: parquet` with `partition_by`: the files are written as a
set (writers/layouts.py); once it is in place, one DuckDB transaction makes a typed view per table
(`read_csv` / `read_json` / `read_parquet(..., hive_partitioning = true)`, writers/file_views.py) and records
the state, so dbt models read the files as if they were the tables; if that transaction fails, the previous
files are put back. An unchanged source is skipped as for the other outputs; a changed one (an `as_of` that
moved forward included) is written again whole: these layouts have no append.
"""
from __future__ import annotations

import time

from . import __version__, interrupts
from .api import spec_hash, story_hash, stream
from .engine.calendar import date_keys
from .engine.clock import last_period
from .sources import SyntheticSource
from .state import APPEND, REGENERATE, SKIP, Decision, count_rows, decide, existing_tables, read_state, record_state
from .writers.file_set import MANIFEST
from .writers.file_views import relation_sql
from .writers.layouts import write_layout
from .writers.spec_record import record_spec


def output_label(source: SyntheticSource) -> str:
    """What the state records as the output: another layout or partitioning means regenerate."""
    return f"parquet partitioned by {source.partition_by}" if source.partition_by else source.output


def materialize_files(source: SyntheticSource, conn, *, force: bool = False, chunk_entities: int | None = None,
                      workers: int = 1, skip_unchanged: bool = True):
    from .materialize import Outcome, _record_relations, manifest_of

    began = time.perf_counter()
    spec = source.spec
    digest, story = spec_hash(spec), story_hash(spec)
    generation = stream(spec, chunk_entities=chunk_entities, workers=workers)
    interrupts.check()
    plan, tables = generation.plan, generation.table_names
    keys, last = date_keys(plan.starts), last_period(plan)
    output = output_label(source)
    if force:
        decision = Decision(REGENERATE, "forced")
    else:
        present = (source.path / MANIFEST).is_file() and set(tables) <= existing_tables(conn, source.schema)
        recorded = read_state(conn, source.schema, source.name)
        counted = count_rows(conn, source.schema, tables) if present and recorded is not None else None
        decision = decide(recorded, spec_hash=digest, story_hash=story, version=__version__, output=output,
                          present=present, counted=counted, period_keys=keys, last=last, skip_unchanged=skip_unchanged)
    if decision.action == SKIP:
        return Outcome(source.name, "skipped", tables, sum(generation.row_counts().values()),
                       time.perf_counter() - began, decision.detail)
    detail = f"{decision.detail}; {source.output} files are written whole" if decision.action == APPEND \
        else decision.detail

    def record(connection) -> None:
        record_state(connection, source.schema, source.name, spec_hash=digest, story_hash=story, seed=spec.seed,
                     version=__version__, output=output, tables=tables, rows=sum(generation.written.values()),
                     as_of=spec.window.as_of or spec.window.end, last_period_key=int(keys[last]))
        _record_relations(connection, source, plan)
        record_spec(connection, source.schema, source.name, spec)

    write_layout(generation, source.path, source.output, source.partition_by, manifest_of(spec, plan, digest, story),
                 commit=lambda manifest: _views(conn, source, manifest, tables, record))
    return Outcome(source.name, "generated", tables, sum(generation.written.values()), time.perf_counter() - began,
                   detail, warnings=plan.warnings)


def _views(conn, source: SyntheticSource, manifest: dict, tables: list[str], finalize) -> None:
    from .materialize import views_in_one_transaction

    views_in_one_transaction(conn, source.schema, {name: relation_sql(source.path, manifest, name) for name in tables},
                             finalize)
