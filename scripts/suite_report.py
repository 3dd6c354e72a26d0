"""Measure every spec of tests/statistical/specs against its declarations: accepted or not, pooled r errors,
lag peaks (time-demeaned changes), values outside ranges, KS per calendar bucket, fitted signals, churn.

    python scripts/suite_report.py [SPEC.yml ...] [--scale 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.statistical.measure import measure_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("specs", nargs="*")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    paths = [Path(p) for p in args.specs] or sorted((Path(__file__).resolve().parents[1] / "tests/statistical/specs").glob("*.yml"))
    for path in paths:
        start = time.perf_counter()
        report = measure_spec(path, scale=args.scale)
        print(f"== {path.stem} ({time.perf_counter() - start:.1f}s)")
        print(report.text())


if __name__ == "__main__":
    main()
