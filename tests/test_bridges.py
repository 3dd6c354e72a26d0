"""Bridge tables between the unit and a reference table: members follow the trajectory, are distinct and
weighted, added inside the entity's life; allocations add up to 1; validation paths; determinism; the
generic tests the bridge registers (their SQL run on DuckDB, passing and failing)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.engine.bridges import BridgesComponent
from dbt_plotsim.engine.pipeline import start

from .conftest import registered, truth_of_other_tables
from .macros import render

FEATURES = [f"feature_{i}" for i in range(8)]
WEIGHTS = {"feature_0": 6, "feature_1": 3, **{name: 1 for name in FEATURES[2:7]}}  # feature_7 never
# 2,600 entities (three blocks in one segment) x 24 months, arriving over the first 60%, churning when low.
SPEC: dict = {
    "unit": "account",
    "window": {"start": "2024-01-01", "end": "2025-12-31", "grain": "month"},
    "seed": 5,
    "arrivals": {"pattern": "uniform", "until": 0.6},
    "metrics": [{"name": "engagement", "type": "score"}],
    "segments": [{"name": "growers", "count": 2100, "archetype": "growth"},
                 {"name": "flat", "count": 500, "archetype": "flat"}],
    "events": [{"name": "churn", "when": {"metric": "engagement", "below": 0.15, "for": 2}, "terminal": True}],
    "reference": [{"name": "feature", "rows": [{"feature": name} for name in FEATURES]}],
    "tables": {"bridges": [{"reference": "feature", "per_entity": {"min": 1, "max": 6}, "weights": WEIGHTS}]},
}


def spec_with(**bridge) -> dict:
    data = copy.deepcopy(SPEC)
    data["tables"]["bridges"][0].update(bridge)
    return data


@pytest.fixture(scope="module")
def tables():
    return dbt_plotsim.generate(SPEC)


@pytest.fixture(scope="module")
def conn(tables):
    connection = registered(tables)
    yield connection
    connection.close()


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def test_layout(tables):
    schema = tables["bridge_account_feature"].schema
    assert schema.names == ["account_id", "feature_id", "allocation", "added_date_key"]
    assert b"Bridge between dim_account and dim_feature" in schema.metadata[b"description"]
    assert all(f.metadata[b"description"] for f in schema)


def test_keys_resolve_and_members_are_distinct(conn):
    assert rows(conn, "select count(*) from bridge_account_feature b anti join dim_account using (account_id)") == [(0,)]
    assert rows(conn, "select count(*) from bridge_account_feature b anti join dim_feature using (feature_id)") == [(0,)]
    assert rows(conn, "select count(*) - count(distinct (account_id, feature_id)) from bridge_account_feature") == [(0,)]


def test_every_entity_has_min_to_max_members_and_allocations_add_up_to_one(conn):
    (low, high, entities, bad_sums), = rows(conn, """
        select min(n), max(n), count(*), count(*) filter (where abs(total - 1) > 1e-9)
        from (select account_id, count(*) as n, sum(allocation) as total from bridge_account_feature group by 1)""")
    assert (low, high, entities, bad_sums) == (1, 6, 2600, 0)


def test_members_are_added_within_the_entity_life(conn):
    assert rows(conn, """
        select count(*) from bridge_account_feature b join dim_account d using (account_id)
        where b.added_date_key < d.first_date_key or b.added_date_key > coalesce(d.ended_date_key, 99991231)""") == [(0,)]
    # the first member arrives with the entity (min 1); later ones as the count grows
    assert rows(conn, """
        select count(*) from dim_account d
        where first_date_key <> (select min(added_date_key) from bridge_account_feature b
                                 where b.account_id = d.account_id)""") == [(0,)]


def test_count_follows_the_trajectory(conn):
    # members ~ round(1 + 5 x highest position so far): entities that reached higher positions have more
    (corr,), = rows(conn, """
        select corr(n, peak) from (select account_id, count(*) as n from bridge_account_feature group by 1)
        join (select account_id, max(position) as peak from trajectory group by 1) using (account_id)""")
    assert corr > 0.9


def test_weights_shape_the_choice(conn):
    counts = dict(rows(conn, "select feature_id, count(*) from bridge_account_feature group by 1"))
    assert 8 not in counts  # weight 0: never picked
    assert counts[1] > counts[2] > counts[3]  # 6 > 3 > 1 (without replacement flattens, but keeps the order)
    others = [counts[i] for i in range(3, 8) if i in counts]
    assert max(others) / min(others) < 1.15  # equal weights: within 15% of each other over ~2,000 picks each


def test_same_rows_whatever_the_chunk_size():
    def bridge(chunk):
        generation = start(load_spec(SPEC), chunk_entities=chunk)
        return generation.tables()["bridge_account_feature"]

    assert bridge(1024).equals(bridge(4096))


def test_adding_a_bridge_changes_no_other_table(tables):
    plain = copy.deepcopy(SPEC)
    del plain["tables"]["bridges"]
    other = dbt_plotsim.generate(plain)
    assert set(tables) - set(other) == {"bridge_account_feature"}
    assert all(other[name].equals(tables[name]) for name in other if not name.startswith("_plotsim_truth"))
    left_out = {"bridge_account_feature"}
    assert truth_of_other_tables(other, left_out) == truth_of_other_tables(tables, left_out)


def test_negative_polarity_gives_more_members_to_declining_entities():
    data = spec_with(per_entity={"min": 1, "max": 6, "polarity": "negative"})
    with registered(dbt_plotsim.generate(data)) as conn:
        (corr,), = conn.execute("""
            select corr(n, low) from (select account_id, count(*) as n from bridge_account_feature group by 1)
            join (select account_id, 1 - min(position) as low from trajectory group by 1) using (account_id)""").fetchall()
    assert corr > 0.9


def test_named_bridge_and_default_weights():
    data = spec_with(name="account_features", weights=None, per_entity={"min": 0, "max": 8})
    table = dbt_plotsim.generate(data)["account_features"]
    counts = np.bincount(table.column("feature_id").to_numpy(), minlength=9)[1:]
    assert counts.min() > 0 and counts.max() / counts.min() < 1.15


def test_registered_tests():
    plan = start(load_spec(SPEC)).plan
    tests = BridgesComponent().tests(plan, lambda t: f"ref('{t}')")["bridge_account_feature"]
    assert ("dbt_plotsim.unique_combination", {"columns": ["account_id", "feature_id"]}) in tests[""]
    assert ("relationships", {"to": "ref('dim_feature')", "field": "feature_id"}) in tests["feature_id"]
    assert tests["allocation"][1] == ("dbt_plotsim.sums_to", {"group_by": "account_id", "total": 1, "tolerance": 1e-9})
    assert any(name == "dbt_plotsim.within_lifetime" for name, _ in tests[""])


def test_generic_tests_pass_on_generated_rows_and_fail_on_broken_ones(conn):
    combination = render("unique_combination", model="bridge_account_feature", columns=["account_id", "feature_id"])
    sums = render("sums_to", model="bridge_account_feature", column_name="allocation", group_by="account_id",
                  total=1, tolerance=1e-9)
    assert rows(conn, combination) == [] and rows(conn, sums) == []
    conn.execute("create temp view broken as select * from bridge_account_feature "
                 "union all select * from bridge_account_feature where account_id = 7")
    assert len(rows(conn, combination.replace("bridge_account_feature", "broken"))) > 0
    assert [r[0] for r in rows(conn, sums.replace("bridge_account_feature", "broken"))] == [7]
    conn.execute("create temp view incomplete as select account_id, case when account_id = 9 then null "
                 "else feature_id end as feature_id from bridge_account_feature where account_id in (8, 9)")
    incomplete = rows(conn, combination.replace("bridge_account_feature", "incomplete"))
    assert {r[0] for r in incomplete} == {9}  # a null part of the key fails too
    with pytest.raises(ValueError, match="as a list"):
        render("unique_combination", model="m", columns="account_id")


@pytest.mark.parametrize("edit,path,fragment", [
    (dict(reference="features"), "tables.bridges.features.reference", "FK to an undeclared table 'features'"),
    (dict(per_entity={"min": -1, "max": 2}), "tables.bridges.feature.per_entity.min", "below zero"),
    (dict(per_entity={"min": 3, "max": 2}), "tables.bridges.feature.per_entity.max", "below min 3"),
    (dict(per_entity={"min": 1, "max": 9}), "tables.bridges.feature.per_entity.max", "has 8 rows"),
    (dict(weights={"feature_9": 1}), "tables.bridges.feature.weights.feature_9", "unknown category"),
    (dict(weights={"feature_0": 1, "feature_1": 1}), "tables.bridges.feature.weights", "fewer than per_entity.max 6"),
    (dict(name="dim_date"), "tables.bridges.dim_date", "dim_date is already the date dimension"),
    (dict(name="trajectory"), "tables.bridges.trajectory", "kept for the ground-truth trajectory table"),
    (dict(per_entity={"min": 1}), "tables.bridges.feature.per_entity.max", "is required"),
])
def test_bad_bridges_name_the_path(edit, path, fragment):
    with pytest.raises(SpecError) as err:
        load_spec(spec_with(**edit))
    assert any(p.path == path and fragment in p.message for p in err.value.problems), err.value.problems


def test_two_bridges_to_one_table_need_names():
    data = copy.deepcopy(SPEC)
    data["tables"]["bridges"].append(copy.deepcopy(data["tables"]["bridges"][0]))
    with pytest.raises(SpecError, match="give each bridge its own `name`"):
        load_spec(data)
    data["tables"]["bridges"][1]["name"] = "bridge_account_trial_feature"
    assert set(dbt_plotsim.generate(load_spec(data, scale=0.05))) >= {"bridge_account_feature",
                                                                      "bridge_account_trial_feature"}
