"""SCD2 history and lifecycle stages: validation paths, state machines, integrity of the generated tables,
ground truth (changes follow their conditions), direction by archetype, determinism across chunk sizes,
and the dbt generic tests (their SQL rendered from macros/ and run on DuckDB, passing and failing)."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import duckdb
import numpy as np
import pytest

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.engine.block import BlockValues
from dbt_plotsim.engine.events import EventRows
from dbt_plotsim.engine.history import HistoryComponent, history_levels, history_rows
from dbt_plotsim.engine.stages import StagesComponent, stage_matrix, transition_pairs
from dbt_plotsim.engine.states import run_lengths
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim.engine.plan import SegmentPlan, plan_for
from dbt_plotsim.spec.history import History, Stages

from .conftest import registered
from .macros import MACROS, render

PLANS = ["starter", "pro", "enterprise"]
STATES = ["trial", "active", "at_risk", "churned"]

# 3,100 entities (more than two blocks of 1,024) x 24 months; leavers arrive over the first 40% of the window.
BASE: dict = {
    "unit": "company",
    "window": {"start": "2024-01-01", "end": "2025-12-31", "grain": "month"},
    "seed": 11,
    "metrics": [{"name": "engagement", "type": "score"}, {"name": "mrr", "type": "amount", "range": [50, 5000]}],
    "segments": [
        {"name": "growers", "count": 1200, "archetype": "growth"},
        {"name": "decliners", "count": 1200, "archetype": "decline"},
        {"name": "leavers", "count": 700, "archetype": "churn", "arrivals": {"pattern": "uniform", "until": 0.4}},
    ],
    "events": [{"name": "churn", "when": {"metric": "engagement", "below": 0.1, "for": 2}, "terminal": True}],
    "history": [{"attribute": "plan", "values": PLANS, "initial": {"follows": "trajectory"},
                 "up_when": {"metric": "trajectory", "above": 0.7, "for": 2},
                 "down_when": {"metric": "engagement", "below": 0.3, "for": 2}}],
    "stages": {"states": STATES, "initial": "trial", "transitions": [
        {"from": "trial", "to": "active", "after": 1},
        {"from": "active", "to": "at_risk", "when": {"metric": "engagement", "below": 0.35, "for": 2}},
        {"from": "at_risk", "to": "active", "when": {"metric": "engagement", "above": 0.5, "for": 1}},
        {"from": "at_risk", "to": "churned", "event": "churn"},
    ]},
}


def spec_with(*edits) -> dict:
    data = copy.deepcopy(BASE)
    for edit in edits:
        edit(data)
    return data


@pytest.fixture(scope="module")
def tables():
    return dbt_plotsim.generate(BASE)


@pytest.fixture(scope="module")
def conn(tables):
    connection = registered(tables)
    connection.execute(f"""create view levels as
        select *, list_position({PLANS}, plan) as lvl from dim_company_plan_history""")
    yield connection
    connection.close()


def scalar(conn, sql):
    return conn.execute(sql).fetchone()[0]


# ------------------------------------------------------------------------ dbt generic tests, rendered


def scd2_sql(model, entity="company_id", is_current="is_current", inclusive_end=False):
    return render("scd2_no_overlap", model=model, entity=entity, valid_from="valid_from", valid_to="valid_to",
                  is_current=is_current, inclusive_end=inclusive_end)


def transitions_sql(model, transitions, initial="trial"):
    return render("allowed_transitions", model=model, column_name="stage", entity="company_id",
                  transitions=transitions, period="date_key", initial=initial)


def test_scd2_no_overlap_passes_on_the_generated_history(conn):
    assert conn.execute(scd2_sql("dim_company_plan_history")).fetchall() == []


def test_scd2_no_overlap_names_each_broken_version():
    conn = duckdb.connect()
    conn.execute("""create table broken as select * from (values
        (1, date '2024-01-01', date '2024-03-01', false),  -- overlaps the next version
        (1, date '2024-02-01', null, true),
        (2, date '2024-01-01', date '2024-02-01', true),   -- gap before the next; current but not latest
        (2, date '2024-03-01', null, false),               -- open but not current
        (3, date '2024-01-01', date '2024-01-01', true),   -- empty range
        (4, date '2024-01-01', null, false),               -- open before a later version
        (4, date '2024-02-01', date '2024-03-01', true),   -- current with a valid_to
        (5, date '2024-01-01', date '2024-02-01', false),  -- fine
        (5, date '2024-02-01', null, true),
        (6, date '2024-01-01', date '2024-02-01', false),  -- fine: ended (its latest version is closed)
        (6, date '2024-02-01', date '2024-04-01', false)
    ) t(company_id, valid_from, valid_to, is_current)""")
    rows = conn.execute(scd2_sql("broken") + " order by 1, 2").fetchall()
    assert [(r[0], r[4]) for r in rows] == [
        (1, "overlaps the next version"),
        (2, "gap before the next version"),
        (2, "open range (valid_to null) is not current"),
        (3, "range ends before it starts"),
        (4, "open range (valid_to null) before a later version"),
        (4, "current row has a valid_to"),
    ]
    # without is_current only the ranges are checked; with inclusive ends the next version starts a day later
    assert len(conn.execute(scd2_sql("broken", is_current=None)).fetchall()) == 4
    inclusive = conn.execute(scd2_sql("broken", is_current=None, inclusive_end=True) + " order by 1").fetchall()
    assert [(r[0], r[4]) for r in inclusive] == [
        (1, "overlaps the next version"), (2, "gap before the next version"),
        (4, "open range (valid_to null) before a later version"), (5, "overlaps the next version"),
        (6, "overlaps the next version")]
    with pytest.raises(ValueError, match="give `entity`"):
        scd2_sql("broken", entity=None)


def test_allowed_transitions_passes_with_the_declared_pairs(conn):
    pairs = transition_pairs(load_spec(BASE).stages)
    assert conn.execute(transitions_sql("fct_company_stage", pairs)).fetchall() == []
    as_mappings = [{"from": a, "to": b} for a, b in pairs]
    assert conn.execute(transitions_sql("fct_company_stage", as_mappings)).fetchall() == []


def test_allowed_transitions_catches_undeclared_moves_and_a_wrong_first_stage(conn):
    fewer = [["trial", "active"], ["active", "at_risk"], ["at_risk", "churned"]]  # no way back to active
    bad = conn.execute(transitions_sql("fct_company_stage", fewer)).fetchall()
    assert bad and {(r[2], r[3], r[4]) for r in bad} == {("at_risk", "active", "transition not declared")}
    first = conn.execute(transitions_sql("fct_company_stage", fewer, initial="act'ive")).fetchall()
    assert scalar(conn, "select count(distinct company_id) from fct_company_stage") == \
        sum(r[4] == "first stage is not act'ive" for r in first)
    with pytest.raises(ValueError, match="pair"):
        transitions_sql("fct_company_stage", [["trial", "active", "x"]])
    with pytest.raises(ValueError, match="give `transitions`"):
        transitions_sql("fct_company_stage", [])


def test_registered_tests_cover_keys_ranges_and_transitions():
    plan = plan_for(load_spec(BASE))
    ref = lambda table: f"source('saas', '{table}')"
    history = HistoryComponent().tests(plan, ref)["dim_company_plan_history"]
    assert history["plan_history_id"] == [("unique", None), ("not_null", None)]
    assert ("relationships", {"to": ref("dim_company"), "field": "company_id"}) in history["company_id"]
    assert ("accepted_values", {"values": PLANS}) in history["plan"]
    assert history[""] == [("dbt_plotsim.scd2_no_overlap", {"entity": "company_id", "valid_from": "valid_from",
                                                            "valid_to": "valid_to", "is_current": "is_current"})]
    stages = StagesComponent().tests(plan, ref)["fct_company_stage"]
    allowed = dict(stages["stage"])["dbt_plotsim.allowed_transitions"]
    assert allowed["transitions"] == [["trial", "active"], ["active", "at_risk"], ["at_risk", "active"],
                                      ["at_risk", "churned"]]
    assert allowed["initial"] == "trial"
    assert dict(stages[""])["dbt_plotsim.within_lifetime"] == {
        "entity": "company_id", "entity_model": ref("dim_company"), "first_column": "first_date_key",
        "ended_column": "ended_date_key"}
    for name in ("scd2_no_overlap", "allowed_transitions", "within_lifetime"):  # every test named exists
        assert (MACROS / f"test_{name}.sql").is_file()


# ------------------------------------------------------------------------------ tables and integrity


def test_tables_columns_and_descriptions(tables):
    history = tables["dim_company_plan_history"].schema
    assert history.names == ["plan_history_id", "company_id", "plan", "valid_from", "valid_to", "is_current"]
    assert tables["fct_company_stage"].schema.names == ["company_id", "date_key", "stage"]
    assert "plan" in tables["dim_company"].schema.names
    for schema in (history, tables["fct_company_stage"].schema):
        assert schema.metadata[b"description"]
        assert all(f.metadata[b"description"] for f in schema)
    assert b"valid_to (exclusive, null on the current row)" in history.metadata[b"description"]
    assert b"its last version closes" in history.metadata[b"description"]


def test_one_current_row_per_entity_until_it_ends(conn):
    """An entity that has not ended (or ended in the last period) has exactly one current row; one that ended
    before has none: its last version closes on the first day of the period after its end."""
    assert scalar(conn, "select count(*) from dim_company") == 3100
    last = scalar(conn, "select max(date_key) from dim_date")
    counts = conn.execute(f"""select d.ended_date_key is not null and d.ended_date_key < {last} as gone,
            count(*) filter (where (select count(*) from dim_company_plan_history h
                                    where h.company_id = d.company_id and h.is_current) <> (not gone)::int),
            count(*)
        from dim_company d group by 1 order by 1""").fetchall()
    assert [(gone, wrong) for gone, wrong, _ in counts] == [(False, 0), (True, 0)]
    assert counts[1][2] > 100  # enough ended companies to mean something
    assert scalar(conn, "select count(*) from dim_company_plan_history where is_current <> (valid_to is null)") == 0
    closes = conn.execute("""select count(*), count(*) filter (where h.valid_to <> (select min(period_start)
            from dim_date where date_key > d.ended_date_key))
        from dim_company d join dim_company_plan_history h using (company_id)
        where h.valid_to is not null and not exists (select 1 from dim_company_plan_history n
              where n.company_id = h.company_id and n.valid_from = h.valid_to)""").fetchone()
    assert closes[0] > 100 and closes[1] == 0  # every closed last version closes the period after the end
    assert scalar(conn, """select count(*) from dim_company d join dim_company_plan_history h
        on h.company_id = d.company_id and h.is_current where h.plan <> d.plan""") == 0  # dim holds the current value
    assert scalar(conn, """select count(*) from dim_company d where plan <> (select arg_max(plan, valid_from)
        from dim_company_plan_history h where h.company_id = d.company_id)""") == 0  # or the last one once ended


def test_facts_and_events_carry_the_version_valid_in_their_period(conn, tables):
    """Every fact and event row's plan_history_id is the version of its company whose range holds the
    period's first day; the key is company_id x 100 + the period index the version began (24 periods)."""
    for table in ("fct_engagement", "fct_mrr", "evt_churn"):
        assert "plan_history_id" in tables[table].schema.names
        assert scalar(conn, f"""select count(*) from {table} f
            join dim_date d using (date_key)
            left join dim_company_plan_history h on h.plan_history_id = f.plan_history_id
            where h.company_id is distinct from f.company_id or d.period_start < h.valid_from
               or d.period_start >= coalesce(h.valid_to, date '9999-12-31')""") == 0
    assert scalar(conn, """select count(*) from dim_company_plan_history h join dim_date d
        on d.period_start = h.valid_from where h.plan_history_id <> h.company_id * 100 + d.period_index""") == 0


def test_ranges_start_at_arrival_and_touch_exactly(conn):
    assert scalar(conn, """select count(*) from dim_company d
        where (select min(valid_from) from dim_company_plan_history h where h.company_id = d.company_id)
              <> strptime(d.first_date_key::varchar, '%Y%m%d')::date""") == 0
    assert scalar(conn, """select count(*) from (
        select valid_to, lead(valid_from) over (partition by company_id order by valid_from) as next_from
        from dim_company_plan_history) where next_from is not null and valid_to <> next_from""") == 0


def test_as_of_join_finds_exactly_one_version_per_fact_row(conn):
    matches = conn.execute("""
        select count(*), count(distinct (f.company_id, f.date_key)) from fct_mrr f
        join dim_date d using (date_key)
        join dim_company_plan_history h on h.company_id = f.company_id
         and d.period_start >= h.valid_from and (h.valid_to is null or d.period_start < h.valid_to)""").fetchone()
    assert matches[0] == matches[1] == scalar(conn, "select count(*) from fct_mrr")


def test_changes_only_in_active_periods_after_arrival(conn):
    changes = """select h.*, d.first_date_key, d.ended_date_key,
            strftime(h.valid_from, '%Y%m%d')::int as change_key
        from dim_company_plan_history h join dim_company d using (company_id)
        where h.valid_from > (select min(valid_from) from dim_company_plan_history x where x.company_id = h.company_id)"""
    assert scalar(conn, f"select count(*) from ({changes})") > 1000
    assert scalar(conn, f"""select count(*) from ({changes})
        where change_key <= first_date_key or change_key > coalesce(ended_date_key, 99999999)""") == 0


def test_each_change_is_one_step_its_condition_held(conn):
    """Up: trajectory above 0.7 in the change month and the one before; down: engagement below 0.3 in both."""
    steps = conn.execute("""
        with v as (select company_id, valid_from, lvl,
                          lag(lvl) over (partition by company_id order by valid_from) as before
                   from levels),
        c as (select *, strftime(valid_from, '%Y%m%d')::int as k,
                     strftime(valid_from - interval 1 month, '%Y%m%d')::int as k1
              from v where before is not null)
        select c.lvl - c.before as step,
               min(least(t0.position, t1.position)) as lowest_position,
               max(greatest(e0.engagement, e1.engagement)) as highest_engagement,
               count(*) as n
        from c
        join trajectory t0 on t0.company_id = c.company_id and t0.date_key = c.k
        join trajectory t1 on t1.company_id = c.company_id and t1.date_key = c.k1
        join fct_engagement e0 on e0.company_id = c.company_id and e0.date_key = c.k
        join fct_engagement e1 on e1.company_id = c.company_id and e1.date_key = c.k1
        group by 1 order by 1""").fetchall()
    by_step = {s: (low, high, n) for s, low, high, n in steps}
    assert set(by_step) == {-1, 1}
    assert by_step[1][0] > 0.7 and by_step[-1][1] < 0.3
    assert scalar(conn, "select count(*) from levels") == 3100 + by_step[1][2] + by_step[-1][2]  # all joined


def test_plans_move_up_with_growth_and_down_with_decline(conn):
    rows = conn.execute("""
        with f as (select company_id, arg_min(lvl, valid_from) as first_level, arg_max(lvl, valid_from) as last_level
                   from levels group by 1)
        select segment, avg((last_level > first_level)::int) as up, avg((last_level < first_level)::int) as down,
               avg(first_level)
        from f join dim_company using (company_id) where ended_date_key is null group by 1""").fetchall()
    share = {segment: (up, down, first) for segment, up, down, first in rows}
    # growth starts low (position ~0.2) and ends above 0.7: measured 100% of 1,131 active growers end higher
    assert share["growers"][0] >= 0.95 and share["growers"][1] == 0 and share["growers"][2] < 1.2
    # decline starts high (~0.8, the top plan) and sinks: measured 53% end lower (engagement must stay below 0.3
    # for 2 months), none higher
    assert share["decliners"][1] >= 0.4 and share["decliners"][0] == 0 and share["decliners"][2] > 2.8


def test_initial_value_by_weights_and_by_a_metric():
    spec = spec_with(lambda d: d["history"].extend([
        {"attribute": "region", "values": ["north", "south", "west"], "initial": {"weights": [0.5, 0.3, 0.2]},
         "up_when": {"metric": "mrr", "above": 4900, "for": 50}},
        {"attribute": "seats", "values": ["few", "some", "many"], "initial": {"follows": "mrr"},
         "down_when": {"metric": "mrr", "below": 51, "for": 50}},
    ]))
    tables = dbt_plotsim.generate(spec)
    conn = duckdb.connect()
    conn.register("dim_company", tables["dim_company"])
    conn.register("fct_mrr", tables["fct_mrr"])
    shares = dict(conn.execute("select region, count(*) / 3100 from dim_company group by 1").fetchall())
    # 3,100 draws: a share's standard error is under 0.01; tolerance 0.04
    assert abs(shares["north"] - 0.5) < 0.04 and abs(shares["south"] - 0.3) < 0.04 and abs(shares["west"] - 0.2) < 0.04
    mean = dict(conn.execute("""select seats, avg(m.mrr) from dim_company d
        join fct_mrr m on m.company_id = d.company_id and m.date_key = d.first_date_key
        group by 1""").fetchall())
    assert mean["few"] < mean["some"] < mean["many"]  # the value at arrival picks the initial level
    fixed = spec_with(lambda d: d["history"][0].update(initial={"value": "pro"}))
    conn.register("fixed", dbt_plotsim.generate(fixed)["dim_company_plan_history"])
    assert conn.execute("select distinct arg_min(plan, valid_from) from fixed group by company_id").fetchall() == [("pro",)]


def test_stage_rows_are_exactly_the_active_cells(conn):
    assert scalar(conn, "select count(*) from fct_company_stage") == scalar(conn, "select count(*) from fct_engagement")
    assert scalar(conn, """select count(*) from fct_company_stage s
        anti join fct_engagement e on e.company_id = s.company_id and e.date_key = s.date_key""") == 0


def test_stages_move_only_as_declared_and_when_triggered(conn):
    moves = {(a, b): (n, ok) for a, b, n, ok in conn.execute("""
        with o as (
            select s.*, e.engagement,
                   lag(stage) over w as before,
                   lag(e.engagement) over w as engagement_before,
                   row_number() over w as nth
            from fct_company_stage s join fct_engagement e using (company_id, date_key)
            window w as (partition by company_id order by date_key))
        select before, stage, count(*),
               bool_and(case
                   when before = 'trial' then nth = 2                                   -- after 1 month
                   when stage = 'at_risk' then engagement < 0.35 and engagement_before < 0.35
                   when stage = 'active' then engagement > 0.5
                   when stage = 'churned' then exists (select 1 from evt_churn c
                        where c.company_id = o.company_id and c.date_key = o.date_key)
               end)
        from o where before <> stage group by 1, 2""").fetchall()}
    assert set(moves) == {("trial", "active"), ("active", "at_risk"), ("at_risk", "active"), ("at_risk", "churned")}
    assert all(ok for _, ok in moves.values())
    assert scalar(conn, "select count(*) from fct_company_stage where date_key = (select min(date_key) "
                        "from fct_company_stage x where x.company_id = fct_company_stage.company_id) "
                        "and stage <> 'trial'") == 0


def test_terminal_event_shows_its_stage_on_the_last_row(conn):
    """The churn event moves to churned exactly when the entity was at risk (the only declared source)."""
    rows = conn.execute("""
        with o as (select *, lag(stage) over (partition by company_id order by date_key) as before
                   from fct_company_stage)
        select o.before, o.stage, count(*) from dim_company d
        join o on o.company_id = d.company_id and o.date_key = d.ended_date_key
        group by 1, 2""").fetchall()
    ended = {(before, stage): n for before, stage, n in rows}
    assert sum(ended.values()) == scalar(conn, "select count(*) from evt_churn") > 200
    assert all((stage == "churned") == (before == "at_risk") for before, stage in ended)
    assert ended[("at_risk", "churned")] > 150  # measured 205 of 252; the others churned before being at risk
    assert scalar(conn, """select count(*) from fct_company_stage s join dim_company d using (company_id)
        where s.date_key > d.ended_date_key""") == 0
    assert scalar(conn, """select count(*) from fct_company_stage s join dim_company d using (company_id)
        where s.stage = 'churned' and s.date_key is distinct from d.ended_date_key""") == 0  # always the last row


def test_identical_whatever_the_chunk_size():
    spec = load_spec(BASE)
    small = start(spec, chunk_entities=1024).tables()
    large = start(spec, chunk_entities=100_000).tables()
    assert small["dim_company"].num_rows > 2 * 1024
    for name in ("dim_company", "dim_company_plan_history", "fct_company_stage"):
        assert small[name].equals(large[name]), name


# ------------------------------------------------------------------------------ state machines, unit


def fake_block(active, positions=None, engagement=None, arrival=None, events=None) -> BlockValues:
    active = np.asarray(active, dtype=bool)
    n, periods = active.shape
    segment = SegmentPlan("s", "flat", (), 0.0, n, 1, None)
    zeros = np.zeros((n, periods))
    arrival = np.asarray(arrival if arrival is not None else active.argmax(axis=1))
    values = [np.asarray(engagement, dtype=float) if engagement is not None else zeros]
    return BlockValues(segment, np.arange(1, n + 1), np.asarray(positions if positions is not None else zeros, float),
                       values, [None], arrival, active, events or {})


PLAN = SimpleNamespace(metric_names=["engagement"])


def test_run_lengths_count_consecutive_periods():
    cond = np.array([[1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 0, 1]], dtype=bool)
    assert run_lengths(cond).tolist() == [[1, 2, 0, 1, 2, 3], [0, 0, 0, 0, 0, 1]]


def test_history_steps_once_per_held_run_and_never_outside_activity():
    item = History.model_validate({"attribute": "plan", "values": PLANS,
                                   "up_when": {"above": 0.7, "for": 2}, "down_when": {"below": 0.3, "for": 1}})
    positions = [[0.9] * 8,                            # up at t=1? no: arrival t=0 holds 1, t=1 holds 2 -> up
                 [0.9] * 8,                            # arrives at 3: up at 4, again at 6
                 [0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9],  # ended after t=3: frozen
                 [0.1] * 8]                            # at the bottom: cannot go down
    active = np.ones((4, 8), dtype=bool)
    active[1, :3] = False
    active[2, 4:] = False
    levels = history_levels(PLAN, item, fake_block(active, positions), np.zeros(4, dtype=np.int64))
    assert levels[0].tolist() == [0, 1, 1, 2, 2, 2, 2, 2]
    assert levels[1, 3:].tolist() == [0, 1, 1, 2, 2]
    assert levels[2].tolist() == [0, 1, 1, 2, 2, 2, 2, 2]
    assert levels[3].tolist() == [0] * 8
    entity, period, level, following = history_rows(levels, np.array([0, 3, 0, 0]))
    assert list(zip(entity, period, level, following)) == [
        (0, 0, 0, 1), (0, 1, 1, 3), (0, 3, 2, -1), (1, 3, 0, 4), (1, 4, 1, 6), (1, 6, 2, -1),
        (2, 0, 0, 1), (2, 1, 1, 3), (2, 3, 2, -1), (3, 0, 0, -1)]


def test_history_both_conditions_at_once_change_nothing():
    item = History.model_validate({"attribute": "plan", "values": PLANS,
                                   "up_when": {"above": 0.5, "for": 1},
                                   "down_when": {"metric": "engagement", "below": 0.5, "for": 1}})
    block = fake_block(np.ones((1, 4), bool), positions=[[0.9] * 4], engagement=[[0.1, 0.1, 0.9, 0.9]])
    assert history_levels(PLAN, item, block, np.ones(1, dtype=np.int64)).tolist() == [[1, 1, 2, 2]]


def test_stage_machine_after_when_event_priority_and_first_row():
    stages = Stages.model_validate({"states": STATES, "transitions": [
        {"from": "trial", "to": "active", "after": 2},
        {"from": "active", "to": "at_risk", "when": {"metric": "engagement", "below": 0.3, "for": 1}},
        {"from": ["active", "at_risk"], "to": "churned", "event": "churn"},
    ]})
    engagement = [[0.1] * 6, [0.9, 0.9, 0.9, 0.1, 0.9, 0.9], [0.9] * 6]
    active = np.ones((3, 6), dtype=bool)
    active[1, 4:] = False  # ended by its churn at t=3
    churn = EventRows(np.array([2, 3]), np.array([3, 0]), np.zeros(2, dtype=np.int64))  # entity 3: at arrival
    block = fake_block(active, engagement=engagement, events={"churn": churn})
    matrix = stage_matrix(PLAN, stages, block).tolist()
    # trial for 2 periods, then active; the condition already held, but one transition per period
    assert matrix[0] == [0, 0, 1, 2, 2, 2]
    # the churn event wins over the at_risk condition in the same period; frozen after
    assert matrix[1] == [0, 0, 1, 3, 3, 3]
    # the arrival period is always the initial stage, even when an event fires in it
    assert matrix[2] == [0, 0, 1, 1, 1, 1]


# ------------------------------------------------------------------------------------------ validation


def problems_of(data: dict) -> list:
    with pytest.raises(SpecError) as err:
        load_spec(data)
    return err.value.problems


def history_edit(**changes):
    return lambda d: d["history"][0].update(changes)


def stage_edit(index, **changes):
    return lambda d: d["stages"]["transitions"][index].update(changes)


CASES = [
    (history_edit(values=["starter"]), "history.plan.values", "needs at least two values to change between"),
    (history_edit(values=["a", "b", "a"]), "history.plan.values", "'a' is listed 2 times"),
    (lambda d: d["history"].append(copy.deepcopy(d["history"][0])), "history.plan", "used more than once"),
    (history_edit(attribute="segment"), "history.segment.attribute", "already a column of dim_company"),
    (history_edit(attribute="valid_to"), "history.valid_to.attribute", "already a column"),
    (history_edit(up_when={"metric": "engagment", "above": 0.5}), "history.plan.up_when.metric",
     "unknown metric 'engagment'"),
    (history_edit(up_when={"metric": "trajectory", "above": 1.2}), "history.plan.up_when.above",
     "outside the values trajectory can take, [0, 1]"),
    (history_edit(down_when={"metric": "mrr", "below": 10}), "history.plan.down_when.below", "[50, 5000]"),
    (history_edit(down_when={"metric": "mrr"}), "history.plan.down_when", "give `below` or `above`"),
    (history_edit(up_when=None, down_when=None), "history.plan", "give `up_when`, `down_when` or both"),
    (history_edit(initial={}), "history.plan.initial", "give one of `follows`"),
    (history_edit(initial={"value": "pro", "follows": "mrr"}), "history.plan.initial", "give one of"),
    (history_edit(initial={"value": "gold"}), "history.plan.initial.value", "'gold' is not one of the values"),
    (history_edit(initial={"weights": [0.5, 0.5]}), "history.plan.initial.weights", "2 weights for 3 values"),
    (history_edit(initial={"weights": [0.5, 0.5, 0.5]}), "history.plan.initial.weights", "add up to 1"),
    (history_edit(initial={"follows": "revenue"}), "history.plan.initial.follows", "unknown metric 'revenue'"),
    (lambda d: d["stages"].update(states=["trial"]), "stages.states", "needs at least two states"),
    (lambda d: d["stages"].update(states=[*STATES, "trial"]), "stages.states", "'trial' is listed 2 times"),
    (lambda d: d["stages"].update(initial="lead"), "stages.initial", "'lead' is not a state"),
    (lambda d: d["stages"].update(transitions=[]), "stages.transitions", "list at least one transition"),
    (stage_edit(2, to="actve"), "stages.transitions[2].to", "did you mean 'active'?"),
    (stage_edit(0, **{"from": "trail"}), "stages.transitions[0].from", "unknown stage 'trail'"),
    (stage_edit(3, **{"from": ["at_risk", "lost"]}), "stages.transitions[3].from", "unknown stage 'lost'"),
    (stage_edit(0, to="trial"), "stages.transitions[0].to", "a transition changes the stage"),
    (stage_edit(0, after=None), "stages.transitions[0]", "give one trigger"),
    (stage_edit(0, event="churn"), "stages.transitions[0]", "got ['after', 'event']"),
    (stage_edit(3, event="chrun"), "stages.transitions[3].event", "unknown event 'chrun'"),
    (stage_edit(1, when={"metric": "engagment", "below": 0.3}), "stages.transitions[1].when.metric", "unknown metric"),
    (stage_edit(1, when={"metric": "engagement", "below": 1.5}), "stages.transitions[1].when.below",
     "outside the values engagement can take"),
    (lambda d: d.update(tables={"facts": [{"name": "fct_company_stage", "metrics": ["engagement", "mrr"]}]}),
     "tables.facts.fct_company_stage", "fct_company_stage is already the stage table"),
]


@pytest.mark.parametrize("edit,path,fragment", CASES, ids=[f"{c[1]}:{c[2][:24]}" for c in CASES])
def test_every_mistake_names_its_path(edit, path, fragment):
    problems = problems_of(spec_with(edit))
    assert any(p.path == path and fragment in p.message for p in problems), problems


def test_all_mistakes_are_reported_at_once():
    edits = [history_edit(values=["starter"], initial={"value": "gold"}), stage_edit(2, to="actve"),
             stage_edit(3, event="chrun"), lambda d: d["stages"].update(initial="lead")]
    paths = [p.path for p in problems_of(spec_with(*edits))]
    assert paths == sorted(paths)
    assert {"history.plan.values", "history.plan.initial.value", "stages.transitions[2].to",
            "stages.transitions[3].event", "stages.initial"} <= set(paths)


def test_the_valid_spec_loads_and_stages_default_to_the_first_state():
    data = spec_with(lambda d: d["stages"].pop("initial"))
    assert load_spec(data).stages.start == "trial"


def test_structural_errors_in_a_history_item_name_the_attribute():
    problems = problems_of(spec_with(history_edit(up_when={"above": 0.7, "for": 0})))
    assert any(p.path == "history.plan.up_when.for" for p in problems), problems


@pytest.mark.parametrize("as_of", ["2024-05-10", "2025-02-01", None])
def test_the_current_table_is_the_state_a_source_shows_at_the_clock(as_of):
    """dim_company_plan_current holds one row per company arrived and not ended by as_of: the value and the
    valid_from (as updated_at) of its current version."""
    data = spec_with(lambda d: d["history"][0].update(current_table=True))
    tables = start(load_spec(data, as_of=as_of)).tables()
    conn = registered(tables)
    current = tables["dim_company_plan_current"]
    assert current.schema.names == ["company_id", "plan", "updated_at"]
    expected = conn.execute("""select company_id, plan, valid_from::timestamp from dim_company_plan_history
        where is_current order by 1""").fetchall()
    assert conn.execute("select * from dim_company_plan_current order by 1").fetchall() == expected
    alive = conn.execute("""select count(*) from dim_company where ended_date_key is null
        or ended_date_key = (select max(date_key) from fct_engagement)""").fetchone()[0]
    assert len(expected) == alive > 1000
