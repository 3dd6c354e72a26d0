"""Noise families, spread that grows with the trajectory, and per-metric overrides: declared r and the
marginals still hold (tolerances next to each check), and each noise model visibly does what it says."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import dbt_plotsim

from .common import columns, generate, medium_spec, pooled_r

R_TOLERANCE = 0.02
KS_TOLERANCE = 0.03


def _spec(noise: dict, override: dict | None = None) -> dict:
    metrics = [{"name": "a", "type": "measure", "distribution": "normal", "range": [0, 100]},
               {"name": "b", "type": "amount", "range": [10, 5000]}]
    if override:
        metrics[1]["noise"] = override
    return medium_spec(metrics, correlations=[{"between": ["a", "b"], "r": 0.5}], noise=noise)


@pytest.mark.parametrize("noise,override", [
    ({"gaussian": 0.3, "family": "student_t", "df": 3.5}, None),
    ({"gaussian": 0.3, "family": "laplace", "outliers": 0.005}, None),
    ({"gaussian": 0.3, "heteroscedastic": 0.8}, None),
    ({"gaussian": 0.05}, {"gaussian": 0.4, "family": "laplace", "missing": 0.05, "outliers": 0.01}),
], ids=["student_t", "laplace_outliers", "heteroscedastic", "per_metric_override"])
def test_declared_r_and_marginals_hold(noise, override):
    spec = _spec(noise, override)
    cols = columns(generate(spec))
    assert pooled_r(cols["a"], cols["b"]) == pytest.approx(0.5, abs=R_TOLERANCE)
    a = cols["a"][~np.isnan(cols["a"])]
    truncated = stats.truncnorm(-3, 3, loc=50, scale=100 / 6)  # normal default: mean mid-range, sd range/6
    assert stats.kstest(a, truncated.cdf).statistic <= KS_TOLERANCE
    assert a.min() >= 0 and a.max() <= 100


def _residual_spread(tables) -> tuple[float, float]:
    """Spread of a's period-to-period changes where the trajectory is low vs high (jitter is white, so it
    dominates changes)."""
    a = tables["fct_a"].column("a").to_numpy().reshape(-1, 24)
    pos = tables["trajectory"].column("position").to_numpy().reshape(-1, 24)
    change = np.diff(a, axis=1)
    where = pos[:, 1:]
    low, high = np.quantile(where, [0.2, 0.8])
    return float(change[where < low].std()), float(change[where > high].std())


def test_heteroscedastic_jitter_grows_with_the_trajectory():
    flat = _residual_spread(generate(_spec({"gaussian": 0.4})))
    growing = _residual_spread(generate(_spec({"gaussian": 0.4, "heteroscedastic": 1.0})))
    assert growing[1] / growing[0] > 1.3 * flat[1] / flat[0]  # the check fails without the spread model


def test_student_t_jitter_has_heavier_tails_than_gaussian():
    def kurtosis(noise):
        tables = generate(_spec(noise))
        change = np.diff(tables["fct_a"].column("a").to_numpy().reshape(-1, 24), axis=1).ravel()
        return float(stats.kurtosis(change))

    assert kurtosis({"gaussian": 0.6, "family": "student_t", "df": 3}) > kurtosis({"gaussian": 0.6}) + 0.5


def test_an_override_changes_only_its_metric():
    base = dbt_plotsim.load_spec(_spec({"gaussian": 0.05}, {"missing": 0.2}))
    assert base.noise_of(base.metrics[1]).missing == 0.2 and base.noise_of(base.metrics[1]).gaussian == 0.05
    cols = columns(generate(_spec({"gaussian": 0.05}, {"missing": 0.2})))
    assert np.isnan(cols["b"]).mean() == pytest.approx(0.2, abs=0.01)
    assert not np.isnan(cols["a"]).any()
