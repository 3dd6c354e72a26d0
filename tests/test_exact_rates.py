"""Exact rates (events[].rate.exact): each period's rows number the draw's expected count, rounded, while the
cells keep the non-exact draw's mean and its ranks against the followed series."""
from __future__ import annotations

import duckdb
import numpy as np
import pytest
from scipy import stats

import dbt_plotsim
from dbt_plotsim import SpecError, cli, load_spec
from dbt_plotsim.engine import parts
from dbt_plotsim.engine.calendar import date_keys
from dbt_plotsim.engine.clock import last_period
from dbt_plotsim.engine.exact_cents import systematic
from dbt_plotsim.engine.fanout import followed_level
from dbt_plotsim.engine.plan import _build_cached, plan_for
from dbt_plotsim.engine.seasonality import seasonal_factor

from .conftest import assert_problem, generated, small_dict

MEAN_MOVED = 0.02  # relative change of the mean rows per active entity-period, exact against not
SPEARMAN_MOVED = 0.01  # change of Spearman's rho of cell counts against the followed series
RATIO_MOVED = 0.03  # change of rows over intensity within each intensity quintile


def _logins(exact: bool = True) -> dict:
    """Accounts whose logins follow engagement (600 accounts, 12 months, no noise: the fact rows are the
    values the rate reads)."""
    spec = small_dict()
    del spec["noise"]
    for segment, count in zip(spec["segments"], (250, 200, 150)):
        segment["count"] = count
    spec["events"] = [{"name": "login", "rate": {"mean": 3, "follows": "engagement", "exact": exact}}]
    return spec


def _seasonal(exact: bool = True) -> dict:
    """Visits following the trajectory with a strong month-of-year pattern; a second event in the same table."""
    spec = _logins(exact)
    spec["seed"] = 5
    spec["events"] = [{"name": "visit", "rate": {"mean": 2, "exact": exact}},
                      {"name": "call", "rate": {"mean": 0.5}}]
    spec["tables"] = {"trajectory": True, "events": [{"name": "evt_contact", "events": ["visit", "call"]}]}
    spec["seasonality"] = {"month_of_year": [0.5, 0.6, 0.9, 1.0, 1.2, 1.5, 1.6, 1.3, 1.0, 0.9, 0.7, 1.8],
                           "applies_to": ["visit"]}
    return spec


def _stores(exact: bool = True) -> dict:
    """Stores arriving over the first half, closing when revenue stays low; orders follow revenue; as_of in
    the middle of the second year."""
    return {
        "unit": "store",
        "window": {"start": "2023-01-01", "end": "2024-12-31", "grain": "month", "as_of": "2024-05-17"},
        "seed": 11,
        "metrics": [
            {"name": "footfall", "type": "measure", "distribution": "gamma", "range": [0, 20000],
             "params": {"shape": 8, "scale": 400}},
            {"name": "revenue", "type": "amount", "distribution": "lognormal", "range": [10, 500000], "mean": 9000},
        ],
        "segments": [{"name": "new", "count": 300, "archetype": "growth",
                      "arrivals": {"pattern": "uniform", "until": 0.5}},
                     {"name": "fading", "count": 200, "archetype": "churn"}],
        "correlations": [{"between": ["footfall", "revenue"], "r": 0.6}],
        "events": [{"name": "closed", "terminal": True, "when": {"metric": "revenue", "below": 2500, "for": 2}},
                   {"name": "order", "rate": {"mean": 4, "follows": "revenue", "exact": exact}}],
    }


def _built(spec: dict):
    loaded = load_spec(spec)
    return loaded, plan_for(loaded), dbt_plotsim.generate(loaded)


@pytest.fixture(scope="module")
def logins():
    return _built(_logins()), _built(_logins(False))


@pytest.fixture(scope="module")
def seasonal():
    return _built(_seasonal())


@pytest.fixture(scope="module")
def stores():
    return _built(_stores()), _built(_stores(False))


def _per_period(plan, table, event: str | None = None) -> np.ndarray:
    keys = date_keys(plan.starts)
    date = table["date_key"].to_numpy()
    if event is not None:
        date = date[np.asarray(table["event_type"].to_pylist()) == event]
    return np.array([(date == k).sum() for k in keys])


def _cells(plan, fact, column: str, events, entity: str, event: str):
    """Per active cell (the fact rows): the followed value, the rate's intensity before seasonality, the rows
    of the event and the period."""
    ids, date, x = fact[entity].to_numpy(), fact["date_key"].to_numpy(), fact[column].to_numpy()
    period = np.searchsorted(date_keys(plan.starts), date)
    rate = next(e.rate for e in plan.spec.events if e.name == event)
    level = followed_level(plan, rate.follows, plan.spec.segments[0].name)
    assert np.ndim(level) == 0  # no seasonality on the followed series: one level for every cell
    intensity = rate.mean * np.maximum(x, 0.0) / level
    e_ids, e_date = events[entity].to_numpy(), events["date_key"].to_numpy()
    if "event_type" in events.column_names:
        keep = np.asarray(events["event_type"].to_pylist()) == event
        e_ids, e_date = e_ids[keep], e_date[keep]
    key = ids * 10**9 + date
    order = np.argsort(key)
    at = np.minimum(np.searchsorted(key[order], e_ids * 10**9 + e_date), len(key) - 1)
    assert (key[order][at] == e_ids * 10**9 + e_date).all(), "an event row outside the fact's cells"
    counts = np.bincount(order[at], minlength=len(ids))
    return x, intensity, counts, period


def test_followed_rows_per_period_hold_the_expected_count(logins):
    (spec, plan, tables), _ = logins
    solved = plan.exact_rates.solved["events.login.rate"]
    assert (_per_period(plan, tables["evt_login"]) == solved.target).all()
    x, intensity, counts, period = _cells(plan, tables["fct_engagement"], "engagement", tables["evt_login"],
                                          "account_id", "login")
    expected = np.bincount(period, weights=intensity, minlength=plan.periods)  # recomputed from the fact rows
    assert (np.floor(expected + 0.5) == solved.target).all(), (expected, solved.target)
    ids = tables["evt_login"]["login_id"].to_numpy()
    assert (ids == np.arange(1, ids.size + 1)).all()  # dense, unique


def test_exact_moves_the_cells_only_a_little(logins):
    (spec, plan, tables), (_, _, loose) = logins
    assert tables["fct_engagement"].equals(loose["fct_engagement"])
    x, intensity, exact, _ = _cells(plan, tables["fct_engagement"], "engagement", tables["evt_login"],
                                    "account_id", "login")
    _, _, drawn, _ = _cells(plan, loose["fct_engagement"], "engagement", loose["evt_login"], "account_id", "login")
    assert abs(exact.mean() / drawn.mean() - 1) < MEAN_MOVED, (exact.mean(), drawn.mean())
    rho_exact, rho_drawn = stats.spearmanr(exact, x)[0], stats.spearmanr(drawn, x)[0]
    assert rho_drawn > 0.3 and abs(rho_exact - rho_drawn) < SPEARMAN_MOVED, (rho_exact, rho_drawn)
    quintile = np.searchsorted(np.quantile(intensity, [0.2, 0.4, 0.6, 0.8]), intensity)
    for q in range(5):  # proportional: no quintile of intensity gains or loses more than the others
        inside = quintile == q
        ratio = exact[inside].sum() / intensity[inside].sum()
        assert abs(ratio - drawn[inside].sum() / intensity[inside].sum()) < RATIO_MOVED, q


def test_seasonal_rows_hold_mean_times_active_times_multiplier(seasonal):
    spec, plan, tables = seasonal
    solved = plan.exact_rates.solved["events.visit.rate"]
    assert (_per_period(plan, tables["evt_contact"], "visit") == solved.target).all()
    trajectory = tables["trajectory"]
    x, intensity, _, period = _cells(plan, trajectory, "position", tables["evt_contact"], "account_id", "visit")
    season = seasonal_factor(plan, spec.segments[0].name, "visit")
    expected = np.bincount(period, weights=intensity * season[period], minlength=plan.periods)
    assert (np.floor(expected + 0.5) == solved.target).all()
    # the declared incidence: mean x active x multiplier x the trajectory's mean over its level that period
    active = np.bincount(period, minlength=plan.periods)
    relative = np.bincount(period, weights=x, minlength=plan.periods) / active / followed_level(plan, "trajectory", "")
    assert np.allclose(spec.events[0].rate.mean * active * season * relative, expected)
    calls = _per_period(plan, tables["evt_contact"], "call")
    assert calls.sum() > 0 and "events.call.rate" not in plan.exact_rates.solved


def test_arrivals_terminal_and_as_of(stores):
    (spec, plan, tables), (_, _, loose) = stores
    solved = plan.exact_rates.solved["events.order.rate"]
    last = last_period(plan)
    assert 0 < last < plan.periods - 1
    rows = _per_period(plan, tables["evt_order"])
    assert (rows[: last + 1] == solved.target[: last + 1]).all() and not rows[last + 1:].any()
    assert (rows[: last + 1] != _per_period(plan, loose["evt_order"])[: last + 1]).any()  # exact did something
    _, intensity, _, period = _cells(plan, tables["fct_revenue"], "revenue", tables["evt_order"], "store_id", "order")
    expected = np.bincount(period, weights=intensity, minlength=plan.periods)[: last + 1]
    assert (np.floor(expected + 0.5) == solved.target[: last + 1]).all()
    assert solved.active[0] < solved.active[last]  # stores arrive
    assert tables["evt_closed"].num_rows > 0


def test_transactions_hold_their_counts_with_lines_and_an_amount_total():
    spec = _logins()
    spec["events"] = []
    spec["transactions"] = [{"name": "invoice", "per_period": {"mean": 1.5, "follows": "mrr", "exact": True},
                             "amount": {"range": [20, 5000], "total": {"start": 900_000, "growth": 0.01}},
                             "lines": {"min": 1, "max": 3}}]
    spec, plan, tables = _built(spec)
    solved = plan.exact_rates.solved["transactions.invoice.per_period"]
    assert (_per_period(plan, tables["fct_invoice"]) == solved.target).all()
    assert (solved.target != solved.drawn).any()
    keys = date_keys(plan.starts)
    invoices = tables["fct_invoice"]
    cents = np.rint(np.asarray(invoices["amount"].to_pylist(), dtype=float) * 100)
    date = invoices["date_key"].to_numpy()
    totals = [cents[date == k].sum() for k in keys]
    assert totals == [round(900_000 * 1.01**p * 100) for p in range(plan.periods)]  # the total still holds
    lines = tables["fct_invoice_line"]
    by_owner = np.bincount(lines.column(1).to_numpy() - 1, minlength=invoices.num_rows,
                           weights=np.rint(np.asarray(lines["amount"].to_pylist(), dtype=float) * 100))
    assert (by_owner == cents).all()


def test_chunks_workers_and_parts_do_not_change_the_rows(monkeypatch):
    spec = _logins()
    spec["segments"][0]["count"] = 1300  # two blocks in the first segment
    reference = dbt_plotsim.generate(spec, chunk_entities=1024)
    other = dbt_plotsim.generate(spec, chunk_entities=4096, workers=2)
    for name, table in reference.items():
        assert table.equals(other[name]), name
    _build_cached.cache_clear()  # the solver must see the parts the blocks are cut into
    monkeypatch.setenv("PLOTSIM_CACHE", "off")  # and so must the plan: never one cached under the real budget
    monkeypatch.setattr(parts, "PART_BUDGET", 64 * 1024)
    try:
        loaded = load_spec(spec)
        plan = plan_for(loaded)
        solved = plan.exact_rates.solved["events.login.rate"]
        assert solved.units.size > 4  # split into parts
        split = dbt_plotsim.generate(loaded, chunk_entities=1024)
        assert (_per_period(plan, split["evt_login"]) == solved.target).all()
    finally:
        _build_cached.cache_clear()


def test_systematic_split_adds_up_and_respects_counts():
    rng = np.random.default_rng(1)
    weights = rng.random((40, 3))
    split = systematic(np.array([0, 5, 300]), weights, rng.random(3))
    assert (split.sum(axis=0) == [0, 5, 300]).all() and (split >= 0).all()
    assert (np.abs(split - np.array([0, 5, 300]) * weights / weights.sum(axis=0)) < 1).all()
    counts = rng.poisson(0.5, (40, 3))
    taken = systematic(np.array([1, 7, counts[:, 2].sum()]), counts, rng.random(3))
    assert (taken <= counts).all() and (taken.sum(axis=0) == [1, 7, counts[:, 2].sum()]).all()
    shares = sum(systematic(np.array([2]), weights[:, :1], np.array([u])) for u in (np.arange(400) + 0.5) / 400)
    assert np.allclose(shares[:, 0] / 400, 2 * weights[:, 0] / weights[:, 0].sum(), atol=0.01)  # unbiased


def test_exact_where_nothing_is_held_names_the_path():
    spec = small_dict()
    spec["events"] = [{"name": "churn", "when": {"metric": "engagement", "below": 0.2}, "exact": True}]
    assert_problem(spec, "events.churn.exact", "belongs under the event's rate")
    spec = small_dict()
    spec["children"] = [{"name": "user", "per_parent": {"min": 1, "max": 3},
                         "events": [{"name": "login", "rate": {"mean": 2, "exact": True}}]}]
    assert_problem(spec, "children.user.events.login.rate.exact", "sub-entity events are drawn")


def test_too_few_expected_rows_names_the_period():
    spec = _logins()
    spec["events"][0]["rate"]["mean"] = 0.001  # about 0.6 rows a month
    with pytest.raises(SpecError) as err:
        plan_for(load_spec(spec))
    problem = err.value.problems[0]
    assert problem.path == "events.login.rate.exact", problem
    assert "period 2024-" in problem.message and "raise mean to" in problem.message, problem.message


def test_verify_finds_a_deleted_event_row(tmp_path, capsys):
    spec = _logins()
    spec["window"]["as_of"] = "2024-08-10"
    db = generated(tmp_path, spec, "logins", "--scale", "0.5")
    assert cli.main(["verify", "--duckdb", str(db)]) == 0
    assert "checked rates: 8 period counts" in capsys.readouterr().out
    with duckdb.connect(str(db)) as conn:
        conn.execute("delete from evt_login where login_id = (select min(login_id) from evt_login)")
    assert cli.main(["verify", "--duckdb", str(db)]) == 1
    out = capsys.readouterr().out
    assert "rates: evt_login has" in out and "rows in period 20240101" in out, out
    assert "(events.login.rate)" in out, out
