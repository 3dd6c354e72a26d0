"""`generate --engine spark`: the plan made once on the driver, its units drawn by Spark tasks.

    <out>/<table>/part-000000.parquet   the static tables (dim_date, lookups), written by the driver
    <out>/<table>/part-<run>.parquet    run <run> (1, 2, ...: the local engine's order) of consecutive units
    <out>/_plotsim_spark.json           tables, files and rows, the spec hash

Each task runs the local engine (units.Run) on its units and writes its own files with pyarrow, so rows and
values are the local engine's (the files of a table, read in name order, hold its rows in the local order).
Fan-out ids run over the whole population: a first Spark pass counts each run's ids and the driver gives
every run its offsets (skipped when the spec has no fan-out tables). Derived tables (truth tables,
experiments, features) are made on the driver from the written runs, read back one at a time (replay.py),
into <out>/<table>/part-<last run + 1>.parquet. Files are written under a staging
sibling of <out> and swapped in once every task has finished: a failed run leaves the previous output.
On a cluster, <out> must be a path every worker and the driver see (a shared file system), and every worker
needs the package installed; spark-submit runs it through submit.py.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from pathlib import Path

import pyarrow.parquet as pq

from ..engine.budget import check_disk
from ..errors import PlotsimError
from .part_files import PartFiles, part
from .replay import CLEAN, replay
from .units import STATIC, Run, needs_counting, offsets_of, refused, runs_of

MARKER = "_plotsim_spark.json"
TASKS_PER_CORE = 4  # runs per core: uneven runs (segments of different sizes) still spread evenly


class SparkEngineError(PlotsimError):
    """The spec or the setup is something the Spark engine cannot generate."""


def generate_spark(spec, out, *, master: str | None = None, chunk_entities: int | None = None,
                   session=None) -> dict:
    """Generate `spec` into `out` with Spark; returns the manifest (tables, files, rows) and the master it
    ran on. `session`: an existing SparkSession (tests, notebooks); else one is started on `master` (None:
    spark-submit's or Spark's default) and stopped at the end."""
    from ..api import spec_hash
    from ..engine.pipeline import start

    generation = start(spec, chunk_entities=chunk_entities)
    problems = refused(generation)
    if problems:
        raise SparkEngineError("the Spark engine cannot generate this spec: " + "; ".join(problems))
    out = Path(out)
    _check_out(out)
    check_disk(generation, out.parent if not out.exists() else out)
    own = False
    if session is None:
        session, own = _session(master)
    staging = out.parent / f".{out.name}.spark-staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        manifest, replayed = _generate(session.sparkContext, generation, staging)
        manifest["spec_hash"] = spec_hash(spec)
        (staging / MARKER).write_text(json.dumps(manifest, indent=2) + "\n")
        _swap(staging, out)
        # where it ran and the seconds the driver spent on derived tables: not in the file
        return {**manifest, "master": session.sparkContext.master, "replay_seconds": replayed}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if own:
            session.stop()


def _generate(sc, generation, staging: Path) -> tuple[dict, float]:
    """Count (if ids run over the population), then write every run: the static one here, the others in
    tasks, then the derived tables from them here; (the manifest of what was written, the derived tables'
    seconds)."""
    import time

    runs = runs_of(generation, sc.defaultParallelism * TASKS_PER_CORE)
    plan = sc.broadcast(generation.plan)  # shipped once per executor, not with every task
    numbered = list(enumerate(runs, start=STATIC + 1))
    chunk_blocks, where = generation.chunk_blocks, str(staging)  # plain values: closures ship no generation
    # the tables the derived sets see before defects change them: each run keeps their clean rows too
    clean = tuple(sorted(set(generation.defects) & set(generation.loaded))) if generation.derived else ()
    counts = [{} for _ in runs]
    if needs_counting(generation) and runs:
        found = dict(sc.parallelize(numbered, len(numbered))
                     .map(lambda item: (item[0], _counted(plan.value, chunk_blocks, item[1])))
                     .collect())
        counts = [found[index] for index, _ in numbered]
    offsets = offsets_of(counts)
    jobs = [(index, units, offset, clean) for (index, units), offset in zip(numbered, offsets)]
    results = [_write_run(generation.plan, generation.chunk_blocks, str(staging), STATIC, None, {}, clean)]
    if jobs:
        results += (sc.parallelize(jobs, len(jobs))
                    .map(lambda job: _write_run(plan.value, chunk_blocks, where, *job))
                    .collect())
    plan.unpersist()
    for (index, counters, _, _), counted, offset in zip(results[1:], counts, offsets):
        given = {name: last - offset.get(name, 0) for name, last in counters.items()}
        if given != counted:  # a table giving ids that no count covered: its ids would repeat across runs
            raise AssertionError(f"bug: run {index} gave ids {given}, counted {counted}")
    seconds = 0.0
    if generation.derived:  # on the driver, from the runs as written, in run order
        began = time.perf_counter()
        shown = [(index, names) for index, _, _, names in sorted(results, key=lambda r: r[0])]
        results.append((*replay(generation, staging, shown, set(clean), len(results)), []))
        shutil.rmtree(staging / CLEAN, ignore_errors=True)
        seconds = time.perf_counter() - began
    return _manifest(generation, staging, results), seconds


def _counted(plan, chunk_blocks: int, units: tuple) -> dict[str, int]:
    return Run(plan, chunk_blocks, units=units).counted()


def _write_run(plan, chunk_blocks: int, staging: str, index: int, units, offsets: dict, clean: tuple) -> tuple:
    """Run `index` through the local engine, each table's rows into <staging>/<table>/part-<index>.parquet
    (written under a temporary name and renamed: a retried task replaces its files whole), and the rows of
    the `clean` tables as the clock showed them, before defects, under <staging>/CLEAN. Returns (index, the
    last id given per table, rows per table written, the tables the clock showed in their order)."""
    run = Run(plan, chunk_blocks, units=units, offsets=offsets)
    files = PartFiles(index)
    shown: dict[str, None] = {}  # an ordered set
    try:
        for chunk in run.chunks():
            shown.update(dict.fromkeys(run.shown))
            for name, table in chunk.items():
                files.write(Path(staging), name, table, run.schemas[name])
            for name in clean:
                if name in run.shown:
                    files.write(Path(staging) / CLEAN, name, run.shown[name], run.loaded[name])
        files.close()
    finally:
        files.abandon()
    return index, dict(run.counters), files.rows(Path(staging)), list(shown)


def _manifest(generation, staging: Path, results: list[tuple]) -> dict:
    """Every table's files in order; a table no run wrote rows to gets one empty file (its layout)."""
    files: dict[str, list[str]] = {name: [] for name in generation.schemas}
    rows = {name: 0 for name in generation.schemas}
    for index, _, written, _ in sorted(results, key=lambda r: r[0]):
        for name, count in written.items():
            files[name].append(f"{name}/part-{index:06d}.parquet")
            rows[name] += count
    for name, schema in generation.schemas.items():
        if not files[name]:
            (staging / name).mkdir(exist_ok=True)
            pq.write_table(schema.empty_table(), staging / name / f"part-{STATIC:06d}.parquet", compression="zstd")
            files[name] = [f"{name}/part-{STATIC:06d}.parquet"]
    return {"engine": "spark", "tables": list(generation.schemas), "files": files, "rows": rows}


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SparkEngineError(f"--out {out} is a file: the Spark engine writes a directory of tables")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SparkEngineError(f"--out {out} is not empty and was not written by the Spark engine: remove it "
                               "or choose another directory (the Spark engine replaces its output as a whole)")


def _swap(staging: Path, out: Path) -> None:
    """The new output in place of the old one as a whole (the old one set aside, then removed)."""
    old = out.parent / f".{out.name}.spark-old-{uuid.uuid4().hex[:8]}"
    if out.exists():
        out.rename(old)
    try:
        staging.rename(out)
    except OSError:
        if old.exists():
            old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _session(master: str | None) -> tuple:
    """(a session on `master`, whether this call started it: a session already running is left running).
    `master` None: the one spark-submit or spark-defaults.conf sets, else Spark's default (local[*])."""
    if (master or "").startswith("sc://") or os.environ.get("SPARK_REMOTE"):
        raise SparkEngineError("the Spark engine needs classic Spark (its tasks are RDD partitions), not Spark "
                               "Connect: give a master URL (spark://host:7077, yarn, k8s://..., local[*]) and unset "
                               "SPARK_REMOTE")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkEngineError("--engine spark needs pyspark: pip install 'dbt-plotsim[spark]' "
                               "(and Java 17 or later)") from None
    running = SparkSession.getActiveSession()
    if running is not None:
        return running, False
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # under spark-submit: its JVM, its settings
    if not submitted and (master is None or master.startswith("local")):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local workers: this interpreter, this package
    builder = SparkSession.builder.appName("dbt-plotsim").config("spark.ui.showConsoleProgress", "false")
    try:
        session = (builder.master(master) if master else builder).getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer: the user's setup, said plainly
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = " (is Java 17 or later installed, and JAVA_HOME pointing at it?)" if "JAVA_GATEWAY" in first else ""
        raise SparkEngineError(f"cannot start Spark on master {master or 'local[*]'!r}: {first}{hint}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session, True

def cli_generate(args, spec) -> int:
    """`generate --engine spark`: Parquet only (a DuckDB file cannot be written by many tasks at once)."""
    import time

    if args.format != "parquet":
        raise SparkEngineError("--engine spark writes Parquet only: drop --format duckdb (or use --engine local "
                               "for a DuckDB file)")
    began = time.perf_counter()
    manifest = generate_spark(spec, args.out, master=args.spark_master, chunk_entities=args.chunk_entities)
    tables = manifest["tables"]
    derived = f", derived tables on the driver {manifest['replay_seconds']:.1f}s" if manifest["replay_seconds"] else ""
    print(f"wrote {len(tables)} tables ({sum(manifest['rows'].values()):,} rows) to {args.out} with Spark "
          f"({manifest['master']}) in {time.perf_counter() - began:.1f}s{derived}: {', '.join(tables)}")
    return 0
