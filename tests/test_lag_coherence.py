"""The shipped lag_coherence test (its SQL, rendered as dbt renders it) on generated data: a move every
entity shares does not hide the lag once each period's mean change is removed; without that, it does."""
from __future__ import annotations

import duckdb
import pytest

import dbt_plotsim

from .macros import render

STRONG_SEASON = [0.5, 0.7, 1.0, 1.3, 1.5, 1.3, 1.0, 0.7, 0.5, 0.7, 1.0, 1.4]


def _spec(lag: int) -> dict:
    return {
        "unit": "shop",
        "window": {"start": "2023-01-01", "end": "2025-12-31", "grain": "month"},
        "seed": 9,
        "metrics": [{"name": "footfall", "type": "measure", "distribution": "gamma", "range": [0, 5000],
                     "params": {"shape": 30, "scale": 50}},
                    {"name": "sales", "type": "measure", "distribution": "gamma", "range": [0, 5000],
                     "params": {"shape": 30, "scale": 50}}],
        "segments": [{"name": "a", "count": 800, "archetype": "flat"}, {"name": "b", "count": 800, "archetype": "growth"}],
        "lags": [{"metric": "sales", "follows": "footfall", "periods": lag}],
        "seasonality": {"month_of_year": STRONG_SEASON, "applies_to": ["footfall", "sales"]},
        "tables": {"facts": [{"name": "fct_shop_monthly", "metrics": ["footfall", "sales"]}]},
    }


@pytest.fixture(scope="module")
def conn():
    tables = dbt_plotsim.generate(_spec(3))
    con = duckdb.connect()
    con.register("fct_shop_monthly", tables["fct_shop_monthly"])
    return con


def _failures(conn, **arguments):
    sql = render("lag_coherence", model="fct_shop_monthly", column_name="sales", driver_column="footfall",
                 entity="shop_id", driver_model=None, period="date_key", lag=3, max_lag=12, min_strength=0.1,
                 **arguments)
    return conn.execute(sql).fetchall()


def test_peaks_at_the_declared_lag_with_period_means_removed(conn):
    assert _failures(conn) == []


def test_shared_seasonal_moves_hide_the_lag_without_it(conn):
    """Proven failing case: every shop moves with the calendar at lag 0, which swamps the lag."""
    rows = _failures(conn, remove_period_mean=False)
    assert len(rows) == 1 and rows[0][2] != 3  # best_lag is not the declared one


def test_a_lag_beyond_max_lag_raises_max_lag(conn):
    sql = render("lag_coherence", model="fct_shop_monthly", column_name="sales", driver_column="footfall",
                 entity="shop_id", driver_model=None, period="date_key", lag=3, max_lag=2, min_strength=0.1)
    assert conn.execute(sql).fetchall() == []
