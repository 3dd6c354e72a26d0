"""Missing values with a mechanism: on the rows that exist, the declared rate holds within 4 sigma of the
binomial, the point-biserial r between the null indicator and the driver's normal score within
STRENGTH_TOLERANCE, MNAR nulls sit at lower true values by the amount that r implies, and declared
correlations still hold on the observed cells (R_TOLERANCE, as in test_noise_models)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri
from scipy.stats import rankdata

from dbt_plotsim.engine.block import generate_block
from dbt_plotsim.engine.plan import plan_for
from dbt_plotsim.engine.rng import ENTITY_BLOCK, stream
from dbt_plotsim.spec.loading import load_spec

from .common import columns, generate, medium_spec, pooled_r

R_TOLERANCE = 0.02
# The driver's score is shared by an entity's periods (persistent latents, one position path, one attribute
# draw), so r is estimated from fewer independent cells than the 72,000 rows: sd about 0.004 to 0.01 (these
# cases over seeds 11, 12, 13 were at most 0.008 from the declared r); 0.02 is 2.5 times the worst seen.
STRENGTH_TOLERANCE = 0.02

METRICS = [{"name": "a", "type": "measure", "distribution": "normal", "range": [0, 100]},
           {"name": "b", "type": "amount", "range": [10, 5000]},
           {"name": "c", "type": "count", "range": [0, 50]}]
CHURN = [{"name": "churn", "when": {"metric": "a", "below": 25, "for": 2}, "terminal": True}]
SEASONS = {"month_of_year": [0.8, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8], "applies_to": ["b"]}
SIZE = [{"name": "size", "type": "number", "distribution": "lognormal", "range": [1, 1000], "median": 30}]

CASES = {  # name: (metric whose nulls have the mechanism, its missing block, extra spec keys)
    "mcar_block": ("b", {"rate": 0.15}, {}),
    "mar_metric_seasonal": ("b", {"rate": 0.2, "mechanism": "mar", "depends_on": "a", "strength": 0.35},
                            {"seasonality": SEASONS}),
    "mar_attribute": ("c", {"rate": 0.1, "mechanism": "mar", "depends_on": "size", "strength": -0.25},
                      {"attributes": SIZE}),
    "mnar_own_churn_noise": ("b", {"rate": 0.15, "mechanism": "mnar", "strength": -0.45},
                             {"events": CHURN, "noise": {"gaussian": 0.2, "outliers": 0.005, "missing": 0.02}}),
    "mnar_trajectory": ("c", {"rate": 0.12, "mechanism": "mnar", "depends_on": "trajectory"},  # default -0.3
                        {"noise": {"gaussian": 0.1, "family": "student_t"}}),
}


def _spec(case: str, seed: int = 11) -> dict:
    metric, missing, extra = CASES[case]
    metrics = [dict(m, noise={"missing": missing}) if m["name"] == metric else dict(m) for m in METRICS]
    return medium_spec(metrics, seed=seed, correlations=[{"between": ["a", "b"], "r": 0.5},
                                                         {"between": ["b", "c"], "r": -0.3}], **extra)


def normal_scores(x: np.ndarray) -> np.ndarray:
    """The normal quantile of each value's mid-rank (ties share their middle rank)."""
    return ndtri((rankdata(x) - 0.5) / len(x))


def cells(spec: dict):
    """Every active cell of the engine's blocks: true values, null indicators, positions, attribute draws."""
    plan = plan_for(load_spec(spec))
    count = len(plan.metric_names)
    values, nulls, positions, attributes = [[] for _ in range(count)], [[] for _ in range(count)], [], []
    for seg in plan.segments:
        for b in range(seg.blocks):
            block = generate_block(plan, seg, b)
            active = block.active
            for m in range(count):
                values[m].append(block.values[m][active])
                mask = block.missing[m]
                nulls[m].append(np.zeros(int(active.sum()), bool) if mask is None else mask[active])
            positions.append(block.positions[active])
            draws = stream(plan.spec.seed, "attribute", "size", seg.name, b).standard_normal(ENTITY_BLOCK)
            attributes.append(np.broadcast_to(draws[: len(block.ids), None], active.shape)[active])
    out = {name: np.concatenate(v) for name, v in zip(plan.metric_names, values)}
    out["position"], out["size"] = np.concatenate(positions), np.concatenate(attributes)
    return plan, out, {name: np.concatenate(v) for name, v in zip(plan.metric_names, nulls)}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    spec = _spec(request.param)
    return (request.param, *cells(spec))


def _driver(case_name: str, plan) -> str:
    metric, missing, _ = CASES[case_name]
    return {"mcar": None, "mar": missing.get("depends_on"), "mnar": missing.get("depends_on", metric)}[
        missing.get("mechanism", "mcar")]


def test_declared_rate_holds_on_the_rows_that_exist(case):
    name, plan, values, nulls = case
    metric, missing, _ = CASES[name]
    null = nulls[metric]
    n, p = null.size, missing["rate"]
    assert abs(null.mean() - p) <= 4 * np.sqrt(p * (1 - p) / n), (name, null.mean(), n)  # 4 sigma of the binomial


def test_declared_strength_holds(case):
    name, plan, values, nulls = case
    metric, missing, _ = CASES[name]
    driver = _driver(name, plan)
    q = normal_scores(values["position" if driver == "trajectory" else driver or metric])
    r = np.corrcoef(nulls[metric], q)[0, 1]
    declared = 0.0 if driver is None else missing.get("strength", -0.3)
    assert r == pytest.approx(declared, abs=STRENGTH_TOLERANCE), (name, r)
    relation = {row["kind"]: row for row in _relations(plan) if row["metric"] == metric}
    assert relation["missing_rate"]["value"] == missing["rate"]
    if driver is not None:  # the pilot's delivered figure is within the same tolerance of what the output gives
        assert relation["missing_strength"]["delivered"] == pytest.approx(r, abs=STRENGTH_TOLERANCE)
        assert relation["missing_strength"]["other"] == driver


def _relations(plan):
    from dbt_plotsim.engine.fitted import relations

    return relations(plan)


def test_mnar_nulls_sit_where_the_strength_says(case):
    """A point-biserial r means the null cells' mean score is below the observed cells' by
    r sd(q) / sqrt(p (1 - p)); checked within the strength tolerance scaled the same way."""
    name, plan, values, nulls = case
    metric, missing, _ = CASES[name]
    if missing.get("mechanism") != "mnar":
        pytest.skip("mnar only")
    driver = _driver(name, plan)
    q = normal_scores(values["position" if driver == "trajectory" else metric])
    null = nulls[metric]
    p = null.mean()
    gap = q[null].mean() - q[~null].mean()
    scale = q.std() / np.sqrt(p * (1 - p))
    assert gap < 0
    assert gap == pytest.approx(missing.get("strength", -0.3) * scale, abs=STRENGTH_TOLERANCE * scale), (name, gap)
    raw = values["position" if driver == "trajectory" else metric]
    assert np.median(raw[null]) < np.median(raw[~null])  # lower true values (positions) go missing


def test_declared_correlations_hold_on_the_observed_cells(case):
    name, plan, values, nulls = case
    for (x, y), r in ((("a", "b"), 0.5), (("b", "c"), -0.3)):
        observed = ~(nulls[x] | nulls[y])
        assert pooled_r(values[x][observed], values[y][observed]) == pytest.approx(r, abs=R_TOLERANCE), (name, x, y)


def test_a_user_measures_mar_strength_on_the_output():
    """On the generated tables (no engine access): nulls of b against the normal score of a's observed value."""
    spec = _spec("mar_metric_seasonal")
    cols = columns(generate(spec))
    null = np.isnan(cols["b"])
    assert null.mean() == pytest.approx(0.2, abs=4 * np.sqrt(0.2 * 0.8 / null.size))
    assert np.corrcoef(null, normal_scores(cols["a"]))[0, 1] == pytest.approx(0.35, abs=STRENGTH_TOLERANCE)
