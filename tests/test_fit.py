"""What the calibration fits when the spec leaves it free, and what it keeps because the user set it."""
from __future__ import annotations

import numpy as np
import pytest

from dbt_plotsim import load_spec
from dbt_plotsim.engine.fit import DEFAULT_SIGNAL
from dbt_plotsim.engine.plan import plan_for

from .statistical.common import medium_spec


def _plan(metrics, **extra):
    return plan_for(load_spec(medium_spec(metrics, **extra)))


def _signals(plan) -> list[float]:
    return [load.signal for load in plan.model.loads]


def test_defaults_stay_where_the_spec_holds():
    plan = _plan([{"name": "a", "type": "score"}, {"name": "b", "type": "amount", "range": [10, 1000]}],
                 correlations=[{"between": ["a", "b"], "r": 0.6}])
    assert _signals(plan) == pytest.approx([DEFAULT_SIGNAL] * 2, abs=1e-6)
    assert plan.model.persistence == 0.85


def test_a_negative_r_between_same_polarity_metrics_lowers_signals_but_keeps_them_up():
    """Both follow the trajectory upward, yet -0.4 is declared: the signals give way, as little as needed."""
    plan = _plan([{"name": "a", "type": "score"}, {"name": "b", "type": "measure", "range": [0, 10]}],
                 correlations=[{"between": ["a", "b"], "r": -0.4}])
    signals = _signals(plan)
    assert all(0.3 < s < DEFAULT_SIGNAL for s in signals), signals
    assert plan.calibration.measured["measured"][0] == pytest.approx(-0.4, abs=0.003)


def test_a_signal_the_user_set_is_kept_exactly():
    plan = _plan([{"name": "a", "type": "score", "signal": 0.8}, {"name": "b", "type": "measure", "range": [0, 10]}],
                 correlations=[{"between": ["a", "b"], "r": -0.3}])
    assert _signals(plan)[0] == 0.8 and _signals(plan)[1] < DEFAULT_SIGNAL


def test_a_lag_weight_the_user_left_free_is_fitted_and_one_they_set_is_kept():
    metrics = [{"name": n, "type": "score"} for n in "abc"]
    lags = [{"metric": "b", "follows": "a", "periods": 2}, {"metric": "c", "follows": "a", "periods": 4, "weight": 0.7}]
    plan = _plan(metrics, lags=lags, correlations=[{"between": ["a", "b"], "r": 0.3}])
    assert plan.lags[2][2] == 0.7
    assert 0.3 <= plan.lags[1][2] <= 0.9


def test_near_zero_pulls_undeclared_pairs_toward_zero():
    metrics = [{"name": n, "type": "score"} for n in "abc"]
    corr = [{"between": ["a", "b"], "r": 0.5}]
    free = _plan(metrics, correlations=corr)
    quiet = _plan(metrics, correlations=corr, calibration={"undeclared": "near_zero"})
    free_r = np.abs(free.calibration.measured["matrix"][[0, 1], 2])
    quiet_r = np.abs(quiet.calibration.measured["matrix"][[0, 1], 2])
    assert np.all(quiet_r < free_r - 0.1), (free_r, quiet_r)
    assert quiet.calibration.measured["measured"][0] == pytest.approx(0.5, abs=0.003)  # declared still holds
