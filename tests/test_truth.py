"""The truth tables equal what SQL recomputes from the rows written: counts, cents and integers exactly, sums of
doubles to 1e-9 relative; the delivered correlations and lag curves as the package's tests measure them."""
from __future__ import annotations

import math

import duckdb
import pytest

from dbt_plotsim.api import stream
from dbt_plotsim.engine.truth import TRUTH_TABLE
from dbt_plotsim.engine.truth_relations import LAGS_TABLE, RELATIONS_TABLE
from dbt_plotsim.spec.loading import parse_spec
from dbt_plotsim.templates import load as load_template

RELATIVE = 1e-9


EACH_SEGMENT = {"between": ["support_tickets", "nps"], "r": -0.3, "scope": "each_segment"}
IN_A_REGIME = {"between": ["support_tickets", "nps"], "r": -0.3, "during": {"from": "2023-07", "until": "2024-03"}}
AS_OF = {"start": "2023-01-01", "end": "2024-12-31", "grain": "month", "as_of": "2023-09-15"}


def truth_spec(extra: dict = EACH_SEGMENT, **changes) -> dict:
    """The saas template, smaller, with a lag across tables and a correlation per segment (or in a regime)."""
    spec = load_template("saas")
    for segment in spec["segments"]:
        segment["count"] = max(40, segment["count"] // 8)
    spec["window"] = {"start": "2023-01-01", "end": "2024-12-31", "grain": "month"}
    spec["correlations"].append(extra)
    spec["lags"].append({"metric": "nps", "follows": "engagement", "periods": 2, "weight": 0.5})
    spec.update(changes)
    return spec


def written(spec: dict, chunk_entities: int | None = None) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    for name, table in stream(parse_spec(spec), chunk_entities=chunk_entities).tables().items():
        conn.register(f"arrow_{name}", table)
        conn.execute(f'create table "{name}" as select * from "arrow_{name}"')
    return conn


@pytest.fixture(scope="module")
def saas():
    return written(truth_spec())


@pytest.fixture(scope="module")
def cut():
    """As of a date inside a regime's periods."""
    return written(truth_spec(IN_A_REGIME, window=AS_OF))


def truth(conn, where: str = "true") -> dict[tuple, float]:
    rows = conn.execute(f"select table_name, column_name, measure, category, segment, date_key, value "
                        f"from {TRUTH_TABLE} where {where}").fetchall()
    return {tuple(r[:6]): r[6] for r in rows}


def recomputed(conn) -> dict[tuple, float]:
    """Every figure of the truth table, from the rows, per period and segment and over all segments."""
    out: dict[tuple, float] = {}
    for table, column, measure, category in conn.execute(
            f"select distinct table_name, column_name, measure, category from {TRUTH_TABLE}").fetchall():
        names = {r[0] for r in conn.execute(f'describe "{table}"').fetchall()}
        period = "date_key" if "date_key" in names else "cast(null as integer)"
        joined = (f'"{table}" t left join dim_account d using (account_id)' if "account_id" in names and
                  table != "dim_account" else f'"{table}" t')
        segment = ("t.segment" if table == "dim_account" else "d.segment" if "account_id" in names
                   else "cast(null as varchar)")
        figure = {"rows": "count(*)", "non_null": f"count(t.{column})", "sum": f"sum(t.{column})::double",
                  "mean": f"avg(t.{column})::double", "entities": f"count(*) filter (where t.{column} = '{category}')"}
        if measure in figure:
            query = f"select {{segment}}, {period}, {figure[measure]} from {joined} group by all"
            for scope in (segment, "cast(null as varchar)"):
                for seg, key, value in conn.execute(query.format(segment=scope)).fetchall():
                    out[(table, column, measure, category, seg, key)] = value
    entity = {"arriving_entities": "d.first_date_key = p.date_key", "ending_entities": "d.ended_date_key = p.date_key",
              "active_entities": "d.first_date_key <= p.date_key and coalesce(d.ended_date_key, 99999999) >= p.date_key"}
    for measure, condition in entity.items():
        for scope in ("d.segment", "cast(null as varchar)"):
            for seg, key, value in conn.execute(
                    f"select {scope}, p.date_key, count(*) from dim_date p join dim_account d on {condition} "
                    f"where p.date_key <= (select max(date_key) from {TRUTH_TABLE}) group by all").fetchall():
                out[("dim_account", None, measure, None, seg, key)] = value
    return out


def test_every_figure_equals_its_recomputation(saas):
    assert_recomputed(saas, at_least=3000)


def assert_recomputed(conn, at_least: int) -> None:
    expected, got = recomputed(conn), truth(conn)
    assert len(got) > at_least
    compared = 0
    for key, value in got.items():
        want = expected.get(key, 0 if key[2] in ("rows", "non_null", "entities") or key[2].endswith("entities") else None)
        if key[2] == "sum" and want is None:
            want = 0
        if key[2] in ("sum", "mean") and want is not None and value is not None:
            assert math.isclose(value, want, rel_tol=RELATIVE, abs_tol=1e-9), key
        else:
            assert value == want, key
        compared += 1
    missing = {k for k, v in expected.items() if k not in got and v}
    assert not missing, sorted(missing, key=str)[:5]


def test_counts_and_cents_are_exact(saas):
    got = truth(saas, "measure in ('rows', 'non_null', 'entities', 'sum') and "
                      "(measure <> 'sum' or table_name in ('fct_invoice', 'fct_invoice_line'))")
    expected = recomputed(saas)
    assert all(value == expected.get(key, 0) for key, value in got.items())
    total = saas.execute("select sum(amount) from fct_invoice").fetchone()[0]
    assert round(sum(v for k, v in got.items() if k[:3] == ("fct_invoice", "amount", "sum") and k[4] is None), 2) \
        == float(total)


def test_the_figures_do_not_depend_on_the_chunk_size(saas):
    small = written(truth_spec(), chunk_entities=64)
    a, b = truth(saas), truth(small)
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] or math.isclose(a[k], b[k], rel_tol=RELATIVE) for k in a)
    ra = saas.execute(f"select * from {RELATIONS_TABLE} order by all").fetchall()
    rb = small.execute(f"select * from {RELATIONS_TABLE} order by all").fetchall()
    assert [r[:5] for r in ra] == [r[:5] for r in rb]
    assert all(math.isclose(x[5], y[5], rel_tol=1e-9) for x, y in zip(ra, rb))


@pytest.mark.parametrize("made, scopes", [("saas", {"pooled", "at_risk", "smb_steady"}),
                                          ("cut", {"pooled", "pooled[2023-07-01..2024-03-01]"})])
def test_delivered_correlations_are_the_pearson_r_of_the_rows(made, scopes, request):
    saas = request.getfixturevalue(made)
    rows = saas.execute(f"select metric, other, scope, delivered, n from {RELATIONS_TABLE} "
                        "where kind = 'correlation'").fetchall()
    assert {r[2] for r in rows} >= scopes
    for metric, other, scope, delivered, n in rows:
        where = ["true"]
        if scope.endswith("]"):
            where.append("date_key between 20230701 and 20240301")
            scope = scope.split("[")[0]
        if scope != "pooled":
            where.append(f"segment = '{scope}'")
        r, pairs = saas.execute(
            f"select corr({metric}, {other}), count({metric} + {other}) from fct_account_monthly "
            "full join fct_support_monthly using (account_id, date_key) join dim_account using (account_id) "
            f"where {' and '.join(where)}").fetchone()
        assert pairs == n and math.isclose(delivered, r, abs_tol=1e-9), (metric, other, scope)


LAG_SQL = """
with series as (
    select account_id as e, date_key as p, {metric} as f, {follows} as d
    from fct_account_monthly full join fct_support_monthly using (account_id, date_key)
), indexed as (
    select *, row_number() over (partition by e order by p) as i from series
), raw as (
    select e, p, i, f - lag(f) over (partition by e order by i) as fc, d - lag(d) over (partition by e order by i) as dc
    from indexed
), changes as (
    select e, i, fc - avg(fc) over (partition by p) as fc, dc - avg(dc) over (partition by p) as dc from raw
)
select corr(a.fc, b.dc), count(a.fc + b.dc) from changes a join changes b on a.e = b.e and a.i = b.i + {k}
"""


def test_lag_curves_are_the_lag_coherence_measure(saas):
    curves = saas.execute(f"select metric, follows, lag, r, n from {LAGS_TABLE}").fetchall()
    assert {(m, f) for m, f, *_ in curves} == {("mrr", "engagement"), ("seats", "mrr"), ("nps", "engagement")}
    for metric, follows, k, r, n in curves:
        if k in (0, 1, 2, 3, 7):
            want, pairs = saas.execute(LAG_SQL.format(metric=metric, follows=follows, k=k)).fetchone()
            assert pairs == n and math.isclose(r, want, abs_tol=1e-9), (metric, follows, k)
    peaks = saas.execute(f"select metric, declared, delivered, strength from {RELATIONS_TABLE} where kind = 'lag'").fetchall()
    for metric, declared, delivered, strength in peaks:
        assert delivered == declared and abs(strength) > 0.1, metric


def test_as_of_cuts_the_figures_to_the_periods_that_happened(cut):
    keys = {r[0] for r in cut.execute(f"select distinct date_key from {TRUTH_TABLE} where date_key is not null").fetchall()}
    assert max(keys) == 20230901 and len(keys) == 9
    assert_recomputed(cut, at_least=2000)


def test_truth_off_writes_no_truth_tables():
    spec = truth_spec()
    spec.setdefault("tables", {})["truth"] = False
    names = set(stream(parse_spec(spec)).schemas)
    assert not names & {TRUTH_TABLE, RELATIONS_TABLE, LAGS_TABLE}


def test_a_panel_without_holes_sums_the_same_bits_as_the_general_path():
    """truth_lags.LagStats takes a matrix path for rows without holes; a chunk with a hole takes the general
    one, so both must add the same numbers in the same order."""
    import numpy as np

    from dbt_plotsim.engine.truth_lags import LagStats

    rng = np.random.default_rng(7)
    periods, entities = 13, 300  # k = 12 leaves one column
    first = rng.integers(0, 6, entities)
    ids = np.repeat(np.arange(entities), periods - first)
    period = np.concatenate([np.arange(f, periods) for f in first])
    follower, driver = rng.normal(size=ids.size), rng.normal(size=ids.size)
    follower[rng.random(ids.size) < 0.05] = np.nan
    block = ids // 64
    lag = type("Lag", (), {"periods": 3})()
    panel, general = LagStats(lag, 12, periods), LagStats(lag, 12, periods)
    panel.observe(block, ids, period, follower, driver)
    general._general(block, ids, period, follower, driver)
    assert np.array_equal(panel.change_sums, general.change_sums)
    for k in range(13):
        assert panel.sums[k].keys() == general.sums[k].keys()
        for gap in panel.sums[k]:
            assert np.array_equal(panel.sums[k][gap], general.sums[k][gap]), (k, gap)
