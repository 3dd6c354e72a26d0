"""The Spark engine in local mode against the local engine, on the benchmark spec (benchmarks/bench.py).

Run from the repository root (with `pip install -e '.[spark]'` and Java 17+):

    python benchmarks/spark_local.py                         # 10,000 / 50,000 / 100,000 entities, local[2]
    python benchmarks/spark_local.py --sizes 20000 --master local[4]
    python benchmarks/spark_local.py --template saas --sizes 2000,10000   # fan-out tables: a counting pass

Each size is written three ways, to Parquet: the local engine on one thread (`write_parquet`), the local engine
with as many threads as Spark cores (`--workers`), and the Spark engine (`generate_spark`) in one session
started beforehand and warmed up by a first job (both printed once, not counted: on a
cluster they are paid once per executor). The spec is bench.py's 36 months x 5 metrics
with `tables: {truth: false}`; the plan is made (and cached) before timing. Then the local engine (one thread) and the
Spark engine with truth tables on (`local + truth`, `spark + truth`), and below it the driver's share of that run: the replay of the
written runs through the truth tables (spark/replay.py, on one core), its cells per second. With `--template NAME`, a bundled template scaled to each size (its events, sub-entities and
transactions give the Spark engine a counting pass for their ids; cells are still entities x periods x
metrics, rows/s is printed as well). Printed per run: wall seconds, metric cells (entities x 36 x 5) per second, and cells per
core-second (cells/s divided by the cores the run used). After timing, the Spark run's row counts are
checked against the local engine's.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench import bench_spec  # noqa: E402


def _cores(master: str) -> int:
    inside = master[master.index("[") + 1 : master.index("]")] if "[" in master else "1"
    return os.cpu_count() or 1 if inside == "*" else int(inside)


def _spec(entities: int, template: str | None, truth: bool = False):
    """(spec, metric cells): bench.py's metric spec, or a template scaled to `entities` (truth tables off
    unless `truth`)."""
    import dbt_plotsim
    from dbt_plotsim import templates

    if template is None:
        data, scale = bench_spec(entities), 1.0
    else:
        data = templates.load(template)
        scale = entities / sum(s["count"] for s in data["segments"])
    data.setdefault("tables", {})["truth"] = truth
    spec = dbt_plotsim.load_spec(data, scale=scale)
    plan = dbt_plotsim.stream(spec).plan
    return spec, spec.entity_count * plan.periods * len(spec.metrics)


def _local_rows(paths: dict) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {name: pq.read_metadata(path).num_rows for name, path in paths.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--template", default=None, help="a bundled template instead of the metric spec")
    args = parser.parse_args()
    import dbt_plotsim
    from pyspark.sql import SparkSession

    from dbt_plotsim.engine.plan import plan_for
    from dbt_plotsim.spark.runner import generate_spark

    cores = _cores(args.master)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    began = time.perf_counter()
    session = (SparkSession.builder.master(args.master).appName("plotsim-bench")
               .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    print(f"Spark {session.version} on {args.master} ({cores} cores): session started in "
          f"{time.perf_counter() - began:.1f}s (not counted below)")
    sizes = [int(size) for size in args.sizes.split(",")]
    began = time.perf_counter()
    generate_spark(_spec(min(sizes), args.template)[0], Path(tempfile.mkdtemp(prefix="plotsim-warm-")) / "o",
                   session=session)
    print(f"first job (Python workers start, import the package): {time.perf_counter() - began:.1f}s, not counted")
    print(f"{'entities':>9} {'cells':>11} {'engine':<22} {'wall s':>7} {'cells/s':>11} {'cells/core-s':>13} {'rows/s':>11}")
    work = Path(tempfile.mkdtemp(prefix="plotsim-spark-bench-"))
    try:
        for entities in sizes:
            spec, cells = _spec(entities, args.template)
            plan_for(spec)  # calibrated and cached: neither engine pays for it below
            runs = [("local, 1 thread", 1, lambda out: _local_rows(dbt_plotsim.write_parquet(spec, out))),
                    (f"local, {cores} threads", cores,
                     lambda out: _local_rows(dbt_plotsim.write_parquet(spec, out, workers=cores))),
                    (f"spark {args.master}", cores, lambda out: generate_spark(spec, out, session=session)["rows"])]
            counted = []
            for number, (label, used, run) in enumerate(runs):
                began = time.perf_counter()
                counted.append(run(work / str(number)))
                wall = time.perf_counter() - began
                print(f"{entities:>9,} {cells:>11,} {label:<22} {wall:>7.2f} {cells / wall:>11,.0f} "
                      f"{cells / wall / used:>13,.0f} {sum(counted[-1].values()) / wall:>11,.0f}", flush=True)
            if counted[0] != counted[2]:
                raise SystemExit(f"row counts differ at {entities}: local {counted[0]}, spark {counted[2]}")
            truthful = _spec(entities, args.template, truth=True)[0]
            plan_for(truthful)
            began = time.perf_counter()
            local = _local_rows(dbt_plotsim.write_parquet(truthful, work / "local-truth"))
            wall = time.perf_counter() - began
            print(f"{entities:>9,} {cells:>11,} {'local + truth, 1 thr':<22} {wall:>7.2f} {cells / wall:>11,.0f} "
                  f"{cells / wall:>13,.0f} {sum(local.values()) / wall:>11,.0f}")
            began = time.perf_counter()
            done = generate_spark(truthful, work / "truth", session=session)
            wall, replayed = time.perf_counter() - began, done["replay_seconds"]
            print(f"{entities:>9,} {cells:>11,} {'spark + truth':<22} {wall:>7.2f} {cells / wall:>11,.0f} "
                  f"{cells / wall / cores:>13,.0f} {sum(done['rows'].values()) / wall:>11,.0f}")
            print(f"{entities:>9,} {cells:>11,} {'  of which replay':<22} {replayed:>7.2f} {cells / replayed:>11,.0f} "
                  f"{cells / replayed:>13,.0f} {'(driver)':>11}", flush=True)
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
    finally:
        session.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
