"""`dbt-plotsim report`: how faithfully a generated source delivers its spec, as one HTML page and a JSON.

    write_report("report.html", duckdb="warehouse.duckdb", schema="raw_saas")
    write_report("report.html", parquet="data/saas")

The JSON beside the page (same stem, .json) holds every figure the page draws, each checked one with
`status` pass or warn.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import WriteError


@dataclass
class Written:
    html: Path
    json: Path
    passed: int
    warned: int

    @property
    def summary(self) -> str:
        return f"{self.passed} pass, {self.warned} warn"


def collect_report(*, duckdb: str | Path | None = None, schema: str = "main", source: str | None = None,
                   parquet: str | Path | None = None, conn=None) -> dict:
    """Every figure of the report as plain data (what the JSON holds). The source: a DuckDB file (`duckdb`,
    `schema`, `source`), an open DuckDB connection (`conn`, `schema`, `source`: left open) or a Parquet set."""
    from . import collect
    from .marginals import marginals
    from .source import on_connection, open_duckdb, open_parquet
    from .trajectories import trajectories

    if sum(x is not None for x in (duckdb, parquet, conn)) != 1:
        raise WriteError("give one of a DuckDB file, a DuckDB connection or a Parquet set")
    if parquet is not None:
        opened = open_parquet(parquet)
    elif conn is not None:
        opened = on_connection(conn, schema, source, f"schema {schema}", owned=False)
    else:
        opened = open_duckdb(duckdb, schema, source)
    try:
        tables = collect.metric_tables(opened)
        if collect.TRUTH not in opened.tables:
            opened.notes.append("No truth tables in this output (written before dbt-plotsim kept them, or with "
                                "tables.truth false): lags, arrivals and seasonality are not shown.")
        sections = {
            "correlations": collect.correlations(opened),
            "lags": collect.lags(opened),
            "marginals": marginals(opened, tables),
            "trajectories": trajectories(opened),
            "arrivals": collect.arrivals(opened),
            "seasonality": collect.seasonality(opened, tables),
            "integrity": collect.integrity(opened, None if parquet is None else str(parquet)),
            "row_counts": collect.row_counts(opened),
        }
        header = _header(opened)
        notes = list(opened.notes)
    finally:
        opened.close()
    marks = [f["status"] for f in _figures(sections)]
    return {"header": header, "summary": {"pass": marks.count("pass"), "warn": marks.count("warn")},
            "notes": notes, "sections": sections}


def write_report(out: str | Path, **where) -> Written:
    """Write the HTML page to `out` and the JSON beside it; `where`: duckdb (+ schema, source) or parquet."""
    from .page import render

    html = Path(out)
    if html.suffix.lower() not in (".html", ".htm"):
        raise WriteError(f"out {out}: the report is an HTML page; name it <name>.html (the JSON goes beside it)")
    report = collect_report(**where)
    html.parent.mkdir(parents=True, exist_ok=True)
    data = html.with_suffix(".json")
    page = render(report)
    html.write_text(page, encoding="utf-8")
    data.write_text(json.dumps(_finite(report), indent=1, default=_plain, allow_nan=False) + "\n", encoding="utf-8")
    return Written(html, data, report["summary"]["pass"], report["summary"]["warn"])


def _figures(sections: dict) -> list[dict]:
    found = []
    for name, value in sections.items():
        if isinstance(value, list):
            found += [v for v in value if isinstance(v, dict) and "status" in v]
        elif isinstance(value, dict) and "status" in value:
            found.append(value)
    return found


def _header(opened) -> dict:
    header = {"source": opened.name, "location": opened.location}
    spec = opened.spec
    if spec is not None:
        window = spec.window
        header.update({"about": spec.about, "seed": spec.seed, "unit": spec.unit, "entities": spec.entity_count,
                       "window": f"{window.start}..{window.end} ({window.grain})"
                                 + (f", as of {window.as_of}" if window.as_of else "")})
    return header


def _finite(value):
    """NaN and infinities as null: the JSON stays standard (a constant column has no r)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _plain(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)
