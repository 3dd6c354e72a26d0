"""Declared totals (metrics[].total, transactions[].amount.total): the rows that exist add up to them exactly,
to the cent, while each period keeps its shape, ranks, correlations and lags."""
from __future__ import annotations

import hashlib
from decimal import Decimal

import duckdb
import numpy as np
import pytest
from scipy import stats

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec, templates
from dbt_plotsim.engine.calendar import date_keys
from dbt_plotsim.engine.exact_cents import apportion, distribute, floors
from dbt_plotsim.engine.plan import plan_for
from dbt_plotsim.engine.totals_chunks import resplit

from .conftest import assert_problem, example_dict

KS_LIMIT = 0.03  # the adjusted values against the declared family, each period's scale applied
R_TOLERANCE = 0.05  # pooled r on the output against the declared r


def _example(total=None) -> dict:
    spec = example_dict()
    if total is not None:
        spec["metrics"][1]["total"] = total
    return spec


EXAMPLE_TOTAL = {"start": 2_000_000, "growth": 0.02}  # near the example's own growth of mrr


def _stores(total: bool = True) -> dict:
    """Stores arriving over the first half, closing when revenue stays low; revenue follows a curve."""
    return {
        "unit": "store",
        "window": {"start": "2023-01-01", "end": "2024-12-31", "grain": "month"},
        "seed": 11,
        "metrics": [
            {"name": "footfall", "type": "measure", "distribution": "gamma", "range": [0, 20000],
             "params": {"shape": 8, "scale": 400}},
            {"name": "revenue", "type": "amount", "distribution": "lognormal", "range": [10, 500000], "mean": 9000,
             **({"total": {"curve": [[0.0, 5_000_000], [0.5, 6_500_000], [1.0, 9_000_000]]}} if total else {})},
            {"name": "margin", "type": "measure", "distribution": "normal", "mean": 12, "params": {"sd": 6},
             **({"total": [6000 + 180 * p for p in range(24)]} if total else {})},
        ],
        "segments": [{"name": "new", "count": 500, "archetype": "growth", "arrivals": {"pattern": "uniform", "until": 0.5}},
                     {"name": "fading", "count": 400, "archetype": "churn"}],
        "correlations": [{"between": ["footfall", "revenue"], "r": 0.6}],
        "lags": [{"metric": "revenue", "follows": "footfall", "periods": 2}],
        "events": [{"name": "closed", "terminal": True, "when": {"metric": "revenue", "below": 2500, "for": 2}}],
        "noise": {"gaussian": 0.05, "missing": 0.03},
    }


def _invoices() -> dict:
    spec = templates.load("saas")
    periods = 36
    # at scale 1; the first month has a single invoice, which can hold at most 50,000.00 x 0.1
    spec["transactions"][0]["amount"]["total"] = [5_000] + [250_000 + 60_000 * p for p in range(1, periods)]
    return spec


def _built(spec: dict, scale: float = 1.0):
    loaded = load_spec(spec, scale=scale)
    return loaded, plan_for(loaded), dbt_plotsim.generate(loaded)


def _with_and_without(spec: dict):
    """The output with its declared totals, and the same plan's rows without them applied (the values the
    totals adjust: calibration already reckons with the totals, so a spec without them is another plan)."""
    loaded, plan, tables = _built(spec)
    assert plan_for(loaded) is plan  # generate reuses the plan cached for this spec
    kept, plan.totals = plan.totals, None
    try:
        plain = dbt_plotsim.generate(loaded)
    finally:
        plan.totals = kept
    return (loaded, plan, tables), (loaded, plan, plain)


@pytest.fixture(scope="module")
def example():
    return _with_and_without(_example(EXAMPLE_TOTAL))


@pytest.fixture(scope="module")
def stores():
    return _with_and_without(_stores())


@pytest.fixture(scope="module")
def invoices():
    return _built(_invoices(), scale=0.1)


def _column(tables, table: str, column: str) -> np.ndarray:
    return tables[table].column(column).to_numpy(zero_copy_only=False).astype(float)


def _period_sums(tables, table: str, column: str) -> list[Decimal]:
    conn = duckdb.connect()
    conn.register("t", tables[table])
    kind = "" if column == "amount" else "::decimal(18, 2)"  # exact: whole cents as a decimal
    rows = conn.sql(f"select date_key, sum({column}{kind}) from t where {column} is not null group by 1 order by 1")
    return [Decimal(v) for _, v in rows.fetchall()]


def _declared(plan, path: str) -> list[Decimal]:
    solved = next(s for s in plan.totals.solved if s.target.path == path)
    return [Decimal(int(c)) / 100 for c in solved.cents]


def test_mrr_growth_total_holds_to_the_cent(example):
    (_, plan, tables), _ = example
    declared = _declared(plan, "metrics.mrr.total")
    assert declared[0] == Decimal("2000000.00") and declared[1] == Decimal("2040000.00")
    assert _period_sums(tables, "fct_mrr", "mrr") == declared


def test_as_of_holds_the_totals_of_the_periods_that_happened(example):
    """The totals belong to the story: an as-of source holds those of its periods, an append adds the rest."""
    (_, plan, _), _ = example
    early = load_spec(_example(EXAMPLE_TOTAL), as_of="2024-09-15")
    assert _period_sums(dbt_plotsim.generate(early), "fct_mrr", "mrr") == _declared(plan, "metrics.mrr.total")[:9]


def test_invoice_list_total_holds_to_the_cent_and_lines_still_add_up(invoices):
    spec, plan, tables = invoices
    declared = _declared(plan, "transactions.invoice.amount.total")
    assert declared[2] == Decimal("37000.00")  # (250,000 + 2 x 60,000) x scale 0.1
    assert _period_sums(tables, "fct_invoice", "amount") == declared
    conn = duckdb.connect()
    conn.register("i", tables["fct_invoice"])
    conn.register("l", tables["fct_invoice_line"])
    off = conn.sql("select count(*) from i join (select invoice_id, sum(amount) s, min(amount) least from l group by 1)"
                   " x using (invoice_id) where x.s <> i.amount or x.least < 0.01").fetchall()[0][0]
    assert off == 0


def test_curve_totals_hold_with_arrivals_churn_and_missing_values(stores):
    (spec, plan, tables), _ = stores
    assert tables["dim_store"].column("ended_date_key").null_count < 900  # some stores closed
    assert tables["fct_revenue"].column("revenue").null_count > 0
    revenue = _declared(plan, "metrics.revenue.total")
    assert revenue[0] == Decimal("5000000.00") and revenue[-1] == Decimal("9000000.00")
    assert _period_sums(tables, "fct_revenue", "revenue") == revenue
    assert _period_sums(tables, "fct_margin", "margin") == _declared(plan, "metrics.margin.total")


def _pit(plan, tables, metric: str, adjusted: bool) -> np.ndarray:
    """The values through the declared family's CDF, each period's factor (offset) undone."""
    m = plan.metric_names.index(metric)
    marginal = plan.marginals[m]
    x = _column(tables, f"fct_{metric}", metric)
    period = np.searchsorted(date_keys(plan.starts), _column(tables, f"fct_{metric}", "date_key"))
    keep = ~np.isnan(x)
    x, period = x[keep], period[keep]
    if adjusted:
        solved = next(s for s in plan.totals.solved if s.target.metric == m)
        x = x / solved.theta[period] if solved.target.mode == "scale" else x - solved.theta[period] / 100
    lo, hi = marginal.u_bounds
    return (marginal.dist.cdf(x) - lo) / (hi - lo)


@pytest.mark.parametrize("case, metric", [("example", "mrr"), ("stores", "revenue"), ("stores", "margin")])
def test_adjusted_values_keep_the_declared_family(case, metric, request):
    (_, plan, tables), (_, plain_plan, plain) = request.getfixturevalue(case)
    before = stats.kstest(_pit(plain_plan, plain, metric, adjusted=False), "uniform").statistic
    after = stats.kstest(_pit(plan, tables, metric, adjusted=True), "uniform").statistic
    assert after <= KS_LIMIT, (before, after)
    assert abs(after - before) < 0.005  # the factor, not the cents, is what moved


def _pooled_r(tables, a: str, b: str) -> float:
    x, y = _column(tables, f"fct_{a}", a), _column(tables, f"fct_{b}", b)
    both = ~np.isnan(x) & ~np.isnan(y)
    return float(np.corrcoef(x[both], y[both])[0, 1])


@pytest.mark.parametrize("case, pair", [("example", ("engagement", "mrr")), ("stores", ("footfall", "revenue"))])
def test_declared_correlations_still_hold(case, pair, request):
    (spec, _, tables), _ = request.getfixturevalue(case)
    declared = next(c.r for c in spec.correlations if set(c.between) == set(pair))
    assert abs(_pooled_r(tables, *pair) - declared) <= R_TOLERANCE


def _lag_profile(tables, follower: str, driver: str, max_lag: int = 8) -> np.ndarray:
    """Pooled r of the follower's change at t with the driver's change at t - k, each period's mean change
    removed (as the lag_coherence test does)."""
    def panel(metric):
        t = tables[f"fct_{metric}"]
        ids = t.column(0).to_numpy()
        keys = t.column("date_key").to_numpy()
        grid = np.full((ids.max() + 1, np.unique(keys).size), np.nan)
        grid[ids, np.searchsorted(np.unique(keys), keys)] = _column(tables, f"fct_{metric}", metric)
        change = np.diff(grid, axis=1)
        return change - np.nanmean(change, axis=0, keepdims=True)

    f, d = panel(follower), panel(driver)
    out = []
    for k in range(max_lag + 1):
        a, b = f[:, k:], d[:, : d.shape[1] - k]
        both = ~np.isnan(a) & ~np.isnan(b)
        out.append(np.corrcoef(a[both], b[both])[0, 1])
    return np.array(out)


@pytest.mark.parametrize("case, follower, driver, lag", [("example", "mrr", "engagement", 3),
                                                         ("stores", "revenue", "footfall", 2)])
def test_lag_peak_unchanged(case, follower, driver, lag, request):
    (_, _, tables), (_, _, plain) = request.getfixturevalue(case)
    with_totals, without = _lag_profile(tables, follower, driver), _lag_profile(plain, follower, driver)
    assert int(np.argmax(without)) == int(np.argmax(with_totals)) == lag
    assert abs(with_totals[lag] - without[lag]) < 0.05


@pytest.mark.parametrize("case, metric", [("example", "mrr"), ("stores", "revenue"), ("stores", "margin")])
def test_rank_within_period_preserved(case, metric, request):
    """Against the same spec without totals (the same rows): sorted by the undeclared values, the adjusted
    ones never fall by more than the one cent the rounding hands out."""
    (_, _, tables), (_, _, plain) = request.getfixturevalue(case)
    name = f"fct_{metric}"
    assert tables[name].column(0).equals(plain[name].column(0))
    x, y = _column(plain, name, metric), _column(tables, name, metric)
    keys = _column(tables, name, "date_key")
    order = np.lexsort((y, x, keys))
    same_period = keys[order][1:] == keys[order][:-1]
    step = np.diff(y[order])
    valid = same_period & ~np.isnan(step) & ~np.isnan(np.diff(x[order]))
    assert step[valid].min() >= -0.0100001
    for key in np.unique(keys)[::6]:
        inside = (keys == key) & ~np.isnan(x)
        assert stats.spearmanr(x[inside], y[inside]).statistic > 0.9999


def test_a_total_out_of_reach_names_the_nearest_totals():
    spec = _example([1.0] * 24)  # 24 periods of ~1,380 rows, each at least 50.00
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    (problem,) = err.value.problems
    assert problem.path == "metrics.mrr.total"
    assert "period 2024-01-01 totals 1.00" in problem.message and "metrics.mrr.range" in problem.message
    assert "24 of 24 periods are out of reach: nearest totals that hold: 2024-01-01: 69,150.00" in problem.message


def _nearest_r(plan, key: str) -> float:
    """The r generated with: the declared one, or the nearest that holds (calibration.on_conflict: nearest)."""
    adjusted = plan.calibration.adjusted.get(key)
    return adjusted[1] if adjusted else next(c.r for c in plan.spec.correlations if c.key == key)


def test_on_conflict_nearest_generates_the_nearest_totals():
    declared = [round(2_000_000 * 1.02**p, 2) for p in range(24)]
    declared[5] = 1.0  # out of reach: the period's rows are each at least 50.00
    spec = _example(declared)
    spec["calibration"] = {"on_conflict": "nearest"}
    loaded, plan, tables = _built(spec)
    assert any("nearest totals that hold" in w and "metrics.mrr.total" in w for w in plan.warnings)
    sums = _period_sums(tables, "fct_mrr", "mrr")
    counts = np.bincount(np.searchsorted(date_keys(plan.starts), _column(tables, "fct_mrr", "date_key")),
                         weights=~np.isnan(_column(tables, "fct_mrr", "mrr")))
    assert sums[5] == Decimal(int(counts[5]) * 50)  # every row at the range's 50.00
    assert [s for p, s in enumerate(sums) if p != 5] == [Decimal(f"{v:.2f}") for p, v in enumerate(declared) if p != 5]
    # one period held flat loosens the pooled r: the nearest r that holds with it is generated, and delivered
    assert abs(_pooled_r(tables, "engagement", "mrr") - _nearest_r(plan, "engagement~mrr")) <= R_TOLERANCE


def test_totals_that_flatten_the_metric_give_way_on_its_correlation():
    """Totals out of reach in 23 of 24 periods hold every row there at 50.00: with on_conflict nearest, the
    declared r gives way to the nearest that holds on such rows (the warnings say both), which the output
    delivers; rejecting, the totals are the problem named (mended first)."""
    spec = _example([1.0] * 23 + [2_500_000.0])
    spec["calibration"] = {"on_conflict": "nearest"}
    loaded, plan, tables = _built(spec)
    nearest = _nearest_r(plan, "engagement~mrr")
    assert nearest < 0.5 and any(w.startswith("correlations.engagement~mrr.r: 0.8 cannot hold") for w in plan.warnings)
    assert abs(_pooled_r(tables, "engagement", "mrr") - nearest) <= R_TOLERANCE
    spec["calibration"] = {"on_conflict": "reject"}
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert [p.path for p in err.value.problems] == ["metrics.mrr.total"]


def _parquet_digests(spec, path, **kwargs) -> dict[str, str]:
    dbt_plotsim.write_parquet(spec, path, **kwargs)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.glob("*.parquet"))}


def test_bytes_do_not_depend_on_chunk_size_or_workers(tmp_path):
    spec = load_spec(_invoices(), scale=0.1)
    one = _parquet_digests(spec, tmp_path / "a", chunk_entities=1024)
    assert one == _parquet_digests(spec, tmp_path / "b", chunk_entities=4096, workers=2)
    assert "fct_invoice.parquet" in one


def test_scale_scales_the_totals():
    small = load_spec(_example(EXAMPLE_TOTAL), scale=0.5)
    assert small.metrics[1].total.start == 1_000_000


@pytest.mark.parametrize("metric, total, path, fragment", [
    ("mrr", [1.0, 2.0], "metrics.mrr.total", "has 2 numbers; the window has 24 periods"),
    ("mrr", {"start": -5}, "metrics.mrr.total", "lognormal takes no negative values"),
    ("mrr", {"start": 5, "growth": -1}, "metrics.mrr.total.growth", "above -1"),
    ("mrr", {"start": 5, "grow": 0.1}, "metrics.mrr.total.grow", "did you mean 'growth'?"),
    ("mrr", {"curve": [[0, 1], [0.5, 2]]}, "metrics.mrr.total.curve", "must run from 0"),
    ("mrr", {"curve": [[0, 5], [1, -5]]}, "metrics.mrr.total", "period 2025-01-01 totals"),
    ("mrr", "lots", "metrics.mrr.total", "a total is a list with one number per period"),
    ("mrr", {"growth": 0.1}, "metrics.mrr.total", "give `start` (with `growth`) or `curve`"),
    ("support_tickets", [1.0] * 24, "metrics.support_tickets.total", "this one is a count"),
    ("engagement", [1.0] * 24, "metrics.engagement.total", "this one is a score"),
])
def test_bad_totals_name_their_path(metric, total, path, fragment):
    spec = _example()
    next(m for m in spec["metrics"] if m["name"] == metric)["total"] = total
    assert_problem(spec, path, fragment)


def test_apportion_respects_caps_and_sums():
    weights = np.array([[0.4, 3.0], [2.5, 0.0], [0.1, 1.0]])
    caps = np.array([[1, 5], [3, 0], [1, 2]])
    quota = apportion(np.array([4, 6]), weights, caps)
    assert quota.sum(axis=0).tolist() == [4, 6] and (quota <= caps).all() and (quota >= 0).all()


def test_distribute_gives_cents_to_the_largest_fractions_of_each_group():
    v = np.array([1.9, 1.2, 1.5, 7.7, 7.1])
    base, frac, up, down = floors(v, -np.inf, np.inf)
    cents = distribute(base, frac, up, down, np.array([0, 0, 0, 1, 1]), np.array([2, -1]))
    assert cents.tolist() == [2, 1, 2, 7, 6]


def test_resplit_keeps_every_line_and_adds_up():
    owner = np.array([0, 0, 0, 1, 2, 2])
    line = np.array([500, 1, 499, 300, 1, 1])
    old = np.array([1000, 300, 2])[owner]
    new = np.array([2000, 150, 7])[owner]
    split = resplit(old, new, owner, line)
    assert np.bincount(owner, weights=split).tolist() == [2000, 150, 7] and split.min() >= 1
    assert split[0] > split[2] > split[1]  # in proportion to what each held above its cent


def test_transactions_of_blocks_split_into_parts_hold_the_totals(monkeypatch):
    """A block whose fan-out passes the budget is generated in parts (parts.py), each its own unit of cents."""
    from dbt_plotsim.engine import parts

    monkeypatch.setattr(parts, "PART_BUDGET", 200_000)  # bytes: every block of this spec splits
    spec = _invoices()
    spec["seed"] = 5  # a plan of its own, solved with the small budget in place
    loaded, plan, tables = _built(spec, scale=0.1)
    solved = plan.totals.solved[0]
    assert solved.units.size > sum(seg.blocks for seg in plan.segments)  # more units than blocks: parts
    assert _period_sums(tables, "fct_invoice", "amount") == _declared(plan, "transactions.invoice.amount.total")
