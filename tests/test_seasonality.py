"""Seasonality: month multipliers on metrics and on the rates of events, sub-entity events and transactions,
scaled per segment."""
import copy

import pytest

import dbt_plotsim

from .conftest import assert_problem, registered

SPEC = {
    "unit": "store",
    "window": {"start": "2023-01-01", "end": "2024-12-31", "grain": "month"},
    "metrics": [{"name": "sales", "type": "amount", "range": [100, 100000]}, {"name": "mood", "type": "score"}],
    "segments": [{"name": "retail", "count": 600, "archetype": "flat"}, {"name": "b2b", "count": 600, "archetype": "flat"}],
    "events": [{"name": "visit", "rate": {"mean": 20}}],
    "children": [{"name": "clerk", "per_parent": {"min": 4, "max": 4},
                  "events": [{"name": "shift", "rate": {"mean": 5}}]}],
    "transactions": [{"name": "order", "per_period": {"mean": 20}, "amount": {"range": [1, 500]}}],
    "seasonality": {
        "month_of_year": [0.8, 0.8, 0.9, 1, 1, 1, 1, 1, 1, 1.1, 1.3, 1.6],
        "applies_to": ["sales", "visit", "clerk_shift", "order"],
        "sensitivity": {"b2b": 0},
    },
}


@pytest.fixture(scope="module")
def conn():
    connection = registered(dbt_plotsim.generate(SPEC))
    yield connection


def _ratio(conn, sql):
    rows = dict(conn.execute(sql).fetchall())
    return rows[12] / rows[1]


def test_metric_follows_month_multipliers(conn):
    retail = _ratio(conn, "select month, avg(sales) from fct_sales join dim_store using (store_id) "
                          "join dim_date using (date_key) where segment = 'retail' group by all")
    b2b = _ratio(conn, "select month, avg(sales) from fct_sales join dim_store using (store_id) "
                       "join dim_date using (date_key) where segment = 'b2b' group by all")
    assert retail == pytest.approx(1.6 / 0.8, rel=0.08)  # tolerance 8%: sampling of 1,200 store-months
    assert b2b == pytest.approx(1.0, rel=0.08)  # sensitivity 0: no seasonality


def test_event_rate_follows_month_multipliers(conn):
    retail = _ratio(conn, "select month, count(*) from evt_visit join dim_store using (store_id) "
                          "join dim_date using (date_key) where segment = 'retail' group by all")
    assert retail == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("table", ["evt_clerk_shift", "fct_order"])
def test_sub_entity_event_and_transaction_rates_follow_month_multipliers(conn, table):
    by_segment = {}
    for segment in ("retail", "b2b"):  # both tables carry store_id
        by_segment[segment] = _ratio(conn, f"select month, count(*) from {table} join dim_store using (store_id) "
                                           f"join dim_date using (date_key) where segment = '{segment}' group by all")
    # 1,200 entities x 20 expected rows a month: December/January counts within 5% of the declared ratio
    assert by_segment["retail"] == pytest.approx(2.0, rel=0.05)
    assert by_segment["b2b"] == pytest.approx(1.0, rel=0.05)


def test_default_applies_to_every_rate_but_no_metric():
    spec = copy.deepcopy(SPEC)
    del spec["seasonality"]["applies_to"]
    conn = registered(dbt_plotsim.generate(spec))
    for table in ("evt_visit", "evt_clerk_shift", "fct_order"):
        ratio = _ratio(conn, f"select month, count(*) from {table} join dim_date using (date_key) "
                             "where year = 2023 group by all")
        assert ratio == pytest.approx(1 + 0.5 * (1.6 / 0.8 - 1), rel=0.06), table  # half the stores: sensitivity 0
    plain = copy.deepcopy(SPEC)
    del plain["seasonality"]
    assert dbt_plotsim.generate(plain)["fct_sales"].equals(dbt_plotsim.generate(spec)["fct_sales"])


def test_metrics_not_listed_are_untouched():
    plain = copy.deepcopy(SPEC)
    del plain["seasonality"]
    a, b = dbt_plotsim.generate(SPEC), dbt_plotsim.generate(plain)
    assert a["fct_mood"].equals(b["fct_mood"])
    assert not a["fct_sales"].equals(b["fct_sales"])


@pytest.mark.parametrize("edit,path,fragment", [
    (lambda s: s["seasonality"].update(month_of_year=[1.0] * 11), "seasonality.month_of_year", "needs 12"),
    (lambda s: s["seasonality"].update(day_of_week=[1.0] * 7), "seasonality.day_of_week", "grain day"),
    (lambda s: s["seasonality"].update(applies_to=["mood"]), "seasonality.applies_to", "is a score"),
    (lambda s: s["seasonality"].update(applies_to=["sails"]), "seasonality.applies_to", "did you mean 'sales'"),
    (lambda s: s["seasonality"].update(applies_to=["clerk_shfit"]), "seasonality.applies_to", "'clerk_shift'"),
    (lambda s: s["seasonality"].update(sensitivity={"retial": 1}), "seasonality.sensitivity.retial", "unknown segment"),
    (lambda s: s["seasonality"].update(month_of_year=[0.0] + [1.0] * 11), "seasonality.month_of_year", "above 0"),
])
def test_validation(edit, path, fragment):
    spec = copy.deepcopy(SPEC)
    edit(spec)
    assert_problem(spec, path, fragment)
