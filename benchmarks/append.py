"""Cost of appending one period against regenerating the whole source, into DuckDB.

Run from the repository root (with the package installed):

    python benchmarks/append.py                         # the metric spec of bench.py at 20,000 entities
    python benchmarks/append.py --entities 100000       # another size
    python benchmarks/append.py --template saas         # a bundled template's whole star schema at that size

For each case the source is first generated as of the second-to-last period (not timed), then:

- `append s`: `materialize` with `window.as_of` moved one period on: the new period's rows of the growing
  tables are inserted and the entity tables (dimensions, SCD2 versions) rewritten, in one transaction;
- `full s`: the same source generated from nothing at the new `as_of`, into a fresh file;
- `rows`: rows written by each; `ratio`: append / full, next to one period's share (1 / periods).

Both results are compared table by table (they must be equal) before the figures are printed.
"""
from __future__ import annotations

import argparse
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
    began = time.perf_counter()
    appended = materialize(source(data, after), grown)
    append_s = time.perf_counter() - began
    assert appended.status == "appended", appended.detail
    whole = duckdb.connect(str(folder / "whole.duckdb"))
    began = time.perf_counter()
    full = materialize(source(data, after), whole)
    full_s = time.perf_counter() - began
    assert same(grown, whole, full.tables), "the append differs from the full generation"
    return {"periods": plan.periods, "append_s": append_s, "append_rows": appended.rows, "full_s": full_s,
            "full_rows": full.rows}


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
    print(f"{'':<8}{'seconds':>10}{'rows written':>16}")
    print(f"{'append':<8}{r['append_s']:>10.2f}{r['append_rows']:>16,}")
    print(f"{'full':<8}{r['full_s']:>10.2f}{r['full_rows']:>16,}")
    print(f"ratio append / full: {r['append_s'] / r['full_s']:.3f} s, {r['append_rows'] / r['full_rows']:.3f} rows "
          f"(one period's share: {1 / r['periods']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
