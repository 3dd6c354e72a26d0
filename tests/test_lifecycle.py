"""Arrival cohorts and events: no rows before arrival, none after a terminal event, rates follow metrics."""
import copy

import numpy as np
import pytest

import dbt_plotsim
from dbt_plotsim.engine.arrivals import arrival_fractions
from dbt_plotsim.engine.events import first_sustained
from dbt_plotsim.spec.lifecycle import Arrivals

from .conftest import assert_problem, registered

BASE = {
    "unit": "customer",
    "window": {"start": "2024-01-01", "end": "2025-12-31", "grain": "month"},
    "seed": 5,
    "arrivals": {"pattern": "uniform", "until": 0.7},
    "metrics": [{"name": "engagement", "type": "score"}, {"name": "spend", "type": "amount", "range": [5, 500]}],
    "segments": [
        {"name": "fans", "count": 1500, "archetype": "growth"},
        {"name": "leavers", "count": 1200, "archetype": "churn", "arrivals": {"pattern": "start"}},
    ],
    "events": [
        {"name": "login", "rate": {"mean": 6, "follows": "engagement"}},
        {"name": "churn", "when": {"metric": "engagement", "below": 0.3, "for": 2}, "terminal": True},
    ],
}


@pytest.fixture(scope="module")
def conn():
    tables = dbt_plotsim.generate(BASE)
    connection = registered(tables)
    yield connection
    connection.close()


def _one(conn, sql):
    return conn.execute(sql).fetchall()[0]


@pytest.mark.parametrize("table", ["fct_engagement", "fct_spend", "trajectory", "evt_login"])
def test_no_rows_before_arrival_or_after_the_end(conn, table):
    (bad,) = _one(conn, f"""
        select count(*) from {table} f join dim_customer d using (customer_id)
        where f.date_key < d.first_date_key or f.date_key > d.ended_date_key""")
    assert bad == 0


def test_every_entity_has_rows_from_its_arrival(conn):
    (bad,) = _one(conn, """
        select count(*) from dim_customer d
        where first_date_key <> (select min(date_key) from fct_spend f where f.customer_id = d.customer_id)""")
    assert bad == 0


def test_uniform_arrivals_form_cohorts(conn):
    cohorts = conn.execute("""
        select first_date_key, count(*) from dim_customer where segment = 'fans' group by all order by 1""").fetchall()
    assert len(cohorts) == 17  # uniform over the first 70% of 24 months: months 0..16
    sizes = np.array([c[1] for c in cohorts])
    assert sizes.min() > 0.5 * sizes.mean()  # tolerance: no month under half the average cohort
    assert _one(conn, "select count(distinct first_date_key) from dim_customer where segment = 'leavers'")[0] == 1


def test_trajectory_starts_at_arrival(conn):
    (late_first,) = _one(conn, """
        select avg(t.position) from trajectory t join dim_customer d using (customer_id)
        where d.segment = 'fans' and t.date_key = d.first_date_key and d.first_date_key >= 20250101""")
    (early_last,) = _one(conn, """
        select avg(t.position) from trajectory t join dim_customer d using (customer_id)
        where d.segment = 'fans' and t.date_key = 20251201 and d.first_date_key = 20240101 and d.ended_date_key is null""")
    assert late_first < 0.3 < 0.7 < early_last  # growth starts low at arrival, whenever that is


def test_terminal_event_fires_when_condition_holds(conn):
    churned, leavers = _one(conn, "select count(ended_date_key), count(*) from dim_customer where segment = 'leavers'")
    assert churned > 0.8 * leavers  # the churn archetype decays to 0.05: most stay below 0.3 for 2 months
    (mismatch,) = _one(conn, """
        select count(*) from evt_churn e join dim_customer d using (customer_id) where e.date_key <> d.ended_date_key""")
    assert mismatch == 0
    (low,) = _one(conn, """
        select avg(f.engagement) from fct_engagement f join evt_churn e using (customer_id, date_key)""")
    assert low < 0.3


def test_event_rate_follows_metric(conn):
    (r,) = _one(conn, """
        select corr(n, e) from (
            select f.customer_id, f.date_key, count(l.login_id) as n, any_value(f.engagement) as e
            from fct_engagement f left join evt_login l using (customer_id, date_key) group by all)""")
    assert r > 0.5
    (per_cell,) = _one(conn, "select (select count(*) from evt_login) / (select count(*) from fct_engagement)")
    assert per_cell == pytest.approx(6, rel=0.1)  # declared mean 6 per entity-period


def test_event_times_inside_period_and_ids_sequential(conn):
    (outside,) = _one(conn, """
        select count(*) from evt_login l join dim_date d using (date_key)
        where cast(l.occurred_at as date) < d.period_start or cast(l.occurred_at as date) > d.period_end""")
    assert outside == 0
    lo, hi, n = _one(conn, "select min(login_id), max(login_id), count(*) from evt_login")
    assert (lo, hi) == (1, n)


def test_chunking_changes_nothing():
    a = dbt_plotsim.generate(BASE, chunk_entities=1024)
    b = dbt_plotsim.generate(BASE, chunk_entities=100_000, workers=2)
    for name in a:
        assert a[name].equals(b[name]), name


def test_first_sustained():
    condition = np.array([[0, 1, 1, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0, 1], [0, 0, 0, 0, 0, 1, 1]], dtype=bool)
    assert first_sustained(condition, 2).tolist() == [2, -1, 6]
    assert first_sustained(condition, 3).tolist() == [6, -1, -1]


@pytest.mark.parametrize("pattern", ["uniform", "ramp_up", "ramp_down"])
def test_arrival_patterns_stay_in_bounds(pattern):
    fractions = arrival_fractions(Arrivals(pattern=pattern, **{"from": 0.1}, until=0.6), np.linspace(0, 1, 101))
    assert fractions.min() >= 0.1 and fractions.max() <= 0.6
    assert np.all(np.diff(fractions) >= 0)


def test_ramp_up_puts_more_arrivals_late():
    late = arrival_fractions(Arrivals(pattern="ramp_up"), np.random.default_rng(0).random(10000)) > 0.4
    assert late.mean() > 0.6


@pytest.mark.parametrize("edit,path,fragment", [
    (lambda s: s["events"][1]["when"].update(below=1.5), "events.churn.when.below", "outside the values"),
    (lambda s: s["events"][1]["when"].update(metric="engagment"), "events.churn.when.metric", "did you mean 'engagement'"),
    (lambda s: s["events"][0]["rate"].update(follows="spnd"), "events.login.rate.follows", "unknown metric"),
    (lambda s: s["events"][0].update(when={"below": 0.2}), "events.login", "one of them"),
    (lambda s: s["events"].append({"name": "login", "rate": {"mean": 1}}), "events.login", "more than once"),
    (lambda s: s["events"][0].update(terminal=True), "events", "only one event can be terminal"),
    (lambda s: s.update(arrivals={"pattern": "uniform", "from": 0.5, "until": 0.2}), "arrivals.until", "after `from`"),
    (lambda s: s.update(arrivals={"pattern": "steps", "steps": [{"at": 0, "share": 0.5}]}), "arrivals.steps", "add up to 1"),
])
def test_validation(edit, path, fragment):
    spec = copy.deepcopy(BASE)
    edit(spec)
    assert_problem(spec, path, fragment)


def test_threshold_event_listed_before_the_terminal_one_stops_at_the_end():
    spec = copy.deepcopy(BASE)
    spec["events"].insert(0, {"name": "slump", "when": {"metric": "spend", "below": 40, "for": 2}})
    tables = dbt_plotsim.generate(spec)
    with registered(tables) as conn:
        late = conn.execute("""select count(*) from evt_slump s join dim_customer d using (customer_id)
                               where d.ended_date_key is not null and s.date_key > d.ended_date_key""").fetchall()
        fired = conn.execute("select count(*) from evt_slump").fetchall()
    assert late == [(0,)] and fired[0][0] > 0
    assert tables["evt_churn"].equals(dbt_plotsim.generate(BASE)["evt_churn"])  # the order changes nothing else
