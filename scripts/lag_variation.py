"""Change one declared lag's `periods` (1-12) in every accepted suite spec and count how many variants are
still accepted; print each rejection's first line so it can be judged truly infeasible or not.

    python scripts/lag_variation.py [SPEC.yml ...]
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from dbt_plotsim.errors import SpecError  # noqa: E402
from dbt_plotsim.spec import load_spec  # noqa: E402


def accepted(raw: dict) -> str | None:
    """None when accepted, else the first problem."""
    try:
        load_spec(raw)
    except SpecError as error:
        return str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("specs", nargs="*")
    args = parser.parse_args()
    paths = [Path(p) for p in args.specs] or sorted((ROOT / "tests/statistical/specs").glob("*.yml"))
    total = kept = 0
    for path in paths:
        raw = yaml.safe_load(path.read_text())
        if accepted(raw) is not None:
            print(f"{path.stem}: rejected as written, skipped")
            continue
        for i, lag in enumerate(raw.get("lags", [])):
            for periods in range(1, 13):
                if periods == lag["periods"]:
                    continue
                variant = copy.deepcopy(raw)
                variant["lags"][i]["periods"] = periods
                start = time.perf_counter()
                problem = accepted(variant)
                total += 1
                kept += problem is None
                if problem is not None:
                    print(f"{path.stem} {lag['metric']}<-{lag['follows']} periods {periods} "
                          f"({time.perf_counter() - start:.1f}s): {problem}", flush=True)
    print(f"accepted {kept} of {total} variants")


if __name__ == "__main__":
    main()
