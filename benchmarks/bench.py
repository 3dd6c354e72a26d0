"""Throughput and memory benchmark of dbt-plotsim's DuckDB and Parquet writers.

Run from the repository root (with the package installed):

    python benchmarks/bench.py                      # 1,000 / 10,000 / 100,000 entities, both writers
    python benchmarks/bench.py --sizes 1000,10000   # only these entity counts
    python benchmarks/bench.py --workers 2          # threads generating blocks (passed to the writers)
    python benchmarks/bench.py --out /tmp/bench     # keep the outputs there (default: a temp dir, removed)
    python benchmarks/bench.py --writers parquet    # only one writer
    python benchmarks/bench.py --template saas      # a bundled template's whole star schema, scaled to each size

The spec is a realistic one: 36 monthly periods, 5 metrics of different types and families (score/beta,
amount/lognormal with a range, count/poisson, amount/gamma, measure/weibull), six segments on built-in
archetypes, three correlations, two lags and gaussian/outlier/missing noise.

Every case (writer x size) runs in a fresh child process (this script with the hidden `--case WRITER N`),
so its peak RSS (getrusage ru_maxrss) belongs to that case alone. In the child:

- `import s`: importing dbt_plotsim and its engine (not part of the other timings);
- `load s`: `load_spec(dict)`, which validates the spec and calibrates the latent model (the plan is
  cached, so the writer does not calibrate again);
- `write s`: the `write_duckdb` / `write_parquet` call alone (wall clock); `CPU s`: its CPU time, all threads;
- `cells/s`: metric cells (entities x 36 periods x 5 metrics) per second of `write s`;
- `RSS load`: RSS after loading the spec (the baseline before writing), `peak RSS`: ru_maxrss of the child;
- `output`: bytes on disk of the DuckDB file (+ WAL) or of the Parquet files (apparent sizes).

With `--template NAME` the spec is that bundled template with its segments scaled to each size: every
table it declares (users, logins, invoices and lines, history, stages...), so `rows/s` is the figure to
read. After measuring, the child checks the row counts of the output against the expected ones (exactly
for the metric spec; for a template the output must have every table, none of them empty).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

PERIODS = 36
METRICS = 5
WRITERS = ("duckdb", "parquet")
DEFAULT_SIZES = (1_000, 10_000, 100_000)
RESULT_TAG = "BENCH-RESULT "
UNIT = "customer"

# (segment, built-in archetype, share of the entities)
SEGMENTS = (
    ("expanding", "growth", 0.25),
    ("shrinking", "decline", 0.15),
    ("steady", "flat", 0.20),
    ("hyped", "spike_then_crash", 0.10),
    ("churning", "churn", 0.15),
    ("cyclical", "seasonal", 0.15),
)


def bench_spec(entities: int) -> dict:
    """The benchmark spec for `entities` entities: 36 months x 5 metrics."""
    counts = [int(entities * share) for _, _, share in SEGMENTS]
    counts[0] += entities - sum(counts)
    return {
        "about": "benchmark customers",
        "unit": UNIT,
        "seed": 20240101,
        "window": {"start": "2022-01", "end": "2024-12-31", "grain": "month"},  # 36 months
        "metrics": [
            {"name": "satisfaction", "type": "score", "distribution": "beta", "mean": 0.7},
            {"name": "revenue", "type": "amount", "distribution": "lognormal", "range": [10, 5000]},
            {"name": "orders", "type": "count", "distribution": "poisson", "mean": 6},
            {"name": "basket_value", "type": "amount", "distribution": "gamma",
             "params": {"shape": 2.0, "scale": 40.0}},
            {"name": "resolution_hours", "type": "measure", "distribution": "weibull", "polarity": "negative",
             "params": {"shape": 1.5, "scale": 24.0}},
        ],
        "segments": [
            {"name": name, "archetype": archetype, "count": count}
            for (name, archetype, _), count in zip(SEGMENTS, counts)
        ],
        "correlations": [
            {"between": ["revenue", "orders"], "r": 0.75},
            {"between": ["basket_value", "revenue"], "r": 0.6},
            {"between": ["satisfaction", "resolution_hours"], "r": -0.4},
        ],
        "lags": [
            {"metric": "revenue", "follows": "satisfaction", "periods": 2},
            {"metric": "orders", "follows": "satisfaction", "periods": 1, "weight": 0.4},
        ],
        "noise": {"gaussian": 0.05, "outliers": 0.002, "missing": 0.01},
    }


# ---------------------------------------------------------------------------------------------- child

def _rss_now_mib() -> float:
    """Current resident set size (Linux /proc), or NaN elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # KiB on Linux, bytes on macOS


def _disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _row_counts(writer: str, target: Path, tables: list[str]) -> dict[str, int]:
    if writer == "duckdb":
        import duckdb

        with duckdb.connect(str(target), read_only=True) as conn:
            return {t: conn.execute(f'SELECT count(*) FROM main."{t}"').fetchone()[0] for t in tables}
    import pyarrow.parquet as pq

    return {t: pq.read_metadata(target / f"{t}.parquet").num_rows for t in tables}


def case_spec(entities: int, template: str | None):
    """(spec, metric cells) of a case: the metric benchmark spec, or a template scaled to `entities`."""
    import dbt_plotsim

    if template is None:
        return dbt_plotsim.load_spec(bench_spec(entities)), entities * PERIODS * METRICS
    from dbt_plotsim import templates

    raw = templates.load(template)
    spec = dbt_plotsim.load_spec(raw, scale=entities / sum(s["count"] for s in raw["segments"]))
    stream = dbt_plotsim.stream(spec)
    return spec, spec.entity_count * stream.plan.periods * len(spec.metrics)


def _cpu_s() -> float:
    """CPU seconds of this process so far, every thread (DuckDB's included), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_case(writer: str, entities: int, out_dir: Path, workers: int, template: str | None = None,
             chunk_entities: int | None = None) -> dict:
    began = time.perf_counter()
    import dbt_plotsim
    import dbt_plotsim.engine.plan  # noqa: F401  (imported lazily by load_spec; keep it out of `load s`)

    import_s = time.perf_counter() - began

    began = time.perf_counter()
    spec, cells = case_spec(entities, template)
    load_s = time.perf_counter() - began
    rss_load = _rss_now_mib()

    if writer == "duckdb":
        target = out_dir / f"bench-{entities}.duckdb"
        for stale in (target, Path(str(target) + ".wal")):
            stale.unlink(missing_ok=True)
        began, cpu = time.perf_counter(), _cpu_s()
        tables = dbt_plotsim.write_duckdb(spec, target, "main", workers=workers, chunk_entities=chunk_entities)
        write_s, cpu_s = time.perf_counter() - began, _cpu_s() - cpu
        size = sum(_disk_bytes(p) for p in (target, Path(str(target) + ".wal")) if p.exists())
    else:
        target = out_dir / f"bench-{entities}-parquet"
        shutil.rmtree(target, ignore_errors=True)
        began, cpu = time.perf_counter(), _cpu_s()
        tables = list(dbt_plotsim.write_parquet(spec, target, workers=workers, chunk_entities=chunk_entities))
        write_s, cpu_s = time.perf_counter() - began, _cpu_s() - cpu
        size = _disk_bytes(target)
    peak = _peak_rss_mib()  # before the row-count check, which is not part of the case

    counts = _row_counts(writer, target, tables)
    expected = dbt_plotsim.stream(spec).row_counts()
    if template is None:
        wrong = {t: (counts.get(t), n) for t, n in expected.items() if counts.get(t) != n}
    else:
        wrong = {t: (counts.get(t), "rows") for t in expected if not counts.get(t)}
    rows = sum(counts.values())
    return {
        "writer": writer, "entities": spec.entity_count, "periods": PERIODS, "metrics": METRICS, "workers": workers,
        "import_s": import_s, "load_s": load_s, "write_s": write_s, "cpu_s": cpu_s, "rows_per_s": rows / write_s,
        "cells": cells, "cells_per_s": cells / write_s,
        "rss_load_mib": rss_load, "peak_rss_mib": peak, "output_bytes": size,
        "tables": len(tables), "rows": rows, "row_count_mismatch": wrong,
    }


# ---------------------------------------------------------------------------------------------- parent

def _versions() -> list[tuple[str, str]]:
    out = [("python", platform.python_version()), ("platform", platform.platform())]
    for dist in ("dbt-plotsim", "numpy", "scipy", "duckdb", "pyarrow", "pydantic"):
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((dist, "not installed"))
    out.append(("os.cpu_count()", str(os.cpu_count())))
    return out


def _child(writer: str, entities: int, out_dir: Path, workers: int, template: str | None,
           chunk_entities: int | None = None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--case", writer, str(entities),
           "--out", str(out_dir), "--workers", str(workers)] + (["--template", template] if template else [])
    cmd += ["--chunk-entities", str(chunk_entities)] if chunk_entities else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
    return {"writer": writer, "entities": entities, "error": f"exit {done.returncode}: " + "\n".join(tail)}


def _human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size} B"


def _rate(per_s: float) -> str:
    return f"{per_s / 1e6:,.2f} M" if per_s >= 1e6 else f"{per_s / 1e3:,.0f} k"


def _table(results: list[dict]) -> str:
    header = ["writer", "entities", "metric cells", "write s", "CPU s", "cells/s", "load s", "RSS load MiB",
              "peak RSS MiB", "output", "rows", "rows/s"]
    align = ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['writer']} | {r['entities']:,} | FAILED: {r['error'].splitlines()[-1]} |"
                         + " |" * (len(header) - 3))
            continue
        lines.append("| " + " | ".join([
            r["writer"], f"{r['entities']:,}", f"{r['cells']:,}", f"{r['write_s']:.2f}", f"{r['cpu_s']:.2f}", _rate(r["cells_per_s"]),
            f"{r['load_s']:.2f}", f"{r['rss_load_mib']:,.0f}", f"{r['peak_rss_mib']:,.0f}",
            _human_bytes(r["output_bytes"]), f"{r['rows']:,}", _rate(r["rows_per_s"]),
        ]) + " |")
    return "\n".join(lines)


def _load_table(results: list[dict]) -> str:
    lines = ["| entities | spec load + calibration s (per child) | import s (per child) |", "|---:|---:|---:|"]
    by_size: dict[int, list[dict]] = {}
    for r in results:
        if "error" not in r:
            by_size.setdefault(r["entities"], []).append(r)
    for n, rs in sorted(by_size.items()):
        loads = ", ".join(f"{r['load_s']:.2f} ({r['writer']})" for r in rs)
        imports = ", ".join(f"{r['import_s']:.2f}" for r in rs)
        lines.append(f"| {n:,} | {loads} | {imports} |")
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give entity counts separated by commas, e.g. 1000,10000")
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: entity counts must be positive")
    return sizes


def _writers(text: str) -> list[str]:
    chosen = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in chosen if w not in WRITERS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: writers are {', '.join(WRITERS)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark dbt-plotsim's DuckDB and Parquet writers.")
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES),
                        help="entity counts, comma-separated (default: 1000,10000,100000)")
    parser.add_argument("--writers", type=_writers, default=list(WRITERS),
                        help="writers to run, comma-separated (default: duckdb,parquet)")
    parser.add_argument("--workers", type=int, default=1, help="threads generating blocks (default: 1)")
    parser.add_argument("--out", default=None, help="directory for the outputs (default: a temp dir, removed)")
    parser.add_argument("--template", default=None,
                        help="benchmark a bundled template's whole star schema (saas, hr, ...) scaled to each size")
    parser.add_argument("--chunk-entities", type=int, default=None,
                        help="entities per chunk (default: the package's own choice from its memory budget)")
    parser.add_argument("--case", nargs=2, metavar=("WRITER", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.case:  # child: one measurement, one JSON line
        writer, entities = args.case[0], int(args.case[1])
        out_dir = Path(args.out or tempfile.mkdtemp(prefix="plotsim-bench-"))
        out_dir.mkdir(parents=True, exist_ok=True)
        print(RESULT_TAG + json.dumps(run_case(writer, entities, out_dir, args.workers, args.template,
                                                        args.chunk_entities)), flush=True)
        return 0

    own_out = args.out is None
    out_dir = Path(tempfile.mkdtemp(prefix="plotsim-bench-") if own_out else args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    print("# dbt-plotsim writer benchmark\n")
    for name, version in _versions():
        print(f"- {name}: {version}")
    if args.template:
        print(f"- spec: bundled template '{args.template}', segments scaled to each size; workers={args.workers}")
    else:
        print(f"- spec: {PERIODS} monthly periods x {METRICS} metrics, {len(SEGMENTS)} segments, 3 correlations, "
              f"2 lags, noise gaussian 0.05 / outliers 0.002 / missing 0.01; workers={args.workers}")
    print(f"- output dir: {out_dir}{' (temporary)' if own_out else ''}\n", flush=True)

    results = []
    try:
        for entities in args.sizes:
            for writer in args.writers:
                print(f"running {writer} x {entities:,} entities ...", file=sys.stderr, flush=True)
                result = _child(writer, entities, out_dir, args.workers, args.template, args.chunk_entities)
                if "error" not in result and result["row_count_mismatch"]:
                    result["error"] = f"row counts differ (got, expected): {result['row_count_mismatch']}"
                results.append(result)
                if "error" in result:
                    print(f"  {writer} x {entities:,} failed:\n{result['error']}", file=sys.stderr, flush=True)
    finally:
        if own_out:
            shutil.rmtree(out_dir, ignore_errors=True)

    print("## Spec load (validation + calibration)\n")
    print(_load_table(results) + "\n")
    print("## Writers\n")
    print(_table(results))
    print("\nmetric cells = entities x periods x metrics; cells/s and rows/s (rows of every table) use `write s` "
          "(the writer call alone, after load_spec); peak RSS is the child's ru_maxrss; output is bytes on disk "
          "(apparent size).")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
