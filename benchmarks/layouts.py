"""Write time and size of each output layout on the same chunks: DuckDB, the Parquet set, Hive-partitioned
Parquet (by period), CSV and JSON Lines.

Run from the repository root (with the package installed):

    python benchmarks/layouts.py                      # saas template at scale 1 (about 2.2M rows)
    python benchmarks/layouts.py --scale 0.5 --repeat 3

The generation's chunks are drawn once into memory (not timed) and replayed to every writer, so the times
are the writers' own (their atomic swap and content hashes included); best of `--repeat`.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dbt_plotsim import stream, templates  # noqa: E402
from dbt_plotsim.spec import load_spec  # noqa: E402
from dbt_plotsim.writers.duckdb import write_duckdb  # noqa: E402
from dbt_plotsim.writers.layouts import write_layout  # noqa: E402
from dbt_plotsim.writers.parquet import write_parquet  # noqa: E402


class Replay:
    """A generation whose chunks were drawn already."""

    def __init__(self, generation):
        self.schemas, self.plan = generation.schemas, generation.plan
        self.saved = list(generation.chunks())
        self._counts = {name: sum(c[name].num_rows for c in self.saved if name in c) for name in self.schemas}

    def row_counts(self):
        return dict(self._counts)

    def layout(self):
        return [], list(self.schemas)

    def chunks(self):
        return iter(self.saved)


WRITERS = {
    "duckdb": lambda g, out: write_duckdb(g, out / "out.duckdb"),
    "parquet set": lambda g, out: write_parquet(g, out / "set"),
    "parquet by period": lambda g, out: write_layout(g, out / "hive", "parquet", "period"),
    "csv": lambda g, out: write_layout(g, out / "csv", "csv"),
    "jsonl": lambda g, out: write_layout(g, out / "jsonl", "jsonl"),
}


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="saas")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    generation = Replay(stream(load_spec(templates.load(args.template), scale=args.scale)))
    rows = sum(generation.row_counts().values())
    print(f"{args.template} x {args.scale}: {len(generation.schemas)} tables, {rows:,} rows; best of {args.repeat}")
    print(f"{'layout':<20}{'write s':>9}{'Mrows/s':>9}{'MiB':>9}")
    for name, write in WRITERS.items():
        best, size = float("inf"), 0
        for _ in range(args.repeat):
            out = Path(tempfile.mkdtemp(prefix="plotsim-layout-"))
            try:
                began = time.perf_counter()
                write(generation, out)
                best = min(best, time.perf_counter() - began)
                size = _size(out)
            finally:
                shutil.rmtree(out)
        print(f"{name:<20}{best:>9.2f}{rows / best / 1e6:>9.2f}{size / 2**20:>9.1f}")


if __name__ == "__main__":
    main()
