"""Cost of appending one period against regenerating the whole source, into DuckDB.

Run from the repository root (with the package installed):

    python benchmarks/append.py                         # the metric spec of bench.py at 20,000 entities
    python benchmarks/append.py --entities 100000       # another size
    python benchmarks/append.py --template saas         # a bundled template's whole star schema at that size

For each case the source is first generated as of the second-to-last period (not timed), then:

- `append`: `materialize` with `window.as_of` moved one period on: the new period's rows of the growing
  tables are inserted and the entity tables (dimensions, SCD2 versions) rewritten, in one transaction, from
  the story the first load kept (story.py) run through the clock;
- `redrawn`: the same append with the kept story removed first, so the engine draws the story again;
- `full`: the same source generated from nothing at the new `as_of`, into a fresh file;
- `rows`: rows written by each; ratios to `full`, next to one period's share (1 / periods).

Both results are compared table by table (they must be equal) before the figures are printed.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from bench import case_spec  # noqa: E402

from dbt_plotsim.engine.plan import plan_for  # noqa: E402
from dbt_plotsim.materialize import materialize  # noqa: E402
from dbt_plotsim.sources import SyntheticSource  # noqa: E402
from dbt_plotsim.spec.loading import at  # noqa: E402


def source(spec, as_of: str) -> SyntheticSource:
    return SyntheticSource("bench", "raw", at(spec, as_of), "duckdb", None)


def same(a: duckdb.DuckDBPyConnection, b: duckdb.DuckDBPyConnection, tables: list[str]) -> bool:
    query = "select count(*), sum(hash(t)) from raw.\"{}\" t"
    return all(a.execute(query.format(t)).fetchall() == b.execute(query.format(t)).fetchall() for t in tables)


def run(data, folder: Path) -> dict:
    plan = plan_for(data)
    starts = [str(d) for d in plan.starts.astype("datetime64[D]")]
    before, after = starts[-2], starts[-1]
    grown = duckdb.connect(str(folder / "grown.duckdb"))
    materialize(source(data, before), grown)
    redrawn = duckdb.connect(str(folder / "redrawn.duckdb"))
    materialize(source(data, before), redrawn)
    shutil.rmtree(folder / ".redrawn.duckdb.plotsim")
    began = time.perf_counter()
    appended = materialize(source(data, after), grown)
    append_s = time.perf_counter() - began
    assert appended.status == "appended", appended.detail
    began = time.perf_counter()
    again = materialize(source(data, after), redrawn)
    redrawn_s = time.perf_counter() - began
    assert again.status == "appended", again.detail
    whole = duckdb.connect(str(folder / "whole.duckdb"))
    began = time.perf_counter()
    full = materialize(source(data, after), whole)
    full_s = time.perf_counter() - began
    assert same(grown, whole, full.tables), "the append differs from the full generation"
    assert same(redrawn, whole, full.tables), "the redrawn append differs from the full generation"
    return {"periods": plan.periods, "append_s": append_s, "append_rows": appended.rows, "redrawn_s": redrawn_s,
            "full_s": full_s, "full_rows": full.rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--template", default=None, help="a bundled template's whole star schema instead")
    args = parser.parse_args(argv)
    data, _ = case_spec(args.entities, args.template)
    with tempfile.TemporaryDirectory() as folder:
        r = run(data, Path(folder))
    label = args.template or "metric spec"
    print(f"{label}, {args.entities:,} entities, {r['periods']} periods, DuckDB")
    print(f"{'':<9}{'seconds':>9}{'/ full':>8}{'rows written':>15}{'/ full':>8}")
    for label, seconds, rows in (("append", r["append_s"], r["append_rows"]),
                                 ("redrawn", r["redrawn_s"], r["append_rows"]), ("full", r["full_s"], r["full_rows"])):
        print(f"{label:<9}{seconds:>9.2f}{seconds / r['full_s']:>8.3f}{rows:>15,}{rows / r['full_rows']:>8.3f}")
    print(f"one period's share: {1 / r['periods']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
