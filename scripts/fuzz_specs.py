"""Seeded mutation fuzzing of specs (tests/fuzzing.py): every mutant must be accepted and generate, or be
refused with problems that name YAML paths. Prints a finding per escaped mutant and the tally.

    python scripts/fuzz_specs.py [--cases 5000] [--seed 1] [--edits N]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import mutate, outcome  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--edits", type=int, default=None, help="mutations per case (default: 1-3 at random)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tally = {"accepted": 0, "refused": 0, "finding": 0}
    began = time.perf_counter()
    for case in range(args.cases):
        spec = mutate(rng, edits=args.edits)
        try:
            tally[outcome(spec)] += 1
        except Exception as exc:
            tally["finding"] += 1
            print(f"FINDING case {case}: {type(exc).__name__}: {str(exc)[:300]}\n  {spec!r:.600}", flush=True)
    print(f"{args.cases} cases in {time.perf_counter() - began:.0f}s: {tally}")
    sys.exit(1 if tally["finding"] else 0)


if __name__ == "__main__":
    main()
