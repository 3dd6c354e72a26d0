"""The star schema: complete date spine, unique keys, foreign keys that always join, declared layouts."""

import pyarrow.compute as pc
import pytest

import dbt_plotsim

from .conftest import registered, small_dict


@pytest.fixture(scope="module")
def conn():
    tables = dbt_plotsim.generate(small_dict())
    connection = registered(tables)
    yield connection
    connection.close()


def test_expected_tables(conn):
    names = {row[0] for row in conn.execute("show tables").fetchall()}
    assert names == {"dim_date", "dim_account", "fct_engagement", "fct_mrr", "fct_tickets", "trajectory",
                     "_plotsim_truth", "_plotsim_truth_relations", "_plotsim_truth_lags"}


@pytest.mark.parametrize("table,key", [("dim_date", "date_key"), ("dim_account", "account_id")])
def test_primary_keys_unique_and_not_null(conn, table, key):
    dupes, nulls = conn.execute(f"select count(*) - count(distinct {key}), count(*) - count({key}) from {table}").fetchone()
    assert dupes == 0 and nulls == 0


@pytest.mark.parametrize("fact", ["fct_engagement", "fct_mrr", "fct_tickets", "trajectory"])
def test_foreign_keys_resolve(conn, fact):
    orphans = conn.execute(f"""
        select count(*) from {fact} f
        left join dim_account a using (account_id)
        left join dim_date d using (date_key)
        where a.account_id is null or d.date_key is null
    """).fetchone()[0]
    assert orphans == 0


def test_fact_grain_is_entity_by_period(conn):
    rows, distinct = conn.execute("select count(*), count(distinct (account_id, date_key)) from fct_mrr").fetchone()
    assert rows == distinct == 100 * 12


@pytest.mark.parametrize("grain,expected", [("day", 366), ("week", 53), ("month", 12)])
def test_date_spine_complete_for_grain(grain, expected):
    spec = small_dict()
    spec["window"]["grain"] = grain
    dim = dbt_plotsim.generate(spec)["dim_date"]
    starts = dim.column("period_start").to_pylist()
    ends = dim.column("period_end").to_pylist()
    assert len(starts) == expected
    assert all((b - a).days == 1 for a, b in zip(ends[:-1], starts[1:]))  # no gaps, no overlaps
    assert dim.column("period_index").to_pylist() == list(range(expected))


def test_missing_cells_are_null_rows_not_dropped(conn):
    rows, nulls = conn.execute("select count(*), count(*) - count(mrr) from fct_mrr").fetchone()
    assert rows == 1200 and 0 < nulls < 0.06 * rows  # missing: 0.02 declared


def test_declared_fact_tables():
    spec = small_dict()
    spec["tables"] = {"facts": [
        {"name": "fct_account_monthly", "metrics": ["engagement", "mrr"]},
        {"name": "fct_support", "metrics": ["tickets"]},
    ], "trajectory": False}
    tables = dbt_plotsim.generate(spec)
    assert set(tables) == {"dim_date", "dim_account", "fct_account_monthly", "fct_support",
                           "_plotsim_truth", "_plotsim_truth_relations", "_plotsim_truth_lags"}
    assert tables["fct_account_monthly"].column_names == ["account_id", "date_key", "engagement", "mrr"]
    # the same values as in the default layout: the layout changes no draws
    default = dbt_plotsim.generate(small_dict())
    assert tables["fct_account_monthly"].column("mrr").equals(default["fct_mrr"].column("mrr"))


def test_counts_are_integers():
    table = dbt_plotsim.generate(small_dict())["fct_tickets"]
    assert str(table.schema.field("tickets").type) == "int64"
    assert pc.min(table.column("tickets")).as_py() >= 0


def test_trajectory_is_the_ground_truth(conn):
    mismatched = conn.execute("""
        select count(*) from trajectory t join dim_account a using (account_id)
        where t.archetype <> a.archetype
    """).fetchone()[0]
    assert mismatched == 0
    low, high = conn.execute("select min(position), max(position) from trajectory").fetchone()
    assert 0 <= low < high <= 1
