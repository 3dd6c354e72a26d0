"""Per segment: the median and the 10-90% band of the trajectory position (or of a metric) over periods."""
from __future__ import annotations

from .collect import metric_tables, period_label, unit_of
from .source import Opened

BAND = (0.1, 0.5, 0.9)


def trajectories(opened: Opened) -> dict | None:
    unit = unit_of(opened)
    if unit is None or f"dim_{unit}" not in opened.tables:
        return None
    key = f"{unit}_id"
    dim = f"dim_{unit}"
    if "trajectory" in opened.tables and {key, "position"} <= set(opened.columns("trajectory")):
        table, column = "trajectory", "position"
    else:
        metrics = metric_tables(opened)
        if not metrics:
            return None
        column, table = next(iter(metrics.items()))
        if key not in opened.columns(table):
            return None
    rows = opened.conn.execute(
        f"select d.segment, t.date_key, quantile_cont(t.{column}, [{', '.join(map(str, BAND))}]), count(*) "
        f"from {opened.relation(table)} t join {opened.relation(dim)} d using ({key}) "
        f"where t.{column} is not null group by 1, 2 order by 1, 2").fetchall()
    segments: dict[str, dict] = {}
    for segment, date_key, (low, median, high), n in rows:
        line = segments.setdefault(segment, {"date_keys": [], "p10": [], "median": [], "p90": [], "n": []})
        line["date_keys"].append(int(date_key))
        line["p10"].append(low)
        line["median"].append(median)
        line["p90"].append(high)
        line["n"].append(int(n))
    if not segments:
        return None
    archetypes = {}
    if opened.spec is not None:
        archetypes = {s.name: s.archetype for s in opened.spec.segments}
    for name, line in segments.items():
        line["periods"] = [period_label(k) for k in line["date_keys"]]
        line["archetype"] = archetypes.get(name)
    return {"table": table, "column": column, "segments": segments, "status": "info"}
