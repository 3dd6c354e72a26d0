"""Marginals: tabulated inverse CDFs match scipy, ranges truncate (nothing piles up on a bound)."""
import numpy as np
import pytest
from scipy import stats

from dbt_plotsim.engine.marginals import resolve
from dbt_plotsim.spec.metrics import Metric

CASES = [
    {"name": "s", "type": "score"},
    {"name": "a", "type": "amount", "range": [50, 50000]},
    {"name": "g", "type": "amount", "distribution": "gamma", "range": [0, 1000]},
    {"name": "w", "type": "measure", "distribution": "weibull", "params": {"shape": 2.0, "scale": 10.0}},
    {"name": "n", "type": "measure", "range": [-5, 5]},
    {"name": "b", "type": "amount", "distribution": "beta", "range": [10, 20], "mean": 12},
    {"name": "c", "type": "count", "range": [1, 9], "mean": 3},
]


@pytest.mark.parametrize("raw", CASES, ids=lambda c: c["name"])
def test_tabulated_inverse_cdf_matches_scipy(raw):
    marginal = resolve(Metric.model_validate(raw))
    u = np.random.default_rng(0).random(20000)
    lo, hi = marginal.u_bounds
    exact = marginal.dist.ppf(lo + u * (hi - lo))
    got = marginal.values(u)
    scale = (np.percentile(exact, 99) - np.percentile(exact, 1)) or 1.0
    tolerance = 0.011 if marginal.decimals else 1e-6 * scale  # amounts are rounded to cents
    assert np.max(np.abs(got - exact)) <= tolerance


@pytest.mark.parametrize("raw", CASES, ids=lambda c: c["name"])
def test_values_stay_in_range_without_stacking_on_bounds(raw):
    marginal = resolve(Metric.model_validate(raw))
    x = marginal.values(np.random.default_rng(1).random(200000))
    if marginal.low is not None:
        assert x.min() >= marginal.low and x.max() <= marginal.high
        if not marginal.integer:
            on_bounds = np.mean((x == marginal.low) | (x == marginal.high))
            assert on_bounds < 0.001  # tolerance: 0.1% of cells (clamping would put several % there)


@pytest.mark.parametrize("family,truth", [
    ("poisson", stats.poisson(4)),
    ("negative_binomial", stats.nbinom(4.0, 4.0 / (4.0 + 4))),  # default dispersion 0.25: size 4
])
def test_counts_are_exact_integers_and_truncated(family, truth):
    marginal = resolve(Metric(name="c", type="count", distribution=family, range=(2, 6), mean=4))
    x = marginal.values(np.random.default_rng(2).random(100000))
    assert set(np.unique(x)) <= {2, 3, 4, 5, 6}
    expected = truth.pmf(np.arange(2, 7)) / truth.pmf(np.arange(2, 7)).sum()
    observed = np.bincount(x.astype(int), minlength=7)[2:7] / len(x)
    assert np.max(np.abs(observed - expected)) < 0.005  # tolerance: 0.5 percentage points


def test_a_count_defaults_to_an_overdispersed_family():
    marginal = resolve(Metric(name="c", type="count", mean=900))
    assert marginal.family == "negative_binomial"
    x = marginal.values((np.arange(20000) + 0.5) / 20000)
    assert x.mean() == pytest.approx(900, rel=0.01)
    assert x.std() == pytest.approx(np.sqrt(900 + 0.25 * 900**2), rel=0.02)  # variance = mean + dispersion mean^2


def test_a_declared_dispersion_is_used():
    marginal = resolve(Metric(name="c", type="count", mean=10, params={"dispersion": 1.0}))
    x = marginal.values((np.arange(20000) + 0.5) / 20000)
    assert x.var() == pytest.approx(10 + 100, rel=0.03)


def test_a_very_wide_count_support_is_read_from_a_table():
    marginal = resolve(Metric(name="c", type="count", mean=2e6))
    x = marginal.values((np.arange(20000) + 0.5) / 20000)
    assert np.all(x == np.floor(x)) and x.mean() == pytest.approx(2e6, rel=0.01)


def test_outliers_come_from_the_extreme_tail():
    marginal = resolve(Metric(name="a", type="amount", range=(50, 50000)))
    v = np.random.default_rng(3).random(1000)
    regular_p99 = np.percentile(marginal.values(np.random.default_rng(4).random(100000)), 99)
    outliers = marginal.values(marginal.outlier_u(v))
    assert outliers.min() >= regular_p99 * 0.99
