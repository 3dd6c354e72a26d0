"""Signal `dbt run-operation generate_synthetic` at random moments (SIGINT, SIGKILL) in a throwaway dbt
project and check that each trial leaves the old or the new complete source (state, row counts), that
SIGINT stops it within seconds with our one line, and that the next run succeeds and leaves no staging tables.

    python scripts/dbt_kill_trials.py [--trials 20] [--entities 800000]
"""
from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dbt_plotsim.writers.duckdb import STAGING  # noqa: E402
from tests.conftest import small_dict  # noqa: E402

DBT = str(Path(sys.executable).with_name("dbt"))
PLOTSIM = str(Path(sys.executable).with_name("dbt-plotsim"))


def project(folder: Path, entities: int) -> Path:
    (folder / "models").mkdir()
    (folder / "dbt_project.yml").write_text("name: killtrial\nversion: '1.0.0'\nconfig-version: 2\nprofile: killtrial\n")
    (folder / "profiles.yml").write_text(yaml.safe_dump({"killtrial": {"target": "dev", "outputs": {"dev": {
        "type": "duckdb", "path": str(folder / "k.duckdb"), "threads": 1,
        "plugins": [{"module": "dbt_plotsim.plugin", "alias": "plotsim"}]}}}}))
    (folder / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(ROOT)}]}))
    spec = small_dict()
    spec["segments"][0]["count"] = entities
    sources = folder / "models" / "sources.yml"
    sources.write_text(yaml.safe_dump({"version": 2, "sources": [{"name": "big", "config": {"meta": {"synthetic": spec}}}]}))
    for command in ([DBT, "deps", "--profiles-dir", str(folder)], [PLOTSIM, "sync-sources", str(sources)]):
        subprocess.run(command, cwd=folder, check=True, capture_output=True)
    return folder


def snapshot(db: Path) -> tuple:
    with duckdb.connect(str(db), read_only=True) as conn:
        state = conn.execute("select generated_at, total_rows from big._plotsim_state").fetchall()
        rows = conn.execute("select count(*) from big.fct_mrr").fetchone()[0]
    return state, rows


def staging(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute("select count(*) from information_schema.tables "
                            "where starts_with(table_name, ?)", [STAGING]).fetchone()[0]


def generate(folder: Path) -> subprocess.Popen:
    return subprocess.Popen([DBT, "run-operation", "generate_synthetic", "--profiles-dir", str(folder), "--args",
                             "{force: true}"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20, help="per signal")
    parser.add_argument("--entities", type=int, default=800_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failed = held = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = project(Path(tmp), args.entities)
        db = folder / "k.duckdb"
        began = time.perf_counter()
        assert generate(folder).wait() == 0
        full = time.perf_counter() - began
        expected_rows = snapshot(db)[1]
        for signum in (signal.SIGINT, signal.SIGKILL):
            for _ in range(args.trials):
                before = snapshot(db)
                delay = rng.uniform(0.2, full)
                process = generate(folder)
                time.sleep(delay)
                sent = time.perf_counter()
                process.send_signal(signum)
                output, _ = process.communicate(timeout=600)
                stopped = time.perf_counter() - sent
                said = "interrupted (SIGINT)" in output
                ours = "START synthetic source" in output  # before it, dbt itself was starting and answers
                after = snapshot(db)
                left = "old" if after == before else ("new" if after[1] == expected_rows else "PARTIAL")
                rerun = generate(folder)
                rerun_output, _ = rerun.communicate(timeout=600)
                again = rerun.returncode
                debris = staging(db)
                ok = (left in ("old", "new") and again == 0 and not debris
                      and (signum == signal.SIGKILL or (stopped < 10 and (said or not ours or left == "new"))))
                held += ok
                failed += not ok
                print(f"{'held  ' if ok else 'FAILED'} {signal.Signals(signum).name} at {delay:.1f}s of {full:.1f}s: "
                      f"exit {process.returncode}, stopped {stopped:.2f}s after the signal, left {left}, "
                      f"next run exit {again}, staging after it {debris}"
                      + (f", our line {'shown' if said else 'MISSING'}" if signum == signal.SIGINT else ""), flush=True)
                if not ok:
                    print("    signalled run:", " | ".join(output.strip().splitlines()[-12:]))
                    print("    next run:", " | ".join(rerun_output.strip().splitlines()[-4:]), flush=True)
    print(f"{held} held, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
