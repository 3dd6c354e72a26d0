"""Measure every bundled template against its declarations at scale 1, with its shipped seed and two others:
pooled r errors, lag peaks, values outside ranges, KS, fitted signals (the suite's measure).

    python scripts/template_report.py [NAME ...] [--seeds 101 202] [--scale 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbt_plotsim.templates import load as load_template, names as template_names  # noqa: E402
from tests.statistical.measure import measure_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*")
    parser.add_argument("--seeds", nargs="*", type=int, default=[101, 202])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    worst_overall = 0.0
    for name in args.names or template_names():
        raw = load_template(name)
        for seed in [None, *args.seeds]:
            start = time.perf_counter()
            report = measure_spec(raw, scale=args.scale, seed=seed, name=name)
            shown = raw.get("seed") if seed is None else seed
            print(f"== {name} seed {shown} ({time.perf_counter() - start:.1f}s)")
            print(report.text())
            worst_overall = max(worst_overall, report.worst_r if report.accepted else 1.0)
    print(f"worst |r err| over all templates and seeds: {worst_overall:.3f}")


if __name__ == "__main__":
    main()
