"""Missing values with a mechanism (spec/missing.py, engine/missingness.py): the bound on the strength, the
intercept and slope solve, the same bytes for mcar in both forms and whatever the chunking, other metrics
untouched, descriptions, _plotsim_relations rows, and every mistake with its YAML path."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.special import ndtri
from scipy.stats import norm

import dbt_plotsim
from dbt_plotsim.engine.fitted import relations
from dbt_plotsim.engine.missingness import point_biserial, solve, tabulate
from dbt_plotsim.engine.plan import plan_for
from dbt_plotsim.spec.loading import load_spec
from dbt_plotsim.spec.missing import reach

from .conftest import assert_problem, small_dict, truth_of_other_tables


def spec(missing=None, metric: str = "tickets", **extra) -> dict:
    """small_dict with 2,500 entities (three blocks of a segment) and a fourth metric nobody correlates."""
    data = copy.deepcopy(small_dict())
    data["segments"] = [dict(s, count=c) for s, c in zip(data["segments"], (1100, 800, 600))]
    data["metrics"].append({"name": "nps", "type": "measure", "range": [-100, 100]})
    data["attributes"] = [{"name": "size", "type": "number", "range": [1, 500]},
                          {"name": "tier", "type": "category", "weights": {"a": 1, "b": 1}},
                          {"name": "score", "type": "number", "range": [0, 1], "follows": "trajectory"}]
    if missing is not None:
        next(m for m in data["metrics"] if m["name"] == metric)["noise"] = {"missing": missing}
    data.update(extra)
    return data


# ------------------------------------------------------------------------------------------- the maths

@pytest.mark.parametrize("rate", [0.01, 0.1, 0.3, 0.5, 0.9])
def test_reach_is_the_largest_point_biserial_r(rate):
    q = norm.ppf((np.arange(200_000) + 0.5) / 200_000)  # an exact normal sample
    null = q < norm.ppf(rate)  # the deterministic threshold: the largest |r| there is
    assert point_biserial(null, q, np.ones_like(q)) == pytest.approx(-reach(rate), abs=1e-3)
    assert reach(0.5) == pytest.approx(np.sqrt(2 / np.pi), abs=1e-12)


@pytest.mark.parametrize("rate, strength", [(0.15, -0.4), (0.3, 0.5), (0.05, -0.2), (0.2, 0.0)])
def test_solve_gives_the_probit_intercept_and_slope_on_normal_scores(rate, strength):
    q = norm.ppf((np.arange(100_000) + 0.5) / 100_000)
    intercept, slope, reached = solve(q, np.ones_like(q), rate, strength)
    # for q standard normal: c = z_rate and s = -strength / reach(rate), exactly (histogram bins: 1e-3)
    assert intercept == pytest.approx(ndtri(rate), abs=2e-3)
    assert slope == pytest.approx(-strength / reach(rate), abs=2e-3)
    assert reached == pytest.approx(reach(rate), abs=2e-3)


def test_ties_in_the_driver_lower_what_can_be_reached():
    q = np.repeat([-1.0, 1.0], 50_000)  # a driver with two values: no threshold splits 10% off
    *_, reached = solve(q, np.ones_like(q), 0.1, -0.3)
    assert reached < reach(0.1) - 0.2


def test_tabulate_gives_ties_their_middle_rank():
    knots, levels = tabulate(np.array([3.0, 1.0, 1.0, 2.0]), np.ones(4))
    assert knots.tolist() == [1.0, 2.0, 3.0] and levels.tolist() == [0.25, 0.625, 0.875]


# ----------------------------------------------------------------------------------------- the bytes

@pytest.fixture(scope="module")
def mcar_number():
    return dbt_plotsim.generate(spec(0.1))


def test_mcar_as_a_block_is_the_number_byte_for_byte(mcar_number):
    block = dbt_plotsim.generate(spec({"rate": 0.1, "mechanism": "mcar"}))
    assert all(mcar_number[name].equals(block[name]) for name in mcar_number)


def test_a_mechanism_on_one_metric_changes_no_other_metric(mcar_number):
    mnar = dbt_plotsim.generate(spec({"rate": 0.1, "mechanism": "mnar", "strength": -0.4}))
    fact = "fct_tickets"
    for column in mcar_number[fact].column_names:
        same = mcar_number[fact].column(column).equals(mnar[fact].column(column))
        assert same == (column != "tickets"), column
    assert all(mcar_number[name].equals(mnar[name]) for name in mcar_number
               if name != fact and not name.startswith("_plotsim_truth"))
    assert truth_of_other_tables(mcar_number, {fact}) == truth_of_other_tables(mnar, {fact})


@pytest.mark.parametrize("missing", [
    {"rate": 0.2, "mechanism": "mar", "depends_on": "engagement", "strength": 0.3},
    {"rate": 0.2, "mechanism": "mar", "depends_on": "size"},
    {"rate": 0.1, "mechanism": "mnar", "depends_on": "trajectory", "strength": -0.5},
], ids=["mar_metric", "mar_attribute", "mnar_trajectory"])
def test_the_same_bytes_whatever_the_chunking_and_workers(missing):
    data = spec(missing)
    a = dbt_plotsim.generate(data)
    b = dbt_plotsim.generate(data, chunk_entities=1024)
    c = dbt_plotsim.generate(data, chunk_entities=2048, workers=2)
    assert all(a[name].equals(b[name]) and a[name].equals(c[name]) for name in a)
    assert a["fct_tickets"].column("tickets").null_count > 0


def test_description_and_relations_record_the_mechanism():
    data = spec({"rate": 0.2, "mechanism": "mar", "depends_on": "engagement", "strength": 0.3})
    tables = dbt_plotsim.generate(data)
    field = tables["fct_tickets"].schema.field("tickets")
    assert "20.0% nulls, mar: more likely at high engagement (r +0.3" in field.metadata[b"description"].decode()
    # relations() feeds _plotsim_relations (materialize.py) and the Parquet manifest
    rows = sorted((r["kind"], r["metric"], r["other"], r["scope"], r["value"], r["declared"], r["delivered"])
                  for r in relations(plan_for(load_spec(data))) if r["kind"].startswith("missing"))
    rows.sort(key=lambda r: (r[1], r[0]))
    assert [r[:6] for r in rows] == [("missing_rate", "engagement", None, "mcar", 0.02, 0.02),
                                     ("missing_rate", "mrr", None, "mcar", 0.02, 0.02),
                                     ("missing_rate", "nps", None, "mcar", 0.02, 0.02),
                                     ("missing_rate", "tickets", "engagement", "mar", 0.2, 0.2),
                                     ("missing_strength", "tickets", "engagement", "mar", 0.3, 0.3)]
    assert rows[3][6] == pytest.approx(0.2, abs=0.01) and rows[4][6] == pytest.approx(0.3, abs=0.02)  # the pilot


# ---------------------------------------------------------------------------------------- the mistakes

PATH = "metrics.tickets.noise.missing"


@pytest.mark.parametrize("missing, path, fragment", [
    ({"rate": 0.1, "mechanism": "mra"}, f"{PATH}.mechanism", "did you mean 'mar'?"),
    ({"rate": 0.1, "mechanism": "mar"}, f"{PATH}.depends_on", "mar needs `depends_on`"),
    ({"rate": 0.1, "mechanism": "mar", "depends_on": "engagment"}, f"{PATH}.depends_on",
     "unknown metric or number attribute 'engagment'"),
    ({"rate": 0.1, "mechanism": "mar", "depends_on": "engagment"}, f"{PATH}.depends_on", "did you mean 'engagement'?"),
    ({"rate": 0.1, "mechanism": "mar", "depends_on": "tickets"}, f"{PATH}.depends_on", "set `mechanism: mnar`"),
    ({"rate": 0.1, "mechanism": "mar", "depends_on": "trajectory"}, f"{PATH}.depends_on", "not observed"),
    ({"rate": 0.1, "mechanism": "mar", "depends_on": "tier"}, f"{PATH}.depends_on", "'tier' is a category attribute"),
    ({"rate": 0.1, "mechanism": "mar", "depends_on": "score"}, f"{PATH}.depends_on", "follows trajectory"),
    ({"rate": 0.1, "mechanism": "mnar", "depends_on": "mrr"}, f"{PATH}.depends_on", "set `mechanism: mar`"),
    ({"rate": 0.1, "mechanism": "mnar", "depends_on": "trajectry"}, f"{PATH}.depends_on", "did you mean 'trajectory'?"),
    ({"rate": 0.1, "mechanism": "mnar", "strength": -0.7}, f"{PATH}.strength",
     "-0.7 cannot hold at rate 0.1: a null indicator of that rate correlates at most 0.585"),
    ({"rate": 0.1, "mechanism": "mnar", "strength": -0.7}, f"{PATH}.strength", "the nearest value that holds is -0.584"),
    ({"rate": 0.0, "mechanism": "mnar", "strength": -0.2}, f"{PATH}.rate", "no strength to hold"),
    ({"rate": 0.1, "strength": -0.2}, f"{PATH}.strength", "mcar nulls depend on nothing"),
    ({"rate": 0.1, "mechanism": "mcar", "depends_on": "mrr"}, f"{PATH}.depends_on", "mcar nulls depend on nothing"),
    ({"rate": 0.1, "mechanism": "mnar", "stregth": -0.2}, f"{PATH}.stregth", "did you mean 'strength'?"),
    ({"rate": 1.5}, f"{PATH}.rate", "less than or equal to 0.9"),
    ({"mechanism": "mnar"}, f"{PATH}.rate", "is required"),
])
def test_mistakes_name_their_yaml_path(missing, path, fragment):
    assert_problem(spec(missing), path, fragment)


def test_a_spec_level_mar_block_is_reported_once_for_the_metric_it_cannot_serve():
    data = spec(noise={"missing": {"rate": 0.1, "mechanism": "mar", "depends_on": "mrr"}})
    assert_problem(data, "noise.missing.depends_on", "for metric mrr: give it its own noise.missing")


def test_a_strength_the_drivers_ties_cannot_reach_is_refused_with_the_nearest():
    """Copies of one flat curve (variation 0) all sit at one position: no threshold on it sorts rows."""
    data = spec({"rate": 0.3, "mechanism": "mnar", "depends_on": "trajectory", "strength": -0.6},
                segments=[{"name": "steady", "count": 300, "archetype": "flat", "variation": 0}])
    assert_problem(data, f"{PATH}.strength", "reach at most 0.000; the nearest value that holds is 0")
