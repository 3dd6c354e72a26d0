"""The report's figures, read from an opened source into plain dicts (what the JSON holds).

Every checked figure carries `status`: pass or warn; a figure with nothing declared to hold it to is info.
"""
from __future__ import annotations

from ..verify import Findings, verify_connection, verify_parquet
from .source import Opened

TRUTH, RELATIONS, LAGS = "_plotsim_truth", "_plotsim_truth_relations", "_plotsim_truth_lags"
RECORDED = "_plotsim_relations"  # what calibration measured, kept by older output without truth tables
R_TOLERANCE = 0.05  # |delivered - declared r| at most this passes (correlation_within's default)
ENTITY_MEASURES = ("active_entities", "arriving_entities", "ending_entities")


def status(ok: bool) -> str:
    return "pass" if ok else "warn"


def period_label(date_key: int) -> str:
    text = str(int(date_key))
    return f"{text[:4]}-{text[4:6]}" if text.endswith("01") else f"{text[:4]}-{text[4:6]}-{text[6:]}"


def unit_of(opened: Opened) -> str | None:
    if opened.spec is not None:
        return opened.spec.unit
    for table in sorted(opened.tables):  # older output: the dimension that has segments
        if table.startswith("dim_") and "segment" in opened.columns(table):
            return table[4:]
    return None


def correlations(opened: Opened) -> list[dict]:
    if RELATIONS in opened.tables:
        rows = opened.conn.execute(
            f"select metric, other, scope, declared::double, delivered::double, n from {opened.relation(RELATIONS)} "
            "where kind = 'correlation' order by metric, other, scope").fetchall()
        measured = "the output rows"
    elif opened.recorded:
        rows = sorted((r.get("metric"), r.get("other"), r.get("scope"), r.get("declared"), r.get("delivered"), None)
                      for r in opened.recorded if r.get("kind") == "correlation")
        measured = "calibration (no truth tables in this output)"
    elif RECORDED in opened.tables:
        rows = opened.conn.execute(
            f"select metric, other, scope, declared::double, delivered::double, null "
            f"from {opened.relation(RECORDED)} "
            "where kind = 'correlation' and source_name = ? order by metric, other, scope", [opened.name]).fetchall()
        measured = "calibration (no truth tables in this output)"
    else:
        return []
    out = []
    for metric, other, scope, declared, delivered, n in rows:
        ok = delivered is not None and abs(delivered - declared) <= R_TOLERANCE + 1e-12  # 0.05 off passes
        out.append({"metric": metric, "other": other, "scope": scope, "declared": declared, "delivered": delivered,
                    "difference": None if delivered is None else delivered - declared, "n": n,
                    "tolerance": R_TOLERANCE, "measured_by": measured, "status": status(ok)})
    return out


def lags(opened: Opened) -> list[dict]:
    if RELATIONS not in opened.tables:
        return []
    declared = opened.conn.execute(
        f"select metric, other, declared::double, delivered::double, strength::double, n "
        f"from {opened.relation(RELATIONS)} "
        "where kind = 'lag' order by metric, other").fetchall()
    curves: dict[tuple, list] = {}
    if LAGS in opened.tables:
        for metric, follows, lag, r, n in opened.conn.execute(
                f"select metric, follows, lag, r::double, n from {opened.relation(LAGS)} order by metric, follows, lag"
        ).fetchall():
            curves.setdefault((metric, follows), []).append({"lag": int(lag), "r": r, "n": n})
    out = []
    for metric, follows, lag, peak, strength, n in declared:
        curve = curves.get((metric, follows), [])
        if peak is None and curve:  # the lag where |r| peaks, read off the curve
            peak = max((p for p in curve if p["r"] is not None), key=lambda p: abs(p["r"]))["lag"]
        ok = peak is not None and int(round(peak)) == int(round(lag))
        out.append({"metric": metric, "follows": follows, "declared": int(round(lag)),
                    "peak": None if peak is None else int(round(peak)), "strength": strength, "n": n,
                    "curve": curve, "status": status(ok)})
    return out


def truth_series(opened: Opened, where: str, params: list) -> dict[tuple, dict[int, float]]:
    """Overall (all segments) truth figures per (table, column, measure): {date_key: value}."""
    out: dict[tuple, dict[int, float]] = {}
    for table, column, measure, key, value in opened.conn.execute(
            f"select table_name, column_name, measure, date_key, value::double from {opened.relation(TRUTH)} "
            f"where segment is null and category is null and date_key is not null and {where} order by date_key",
            params).fetchall():
        out.setdefault((table, column, measure), {})[int(key)] = value
    return out


def period_keys(opened: Opened) -> list[int]:
    if "dim_date" in opened.tables:
        return [int(r[0]) for r in opened.conn.execute(f"select date_key from {opened.relation('dim_date')} "
                                                        "order by date_key").fetchall()]
    return []


def arrivals(opened: Opened) -> dict | None:
    unit = unit_of(opened)
    if unit is None or TRUTH not in opened.tables:
        return None
    dim = f"dim_{unit}"
    series = truth_series(opened, "table_name = ? and measure in (?, ?, ?)", [dim, *ENTITY_MEASURES])
    if not series:
        return None
    keys = sorted({k for values in series.values() for k in values})
    figure = {"table": dim, "periods": [period_label(k) for k in keys], "date_keys": keys}
    for measure in ENTITY_MEASURES:
        values = series.get((dim, None, measure), {})
        figure[measure.split("_")[0]] = [values.get(k, 0.0) for k in keys]
    # the truth's arrivals and endings against the entity dimension's own dates
    counted = {"arriving": "first_date_key", "ending": "ended_date_key"}
    columns = set(opened.columns(dim))
    ok = True
    for name, column in counted.items():
        if column in columns:
            found = dict(opened.conn.execute(f"select {column}, count(*) from {opened.relation(dim)} "
                                             f"where {column} is not null group by 1").fetchall())
            ok &= all(abs(found.get(k, 0) - v) < 0.5 for k, v in zip(keys, figure[name]))
    figure["status"] = status(ok)
    return figure


def seasonality(opened: Opened, metrics: dict[str, str]) -> dict | None:
    """Each metric's overall mean per period, divided by its mean over the window (1 = an average period)."""
    if TRUTH not in opened.tables or not metrics:
        return None
    series = truth_series(opened, "measure = 'mean'", [])
    lines = {}
    for metric, table in metrics.items():
        values = series.get((table, metric, "mean"))
        if values:
            keys = sorted(values)
            level = sum(values.values()) / len(values)
            lines[metric] = {"date_keys": keys, "mean": [values[k] for k in keys],
                             "normalised": [values[k] / level if level else None for k in keys]}
    if not lines:
        return None
    keys = sorted({k for line in lines.values() for k in line["date_keys"]})
    declared = opened.spec is not None and opened.spec.seasonality is not None
    return {"periods": [period_label(k) for k in keys], "date_keys": keys, "metrics": lines,
            "declared": declared, "status": "info"}


def integrity(opened: Opened, parquet_dir: str | None) -> dict:
    found: Findings = (verify_parquet(parquet_dir) if parquet_dir
                       else verify_connection(opened.conn, opened.schema, opened.name))
    return {"checked": found.checked, "failures": found.failures, "status": status(found.ok)}


def row_counts(opened: Opened) -> dict[str, int]:
    return {t: int(opened.conn.execute(f"select count(*) from {opened.relation(t)}").fetchone()[0])
            for t in sorted(opened.tables)}


def metric_tables(opened: Opened) -> dict[str, str]:
    """Each metric's table: the fact (or any table with date_key) holding a column of its name."""
    columns = {t: opened.columns(t) for t in sorted(opened.tables) if not t.startswith("_")}
    periodic = {t: c for t, c in columns.items() if "date_key" in c}
    if opened.spec is not None:
        names = [m.name for m in opened.spec.metrics]
    else:  # older output: the facts' measure columns
        names = [c for t, cs in periodic.items() if t.startswith("fct_") for c in cs
                 if not c.endswith(("_id", "_key")) and c not in ("occurred_at", "amount")]
    out = {}
    for name in names:
        holders = [t for t, cs in periodic.items() if name in cs]
        holders.sort(key=lambda t: (not t.startswith("fct_"), t))
        if holders:
            out[name] = holders[0]
    return out
