"""The experiments' known answers recomputed from the rows (verify.py): group sizes from
dim_<unit>_experiment, the difference-in-differences from the metric's fact table."""
from __future__ import annotations

import math

from .engine.experiment_tables import TRUTH_TABLE, difference_in_differences
from .writers.duckdb import quote

RELATIVE = 1e-9  # means of doubles added in another order

MEANS = """
select e.variant, f.date_key >= {start} as post, avg(f.{metric}) as mean
from {fact} f join {assigned} e on e.{key} = f.{key}
where e.experiment = ? and f.{metric} is not null group by all
"""


def fact_of(spec, metric: str) -> str:
    declared = spec.tables.facts
    return next((f.name for f in declared if metric in f.metrics), None) if declared else f"fct_{metric}"


def check_experiments(conn, schema: str, spec, tables: set[str], found) -> None:
    """Every experiment whose fact table is clean (no declared defects): counts and delivered lift."""
    if spec is None or TRUTH_TABLE not in tables:
        return
    s = quote(schema)
    assigned = f"dim_{spec.unit}_experiment"
    if assigned not in tables:
        found.failures.append(f"experiments: {TRUTH_TABLE} without {assigned}")
        return
    rows = conn.execute(f"select experiment, metric, lift_kind, start_date_key, treated_entities, control_entities, "
                        f"delivered_lift from {s}.{TRUTH_TABLE} order by experiment").fetchall()
    compared = 0
    for name, metric, kind, start, treated, control, delivered in rows:
        counts = dict(conn.execute(f"select variant, count(*) from {s}.{quote(assigned)} where experiment = ? "
                                   "group by 1", [name]).fetchall())
        if (counts.get("treatment", 0), counts.get("control", 0)) != (treated, control):
            found.failures.append(f"experiments: {name}: {treated:,} treated and {control:,} control in the truth, "
                                  f"{counts.get('treatment', 0):,} and {counts.get('control', 0):,} assigned")
        fact = fact_of(spec, metric)
        if fact not in tables:  # declared defects: the truth is of the clean rows
            continue
        means = {(variant, post): mean for variant, post, mean in conn.execute(MEANS.format(
            start=int(start), metric=quote(metric), fact=f"{s}.{quote(fact)}", assigned=f"{s}.{quote(assigned)}",
            key=quote(f"{spec.unit}_id")), [name]).fetchall()}
        data = difference_in_differences(kind, means.get(("treatment", False)), means.get(("treatment", True)),
                                         means.get(("control", False)), means.get(("control", True)))
        compared += 1
        if (data is None) != (delivered is None) or (data is not None and not math.isclose(
                data, delivered, rel_tol=RELATIVE, abs_tol=1e-12)):
            found.failures.append(f"experiments: {name}: delivered lift {delivered} in the truth, {data} in the data")
    found.checked.append(f"experiments: {len(rows)} experiments, {compared} lifts recomputed")
