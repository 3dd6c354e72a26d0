"""Every benchmark of dbt-plotsim in one run, printed as Markdown.

    python benchmarks/run_all.py            # the whole set (20-30 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # a small slice of each part (2-3 minutes)

Parts, each measured in fresh child processes:
  (a) side by side with plotsim 0.7.0 on the same work (36 monthly periods, 5 metrics, 3 correlations,
      2 lags, noise; one dim, one fact, one event table) at 1k and 10k entities: the whole process, wall
      and CPU time and peak RSS. plotsim goes into its own venv (--plotsim-venv, made with `python -m venv`
      and `pip install plotsim[parquet]==0.7.0` when missing); if that fails, the part is skipped.
  (b) bench.py's metric spec (36 months x 5 metrics) at 10k, 100k and 556k entities (100M metric cells),
      both writers: cells/s and peak RSS.
  (c) the saas template's full star at 20k and 100k accounts, both writers, and 20k with --workers 2.
  (d) start-up: `--help`, `--version`, `validate` cold (PLOTSIM_CACHE=off) and warm (plan cache filled),
      and the import of dbt_plotsim.api.
Both tools' bytecode is compiled once first (into a temporary PYTHONPYCACHEPREFIX), so start-up figures
are those of an installed package. The machine may be shared: other processes' CPU use skews wall times;
CPU times and peak RSS are steadier, and the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402  (benchmarks/bench.py: the cases of parts b and c)

PLOTSIM = "plotsim[parquet]==0.7.0"
COMPARE_EVENTS_PER_PERIOD = 0.72  # dbt-plotsim's order rate; plotsim's `scale: 0.4` on orders gives as many rows

PLOTSIM_CHILD = r"""
import json, sys
import plotsim
cfg, out = json.loads(sys.argv[1]), sys.argv[2]
plotsim.run(plotsim.create(**cfg), out)
"""


# ---------------------------------------------------------------------------------------------- processes

def _measure(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd` to the end: wall s, CPU s (user + system, all threads) and peak RSS MiB of that process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage, not every child's so far
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        return {"wall": wall, "code": proc.returncode, "stdout": out.read(), "stderr": err.read(),
                "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024}


def _env(**extra: str) -> dict:
    env = {**os.environ, **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode goes to PYTHONPYCACHEPREFIX, compiled once
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _parquet_rows(directory: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in Path(directory).resolve().rglob("*.parquet"))


# ---------------------------------------------------------------------------------------------- (a)

def plotsim_config(entities: int) -> dict:
    """bench.py's spec as plotsim 0.7.0 reads it (its types: score, amount, count; at most 5,000 per segment)."""
    counts = [int(entities * share) for _, _, share in bench.SEGMENTS]
    counts[0] += entities - sum(counts)
    shapes = {"churn": "flat > decline @ 10"}  # plotsim has no churn shape: the nearest of its vocabulary
    metrics = ["satisfaction", "revenue", "orders", "basket_value", "resolution_hours"]
    key = [{"name": "date_key", "type": "ref.dim_date"}, {"name": "customer_id", "type": "ref.dim_customer"}]
    return {
        "about": "benchmark customers", "unit": "customer", "seed": 20240101,
        "window": {"start": "2022-01", "end": "2024-12", "every": "monthly"},
        "metrics": [
            {"name": "satisfaction", "type": "score", "polarity": "positive"},
            {"name": "revenue", "type": "amount", "polarity": "positive", "range": [10, 5000],
             "follows": "satisfaction", "delay": 2},
            {"name": "orders", "type": "count", "polarity": "positive", "follows": "satisfaction", "delay": 1},
            {"name": "basket_value", "type": "amount", "polarity": "positive", "range": [5, 400],
             "distribution": "gamma", "distribution_params": {"shape": 2.0}},
            {"name": "resolution_hours", "type": "amount", "polarity": "negative", "range": [1, 120],
             "distribution": "weibull", "distribution_params": {"shape": 1.5}},
        ],
        "connections": ["revenue 0.75 orders", "basket_value 0.6 revenue", "satisfaction -0.4 resolution_hours"],
        "segments": [{"name": name, "archetype": shapes.get(shape, shape), "count": count}
                     for (name, shape, _), count in zip(bench.SEGMENTS, counts)],
        "noise": {"gaussian_sigma": 0.05, "outlier_rate": 0.002, "mcar_rate": 0.01},
        "dimensions": [
            {"name": "dim_date", "per": "period", "columns": [{"name": "date_key", "type": "id"},
                                                                {"name": "date", "type": "date"}]},
            {"name": "dim_customer", "per": "unit", "columns": [{"name": "customer_id", "type": "id"},
                                                                  {"name": "cohort_size", "type": "segment.count"}]},
        ],
        "facts": [{"name": "fct_customer_monthly", "metrics": metrics,
                   "columns": key + [{"name": m, "type": f"metric.{m}"} for m in metrics]}],
        "events": [{"name": "evt_order", "trigger": "proportional", "driver": "orders", "scale": 0.4,
                    "columns": [{"name": "event_id", "type": "id"}, *key, {"name": "event_ts", "type": "timestamp"}]}],
        "output": {"format": "parquet"},
    }


def dbt_plotsim_spec(entities: int) -> dict:
    """The same work in dbt-plotsim: bench.py's spec with one fact of all five metrics and one event table."""
    spec = bench.bench_spec(entities)
    spec["events"] = [{"name": "order", "rate": {"mean": COMPARE_EVENTS_PER_PERIOD, "follows": "orders"}}]
    spec["tables"] = {"facts": [{"name": "fct_customer_monthly", "metrics": [m["name"] for m in spec["metrics"]]}],
                      "trajectory": False}
    return spec


def plotsim_python(venv: Path) -> Path | None:
    """The venv's python with plotsim 0.7.0 importable, made if missing; None (and a message) if it fails."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import plotsim, pyarrow; assert plotsim.__version__ == '0.7.0'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"(creating {venv} and installing {PLOTSIM} ...)", file=sys.stderr, flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PLOTSIM], check=True, capture_output=True,
                       timeout=900)
        subprocess.run(check, check=True, capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"SKIPPED: could not install {PLOTSIM} into {venv} ({exc}; "
              f"{detail.decode(errors='replace').strip().splitlines()[-1:] or ''}). Parts b-d follow.\n")
        return None
    return python


def compare(sizes: list[int], venv: Path, work: Path) -> None:
    print("## (a) Side by side with plotsim 0.7.0\n")
    python = plotsim_python(venv)
    if python is None:
        return
    cache = work / "plan-cache"
    env = _env(PYTHONPYCACHEPREFIX=str(work / "pycache"), PLOTSIM_CACHE_DIR=str(cache))
    subprocess.run([str(python), "-c", "import plotsim"], env=env, capture_output=True)  # bytecode, once
    subprocess.run([sys.executable, "-c", "import dbt_plotsim.api, dbt_plotsim.cli"], env=env, capture_output=True)
    rows = ["| entities | plotsim wall s / CPU s / peak MiB | dbt-plotsim cold wall s / CPU s / peak MiB | "
            "dbt-plotsim warm wall s / CPU s | wall ratio cold / warm | CPU ratio cold | rows plotsim / dbt-plotsim |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        print(f"running plotsim and dbt-plotsim x {n:,} entities ...", file=sys.stderr, flush=True)
        out = work / f"plotsim-{n}"
        theirs = _measure([str(python), "-c", PLOTSIM_CHILD, json.dumps(plotsim_config(n)), str(out)], env=env)
        spec_file = work / f"spec-{n}.json"  # JSON is YAML: the CLI reads it as a spec file
        spec_file.write_text(json.dumps(dbt_plotsim_spec(n)))
        cli = [sys.executable, "-m", "dbt_plotsim.cli", "generate", str(spec_file), "--out", str(work / f"ours-{n}")]
        cold = _measure(cli, env={**env, "PLOTSIM_CACHE": "off"})
        if cold["code"] == 0:
            _measure(cli, env=env)  # fills the plan cache (the cold run had it off)
        warm = _measure(cli, env=env) if cold["code"] == 0 else cold
        failed = [(name, r) for name, r in (("plotsim", theirs), ("dbt-plotsim", cold)) if r["code"] != 0]
        if failed:
            for name, r in failed:
                print(f"| {n:,} | {name} FAILED: {r['stderr'].strip().splitlines()[-1:]} |||||||")
            continue
        rows.append(f"| {n:,} | {theirs['wall']:.1f} / {theirs['cpu']:.1f} / {theirs['peak']:,.0f} | "
                    f"{cold['wall']:.1f} / {cold['cpu']:.1f} / {cold['peak']:,.0f} | {warm['wall']:.1f} / "
                    f"{warm['cpu']:.1f} | {theirs['wall'] / cold['wall']:.1f}x / {theirs['wall'] / warm['wall']:.1f}x | "
                    f"{theirs['cpu'] / cold['cpu']:.1f}x | {_parquet_rows(out):,} / {_parquet_rows(work / f'ours-{n}'):,} |")
    print("\n".join(rows))
    print("\nWhole processes (imports, config, calibration, generation, Parquet files, plotsim's validation and "
          "manifest). Cold: PLOTSIM_CACHE=off, calibrating as plotsim always does; warm: the plan cache hit. "
          "plotsim cannot take more than 5,000 entities per segment, so 100k is not in this table. Peak RSS "
          "is the child's ru_maxrss (Linux counts the runner's own RSS at the fork in it: a floor of about 75 MiB).\n")


# ---------------------------------------------------------------------------------------------- (b), (c)

def writers(sizes: list[int], template: str | None, work: Path, extra: list[tuple[str, int, int]] = ()) -> None:
    results = []
    cases = [(w, n, 1) for n in sizes for w in bench.WRITERS] + list(extra)
    for writer, n, workers in cases:
        print(f"running {writer} x {n:,} {'(' + template + ') ' if template else ''}workers={workers} ...",
              file=sys.stderr, flush=True)
        result = bench._child(writer, n, work, workers, template)
        if "error" not in result and result["row_count_mismatch"]:
            result["error"] = f"row counts differ: {result['row_count_mismatch']}"
        if workers > 1 and "error" not in result:
            result["writer"] += f", {workers} workers"
        results.append(result)
    print(bench._table(results))
    print("\n`write s` is the writer call alone (after the spec is loaded); CPU s counts every thread; peak RSS is "
          "the child's, spec loading included.\n")


# ---------------------------------------------------------------------------------------------- (d)

def startup(repeats: int, work: Path) -> None:
    print("## (d) Start-up\n")
    env = _env(PYTHONPYCACHEPREFIX=str(work / "pycache"), PLOTSIM_CACHE_DIR=str(work / "startup-cache"))
    cli = [sys.executable, "-m", "dbt_plotsim.cli"]
    example = str(ROOT / "tests" / "data" / "saas_example.yml")
    subprocess.run(cli + ["validate", example], env=env, capture_output=True)  # bytecode and a warm plan cache
    cases = [
        ("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"], env),
        ("import dbt_plotsim.api", [sys.executable, "-c", "import dbt_plotsim.api"], env),
        ("dbt-plotsim --help", cli + ["--help"], env),
        ("dbt-plotsim --version", cli + ["--version"], env),
        ("dbt-plotsim validate saas_example.yml, cold (PLOTSIM_CACHE=off)", cli + ["validate", example],
         {**env, "PLOTSIM_CACHE": "off"}),
        ("dbt-plotsim validate saas_example.yml, warm (plan cache)", cli + ["validate", example], env),
    ]
    lines = [f"| command | wall s (median of {repeats}) | CPU s |", "|---|---:|---:|"]
    for label, cmd, case_env in cases:
        runs = [_measure(cmd, env=case_env) for _ in range(repeats)]
        if any(r["code"] != 0 for r in runs):
            lines.append(f"| {label} | FAILED: {runs[-1]['stderr'].strip().splitlines()[-1:]} | |")
            continue
        lines.append(f"| {label} | {statistics.median(r['wall'] for r in runs):.2f} | "
                     f"{statistics.median(r['cpu'] for r in runs):.2f} |")
    probe = "import time; t = time.perf_counter(); import dbt_plotsim.api; print(time.perf_counter() - t)"
    inside = [float(_measure([sys.executable, "-c", probe], env=env)["stdout"].strip() or "nan") for _ in range(repeats)]
    lines.append(f"| import dbt_plotsim.api, timed inside the process | {statistics.median(inside):.2f} | |")
    print("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------- machine

def machine() -> list[str]:
    def first(path: str, key: str) -> str:
        try:
            for line in open(path):
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "unknown"

    ram = first("/proc/meminfo", "MemTotal")
    ram = f"{int(ram.split()[0]) / 2**20:.1f} GiB" if ram != "unknown" else ram
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = [f"- CPU: {first('/proc/cpuinfo', 'model name')}, {cores} cores usable ({os.cpu_count()} in the machine)",
           f"- RAM: {ram}; load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
           f"- Python {platform.python_version()} on {platform.platform()}"]
    versions = []
    for dist in ("dbt-plotsim", "numpy", "scipy", "duckdb", "pyarrow", "pydantic"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} not installed")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    out.append(f"- {', '.join(versions)}; code at {ROOT} (commit {commit.stdout.strip() or 'unknown'})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="All of dbt-plotsim's benchmarks in one run.")
    parser.add_argument("--quick", action="store_true", help="a small slice of every part (a few minutes)")
    parser.add_argument("--plotsim-venv", default="/tmp/plotsim-venv", help="venv for plotsim 0.7.0 (made if missing)")
    parser.add_argument("--skip", default="", help="parts to leave out, e.g. a,c")
    args = parser.parse_args(argv)
    skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    began = time.perf_counter()
    print("# dbt-plotsim benchmarks" + (" (quick slice)" if args.quick else "") + "\n")
    print("\n".join(machine()))
    print("- figures are from one run on this machine; if other processes use its CPU, wall times are skewed "
          "(CPU times and peak RSS much less)\n", flush=True)
    work = Path(tempfile.mkdtemp(prefix="plotsim-run-all-"))
    try:
        if "a" not in skip:
            compare([1_000] if args.quick else [1_000, 10_000], Path(args.plotsim_venv), work)
        if "b" not in skip:
            print("## (b) Metric spec: 36 months x 5 metrics, both writers\n")
            writers([10_000] if args.quick else [10_000, 100_000, 556_000], None, work)
        if "c" not in skip:
            print("## (c) The saas template's full star\n")
            writers([2_000] if args.quick else [20_000, 100_000], "saas", work,
                    [("parquet", 2_000 if args.quick else 20_000, 2)])
        if "d" not in skip:
            startup(1 if args.quick else 5, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"the whole run took {time.perf_counter() - began:,.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
