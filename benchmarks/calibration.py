"""Calibration cost: load + fit + pilot for every statistical-suite spec, the README spec and the bundled
templates, each timed in this process after a warm-up (imports excluded).

    python benchmarks/calibration.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from dbt_plotsim.engine import plan as plans  # noqa: E402
from dbt_plotsim.errors import SpecError  # noqa: E402
from dbt_plotsim.spec import load_spec  # noqa: E402
from dbt_plotsim.templates import load as load_template  # noqa: E402


def timed(name: str, raw) -> None:
    plans._build_cached.cache_clear()
    start = time.perf_counter()
    try:
        spec = load_spec(raw)
        plan = plans.plan_for(spec)
        status = "accepted"
        signals = sorted(l.signal for l in plan.model.loads)
        median = signals[len(signals) // 2] if len(signals) % 2 else sum(signals[len(signals) // 2 - 1:][:2]) / 2
        detail = f"median signal {median:.2f}"
    except SpecError as error:
        status, detail = "rejected", f"{len(error.problems)} problem(s)"
    print(f"| {name} | {status} | {time.perf_counter() - start:.2f} | {detail} |", flush=True)


def main() -> None:
    timed("warm-up", yaml.safe_load((ROOT / "tests/data/saas_example.yml").read_text()))
    print("| spec | verdict | calibration s | fitted |\n| --- | --- | ---: | --- |")
    timed("README (tests/data/saas_example.yml)", yaml.safe_load((ROOT / "tests/data/saas_example.yml").read_text()))
    for path in sorted((ROOT / "tests/statistical/specs").glob("*.yml")):
        timed(f"suite {path.stem}", yaml.safe_load(path.read_text()))
    for name in ("saas", "hr", "ecommerce", "education", "healthcare"):
        timed(f"template {name}", load_template(name))


if __name__ == "__main__":
    main()
