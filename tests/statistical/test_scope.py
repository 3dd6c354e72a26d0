"""Correlations declared within segments hold there, alongside pooled ones (tolerances next to each check)."""
from __future__ import annotations

import numpy as np
import pytest

import dbt_plotsim

from .common import generate, medium_spec

WITHIN_TOLERANCE = 0.03  # one segment of 500-800 entities x 24 months
POOLED_TOLERANCE = 0.02


def _by_segment(tables, names):
    segment = np.asarray(tables["dim_entity"].column("segment").to_pylist())
    ids = tables["dim_entity"].column("entity_id").to_numpy()
    lookup = dict(zip(ids, segment))
    out = {}
    for name in names:
        t = tables[f"fct_{name}"]
        out[name] = t.column(name).to_numpy(zero_copy_only=False).astype(float)
    rows = np.array([lookup[i] for i in tables[f"fct_{names[0]}"].column("entity_id").to_numpy()])
    return out, rows


def _r(x, y):
    ok = ~(np.isnan(x) | np.isnan(y))
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


METRICS = [{"name": "a", "type": "score"}, {"name": "b", "type": "amount", "range": [10, 5000]},
           {"name": "c", "type": "count", "mean": 4, "polarity": "negative"}]


def test_one_segment_and_every_segment_scopes_hold_with_a_pooled_one():
    correlations = [{"between": ["a", "b"], "r": 0.5},
                    {"between": ["a", "b"], "r": 0.2, "scope": "growers"},
                    {"between": ["a", "c"], "r": -0.3, "scope": "each_segment"}]
    tables = generate(medium_spec(METRICS, correlations=correlations))
    cols, segment = _by_segment(tables, ["a", "b", "c"])
    assert _r(cols["a"], cols["b"]) == pytest.approx(0.5, abs=POOLED_TOLERANCE)
    inside = segment == "growers"
    assert _r(cols["a"][inside], cols["b"][inside]) == pytest.approx(0.2, abs=WITHIN_TOLERANCE)
    for name in np.unique(segment):
        inside = segment == name
        assert _r(cols["a"][inside], cols["c"][inside]) == pytest.approx(-0.3, abs=WITHIN_TOLERANCE), name


def test_without_scope_a_segment_sees_something_else():
    """The check above can fail: unscoped, the within-segment r is far from the pooled one."""
    tables = generate(medium_spec(METRICS, correlations=[{"between": ["a", "c"], "r": -0.3}]))
    cols, segment = _by_segment(tables, ["a", "c"])
    gaps = [abs(_r(cols["a"][segment == s], cols["c"][segment == s]) + 0.3) for s in np.unique(segment)]
    assert max(gaps) > 0.05


def test_an_unknown_scope_is_a_spec_error():
    spec = medium_spec(METRICS, correlations=[{"between": ["a", "b"], "r": 0.5, "scope": "growrs"}])
    with pytest.raises(dbt_plotsim.SpecError) as caught:
        dbt_plotsim.load_spec(spec)
    assert "correlations.a~b@growrs.scope" in str(caught.value) and "did you mean 'growers'" in str(caught.value)


def _sql_failures(tables, scope: str, r: float):
    import duckdb

    from ..macros import render

    con = duckdb.connect()
    for name in ("fct_a", "fct_c", "dim_entity"):
        con.register(name, tables[name])
    sql = render("correlation_within", model="fct_a", column_name="a", other_column="c", other_model="fct_c",
                 join_on=["entity_id", "date_key"], r=r, tolerance=0.05, scope=scope, segment_model="dim_entity",
                 segment_key="entity_id", segment_column="segment")
    return con.execute(sql).fetchall()


def test_the_shipped_test_checks_every_segment():
    scoped = generate(medium_spec(METRICS, correlations=[{"between": ["a", "c"], "r": -0.3, "scope": "each_segment"}]))
    assert _sql_failures(scoped, "each_segment", -0.3) == []
    assert _sql_failures(scoped, "growers", -0.3) == []
    pooled = generate(medium_spec(METRICS, correlations=[{"between": ["a", "c"], "r": -0.3}]))
    assert _sql_failures(pooled, "each_segment", -0.3)  # proven failing case: pooled only, segments differ
