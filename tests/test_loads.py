"""Loads and change feeds (engine/loads.py, feeds.py): late rows land in later loads, restated values are
corrected by later loads, current-state rows are hard-deleted, all at the declared rates; replaying each
feed gives its table exactly at every as_of; appends stay equal to full generations; bad declarations name
their path."""
from __future__ import annotations

import copy

import duckdb
import numpy as np
import pytest
import yaml

import dbt_plotsim
from dbt_plotsim import SpecError
from dbt_plotsim.engine.calendar import load_times
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim.materialize import materialize
from dbt_plotsim.sources import SyntheticSource
from dbt_plotsim.templates import text

# The saas template with feeds on a fact (late and restated), a sub-entity dimension, the unit's dimension and
# a current-state table with deletes.
SAAS = yaml.safe_load(text("saas"))
SAAS["history"][0]["current_table"] = True
LOADS = {"tables": {
    "fct_account_monthly": {"loaded_at": True, "late": 0.1, "late_by": 2, "restated": 0.05, "changes": True},
    "evt_user_login": {"loaded_at": True, "late": 0.05, "late_by": 3, "changes": True},
    "dim_user": {"changes": True},
    "dim_account": {"changes": True},
    "dim_account_plan_current": {"changes": True, "deletes": 0.1},
}}
KEYS = {"fct_account_monthly": ["account_id", "date_key"], "evt_user_login": ["user_login_id"], "dim_user": ["user_id"],
        "dim_account": ["account_id"], "dim_account_plan_current": ["account_id"]}
STEPS = ["2023-05-15", "2024-02-01", None]


def spec(as_of=None, scale=0.06, loads=LOADS, data=SAAS):
    data = copy.deepcopy(data)
    data["loads"] = copy.deepcopy(loads)
    return dbt_plotsim.load_spec(data, scale=scale, as_of=as_of)


def connected(tables) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    for name, table in tables.items():
        conn.register(name, table)
    return conn


@pytest.fixture(scope="module")
def story():
    return {as_of: start(spec(as_of)).tables() for as_of in STEPS}


@pytest.mark.parametrize("as_of", STEPS)
def test_replaying_each_feed_gives_its_table(story, as_of):
    tables = story[as_of]
    conn = connected(tables)
    for name, key in KEYS.items():
        columns = ", ".join(f'"{c}"' for c in tables[name].schema.names if c != "end_position")  # not fed
        keys = ", ".join(key)
        replayed = conn.execute(f"""select {columns} from (
                select *, row_number() over (partition by {keys} order by _changed_at desc,
                    case _op when 'delete' then 0 else 1 end) as newest
                from {name}_changes) where newest = 1 and _op <> 'delete'
            except all select {columns} from {name}""").fetchall()
        extra = conn.execute(f"""select count(*) from (select {columns} from {name} except all
            select {columns} from (select *, row_number() over (partition by {keys} order by _changed_at desc) as n
                                   from {name}_changes) where n = 1 and _op <> 'delete')""").fetchone()[0]
        assert replayed == [] and extra == 0, (name, as_of)
        ops = dict(conn.execute(f"select _op, count(*) from {name}_changes group by 1").fetchall())
        assert ops.get("insert", 0) >= tables[name].num_rows > 0, (name, ops)
    last = np.datetime64(str(tables["dim_date"]["period_start"].to_numpy().max()), "D")
    assert conn.execute("select count(*) from fct_account_monthly where _loaded_at > ?",
                        [str(last + 40)]).fetchone()[0] == 0


def test_late_rows_land_later_and_only_once_loaded(story):
    whole = connected(story[None])
    early = connected(story["2024-02-01"])
    times = load_times(np.array(sorted({d for d in story[None]["dim_date"]["period_start"].to_numpy()}),
                                dtype="datetime64[D]"), "month")
    clock = str(times[np.searchsorted(times, np.datetime64("2024-02-01"))])
    landed = whole.execute("select count(*) from fct_account_monthly where _loaded_at <= ?", [clock]).fetchone()[0]
    assert early.execute("select count(*) from fct_account_monthly").fetchone()[0] == landed
    assert early.execute("select count(*) from fct_account_monthly where _loaded_at > ?", [clock]).fetchone()[0] == 0
    # rows of the clock's month and the one before that are still missing their late share
    missing = whole.execute("""select count(*) from fct_account_monthly where date_key <= 20240201
        and _loaded_at > ?""", [clock]).fetchone()[0]
    assert missing > 0


def test_declared_rates_hold(tmp_path):
    """Late, restated and deleted shares measured on a population of 6,000 (3-sigma tolerances)."""
    data = {"unit": "member", "window": {"start": "2024-01-01", "end": "2024-12-31", "grain": "month"}, "seed": 5,
            "metrics": [{"name": "visits", "type": "count", "mean": 6}],
            "segments": [{"name": "all", "count": 6000, "archetype": "flat",
                          "arrivals": {"pattern": "uniform", "until": 0.5}}],
            "history": [{"attribute": "tier", "values": ["basic", "plus"], "current_table": True,
                         "up_when": {"metric": "trajectory", "above": 0.6, "for": 1}}]}
    loads = {"tables": {"fct_visits": {"loaded_at": True, "late": 0.08, "restated": 0.03, "changes": True},
                        "dim_member_tier_current": {"changes": True, "deletes": 0.12}}}
    tables = start(spec(scale=1, loads=loads, data=data)).tables()
    conn = connected(tables)
    eligible, late = conn.execute("""select count(*), count(*) filter (where _loaded_at::date > d.period_end)
        from fct_visits f join dim_date d using (date_key) where d.period_index < 11""").fetchone()
    restated = conn.execute("select count(*) from fct_visits_changes where _op = 'update'").fetchone()[0]
    members, deleted = conn.execute("""select count(*) filter (where first_date_key < 20241201),
        (select count(*) from dim_member_tier_current_changes where _op = 'delete') from dim_member""").fetchone()
    for observed, total, share in ((late, eligible, 0.08), (restated, eligible, 0.03), (deleted, members, 0.12)):
        assert abs(observed / total - share) <= 3 * np.sqrt(share * (1 - share) / total), (observed, total, share)
    # a restated row was first loaded with another value, and the table holds the corrected one
    differs = conn.execute("""select count(*), count(*) filter (where i.visits <> u.visits)
        from fct_visits_changes i join fct_visits_changes u using (member_id, date_key)
        where i._op = 'insert' and u._op = 'update'""").fetchone()
    assert differs[0] == restated and differs[1] == restated


def test_a_restated_value_shows_its_original_until_the_correction(story):
    early = connected(story["2023-05-15"])
    whole = connected(story[None])
    first = early.execute("""select account_id, date_key, mrr from fct_account_monthly_changes
        where _op = 'insert' order by 1, 2""").fetchall()
    shown = early.execute("select account_id, date_key, mrr from fct_account_monthly order by 1, 2").fetchall()
    corrected = {(a, d): m for a, d, m in whole.execute("""select account_id, date_key, mrr
        from fct_account_monthly_changes where _op = 'update'""").fetchall()}
    assert len(shown) == len(first)
    pending = [(a, d) for a, d, m in shown if (a, d) in corrected and m != corrected[(a, d)]]
    assert pending  # some corrections come after May 2023
    later = dict(((a, d), m) for a, d, m in whole.execute(
        "select account_id, date_key, mrr from fct_account_monthly").fetchall())
    assert all(later[k] == corrected[k] for k in corrected)


def test_appending_with_loads_equals_a_full_generation(tmp_path):
    grown = duckdb.connect(str(tmp_path / "g.duckdb"))
    for as_of in ("2023-05-15", "2023-08-01", "2024-02-01"):
        outcome = materialize(SyntheticSource("saas", "raw", spec(as_of), "duckdb", None), grown)
    assert outcome.status == "appended"
    whole = duckdb.connect(str(tmp_path / "w.duckdb"))
    full = materialize(SyntheticSource("saas", "raw", spec("2024-02-01"), "duckdb", None), whole)
    for table in full.tables:
        query = f'select * from raw."{table}" order by all'
        assert grown.execute(query).fetchall() == whole.execute(query).fetchall(), table


def test_the_same_bytes_whatever_the_chunking():
    a = start(spec("2024-02-01")).tables()
    b = start(spec("2024-02-01"), chunk_entities=1024).tables()
    assert all(a[name].equals(b[name]) for name in a)


@pytest.mark.parametrize("table, options, path, message", [
    ("fct_nothing", {"changes": True}, "loads.tables.fct_nothing", "makes no table 'fct_nothing'"),
    ("dim_date", {"changes": True}, "loads.tables.dim_date", "makes no table 'dim_date' that rows arrive in"),
    ("dim_account", {"loaded_at": True}, "loads.tables.dim_account", "need a table with a row per period"),
    ("evt_user_login", {"restated": 0.1}, "loads.tables.evt_user_login", "restated needs a metrics fact table"),
    ("dim_user", {"deletes": 0.1}, "loads.tables.dim_user", "deletes needs a current-state table"),
    ("dim_user", {"late": 1.5}, "loads.tables.dim_user.late", "less than 1"),
])
def test_bad_declarations_name_their_path(table, options, path, message):
    with pytest.raises(SpecError) as caught:
        spec(loads={"tables": {table: options}})
    assert any(p.path == path and message in p.message for p in caught.value.problems), caught.value.problems


def test_sync_registers_the_feed_and_load_columns():
    from dbt_plotsim.sync import desired_tests

    generation = start(spec())
    tests = desired_tests(SyntheticSource("saas", "raw", generation.plan.spec, "duckdb", None), generation)
    op = [next(iter(t)) for t in tests["dim_user_changes"]["_op"]]
    assert op == ["not_null", "accepted_values"]
    assert list(tests["dim_user_changes"]["_op"][1]["accepted_values"]["arguments"]["values"]) == \
        ["insert", "update", "delete"]
    assert [next(iter(t)) for t in tests["fct_account_monthly"]["_loaded_at"]] == ["not_null"]
    assert generation.schemas["dim_user_changes"].field("_op").metadata[b"description"]


def test_a_table_with_loaded_at_writes_to_parquet(tmp_path):
    """_loaded_at enters the chunk as a plain column; the Parquet writer needs the layout's field."""
    from dbt_plotsim.api import write_parquet

    write_parquet(spec("2024-02-01"), tmp_path / "out")
    assert (tmp_path / "out" / "fct_account_monthly.parquet").exists()
