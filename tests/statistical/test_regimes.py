"""Correlations that change between declared periods hold in each regime (tolerances next to the checks)."""
from __future__ import annotations

import numpy as np
import pytest

import dbt_plotsim

from .common import generate, medium_spec

REGIME_TOLERANCE = 0.03  # 3,000 entities x 12 months per regime


def _regime_r(tables, months: slice) -> float:
    a = tables["fct_a"].column("a").to_numpy().reshape(-1, 24)[:, months].ravel()
    b = tables["fct_b"].column("b").to_numpy().reshape(-1, 24)[:, months].ravel()
    return float(np.corrcoef(a, b)[0, 1])


METRICS = [{"name": "a", "type": "score"}, {"name": "b", "type": "amount", "range": [10, 5000]}]


def test_each_regime_holds_its_r():
    correlations = [{"between": ["a", "b"], "r": 0.7, "during": {"from": "2024-01", "until": "2024-12-31"}},
                    {"between": ["a", "b"], "r": 0.1, "during": {"from": "2025-01", "until": "2025-12-31"}}]
    tables = generate(medium_spec(METRICS, correlations=correlations))
    assert _regime_r(tables, slice(0, 12)) == pytest.approx(0.7, abs=REGIME_TOLERANCE)
    assert _regime_r(tables, slice(12, 24)) == pytest.approx(0.1, abs=REGIME_TOLERANCE)


def test_without_regimes_both_years_look_alike():
    """The check above can fail: one declaration gives both years about the same r."""
    tables = generate(medium_spec(METRICS, correlations=[{"between": ["a", "b"], "r": 0.4}]))
    assert abs(_regime_r(tables, slice(0, 12)) - _regime_r(tables, slice(12, 24))) < 0.15


def test_overlapping_regimes_of_one_pair_are_an_error():
    correlations = [{"between": ["a", "b"], "r": 0.7, "during": {"from": "2024-01", "until": "2024-12-31"}},
                    {"between": ["a", "b"], "r": 0.1, "during": {"from": "2024-06", "until": "2025-12-31"}}]
    with pytest.raises(dbt_plotsim.SpecError) as caught:
        dbt_plotsim.load_spec(medium_spec(METRICS, correlations=correlations))
    assert "declared more than once for the same scope and periods" in str(caught.value)
