"""Pooled marginals of generated columns match the declared family (inverse CDF of copula uniforms)."""
import numpy as np
import pytest
from scipy import stats

from dbt_plotsim.engine.marginals import resolve
from dbt_plotsim.spec.metrics import Metric

from .common import columns, generate, medium_spec

METRICS = [
    {"name": "engagement", "type": "score"},
    {"name": "mrr", "type": "amount", "range": [50, 50000]},
    {"name": "cost", "type": "amount", "distribution": "gamma", "range": [0, 1000]},
    {"name": "minutes", "type": "measure", "distribution": "weibull", "params": {"shape": 1.5, "scale": 30}},
    {"name": "temp", "type": "measure", "distribution": "normal", "mean": 20, "params": {"sd": 3}},
]
LAGGED = [{"metric": "cost", "follows": "mrr", "periods": 2, "weight": 0.5}]
CORR = [{"between": ["engagement", "mrr"], "r": 0.6}]


@pytest.fixture(scope="module")
def cols():
    return columns(generate(medium_spec(METRICS, lags=LAGGED, correlations=CORR)))


@pytest.mark.parametrize("raw", METRICS, ids=[m["name"] for m in METRICS])
def test_kolmogorov_smirnov_distance_is_small(cols, raw):
    marginal = resolve(Metric.model_validate(raw))
    lo, hi = marginal.u_bounds
    dist = marginal.dist

    def truncated_cdf(x):
        return (np.clip(dist.cdf(x), lo, hi) - lo) / (hi - lo)

    distance = stats.kstest(cols[raw["name"]], truncated_cdf).statistic
    assert distance < 0.02  # tolerance: KS distance 0.02 over 72,000 pooled cells


def test_the_check_can_fail(cols):
    other = stats.lognorm(s=1.2, scale=1000)
    assert stats.kstest(cols["mrr"], other.cdf).statistic > 0.05


@pytest.mark.parametrize("family,truth", [
    ("poisson", stats.poisson(3)), ("negative_binomial", stats.nbinom(4.0, 4.0 / (4.0 + 3))),
])
def test_counts_pooled(family, truth):
    cols = columns(generate(medium_spec([{"name": "n", "type": "count", "mean": 3, "distribution": family}])))
    observed = np.bincount(cols["n"].astype(int), minlength=12)[:12] / len(cols["n"])
    expected = truth.pmf(np.arange(12))
    assert np.max(np.abs(observed - expected)) < 0.01  # tolerance: 1 percentage point per count
