"""Signal CLI generations at random moments (SIGKILL, SIGINT, SIGTERM; DuckDB and Parquet) and check that
each leaves the old or the new complete output, says so in one line, and that the next run leaves no debris.

    python scripts/kill_trials.py [--trials 20] [--seed 1] [--signals KILL,INT,TERM] [--modes regenerate,append]

A regenerate trial replaces seed 1's output with seed 2's; an append trial appends seed 1's output as of
May 2024 to the window's end (the DuckDB insert, the Parquet files added by hard links).
"""
from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.killing import trial  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20, help="per format and signal")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--signals", default="KILL,INT,TERM", help="comma-separated, without SIG")
    parser.add_argument("--modes", default="regenerate,append", help="comma-separated: regenerate, append")
    args = parser.parse_args()
    signals = [signal.Signals[f"SIG{name.strip().upper()}"] for name in args.signals.split(",")]
    rng = random.Random(args.seed)
    held = failed = 0
    modes = [m.strip() for m in args.modes.split(",")]
    for fmt in ("duckdb", "parquet"):
        references: dict = {}
        with tempfile.TemporaryDirectory() as folder:
            for mode, signum in [(m, s) for m in modes for s in signals]:
                for _ in range(args.trials):
                    result = trial(Path(folder), fmt, signum, rng, references, append=mode == "append")
                    ok = result["left"] in ("old", "new") and result["next_run"] == 0 and not result["debris_after_next"]
                    held += ok
                    failed += not ok
                    print(("held  " if ok else "FAILED") + f" {result}", flush=True)
    print(f"{held} held, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
