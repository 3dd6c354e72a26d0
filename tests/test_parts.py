"""Blocks whose fan-out would pass the memory budget are generated in parts (engine/parts.py): the block's own
tables do not change, the fan-out tables stay whole and consistent, the bytes do not depend on chunking or
workers, and memory stays bounded by the part budget instead of growing with the rates."""
from __future__ import annotations

import copy
import tracemalloc

import duckdb
import numpy as np
import pytest

from dbt_plotsim.engine import parts
from dbt_plotsim.engine.block import block_base
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim import load_spec

from .conftest import tiny_dict

# Every kind of fan-out (a rate event a stage moves on, sub-entities with events, transactions with lines)
# beside tables that do not fan out (facts, trajectory, stages).
SPEC: dict = {
    **tiny_dict(),
    "segments": [{"name": "growers", "count": 300, "archetype": "growth"},
                 {"name": "churners", "count": 150, "archetype": "churn"}],
    "events": [{"name": "ticket", "rate": {"mean": 3, "follows": "support_tickets"}}],
    "children": [{"name": "user", "per_parent": {"min": 1, "max": 6},
                  "events": [{"name": "login", "rate": {"mean": 4}}]}],
    "transactions": [{"name": "order", "per_period": {"mean": 2, "follows": "engagement"},
                      "amount": {"distribution": "lognormal", "range": [5, 900], "follows": "mrr", "signal": 0.6},
                      "lines": {"min": 1, "max": 4, "quantity": [1, 3]}}],
    "stages": {"states": ["new", "active", "troubled"], "initial": "new", "transitions": [
        {"from": "new", "to": "active", "after": 1},
        {"from": "active", "to": "troubled", "event": "ticket"},
        {"from": "troubled", "to": "active", "after": 2}]},
}
FANOUT = ["evt_ticket", "dim_user", "evt_user_login", "fct_order", "fct_order_line"]
SMALL = 96 * 1024  # bytes per part: the 300-entity block splits into dozens of parts


def tables(budget: int | None = None, monkeypatch=None, **options) -> dict:
    if budget is not None:
        monkeypatch.setattr(parts, "PART_BUDGET", budget)
    return start(load_spec(copy.deepcopy(SPEC)), **options).tables()


@pytest.fixture(scope="module")
def whole():
    return tables()


@pytest.fixture
def split(monkeypatch):
    return tables(SMALL, monkeypatch)


def test_spans_cover_the_block_in_order_each_under_the_budget(monkeypatch):
    monkeypatch.setattr(parts, "PART_BUDGET", SMALL)
    generation = start(load_spec(copy.deepcopy(SPEC)))
    block = block_base(generation.plan, generation.plan.segments[0], 0)
    need = parts.fanout_bytes(generation.plan, generation.schemas, block)
    ranges = parts.spans(generation.plan, generation.schemas, block)
    assert len(ranges) > 10
    assert ranges[0][0] == 0 and ranges[-1][1] == len(block.ids)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    for lo, hi in ranges:  # under the budget, or one entity alone
        assert need[lo:hi].sum() <= SMALL + need[lo:hi].max()
    monkeypatch.setattr(parts, "PART_BUDGET", 10**12)
    assert parts.spans(generation.plan, generation.schemas, block) is None


def test_a_block_that_fits_keeps_its_bytes(whole, monkeypatch):
    """Blocks under the budget draw from their whole-block streams, as before parts existed."""
    again = tables(10**12, monkeypatch)
    assert all(again[name].equals(whole[name]) for name in whole)


def test_tables_that_do_not_fan_out_are_identical(whole, split):
    assert set(split) == set(whole)
    truth = {name for name in whole if name.startswith("_plotsim_truth")}  # figures of the fan-out tables too
    for name in set(whole) - set(FANOUT) - {"fct_account_stage"} - truth:
        assert split[name].equals(whole[name]), name
    # dim_user is drawn from no stream: its rows are the same, only cut into parts
    assert split["dim_user"].equals(whole["dim_user"])


def test_fan_out_tables_stay_whole_and_consistent(whole, split):
    conn = duckdb.connect()
    for name, table in split.items():
        conn.register(name, table)
    # lines come in groups of 1-4 per order: a variance E[L^2] / E[L] = 3 times the Poisson one
    for table, key, spread in [("evt_ticket", "ticket_id", 1), ("evt_user_login", "user_login_id", 1),
                               ("fct_order", "order_id", 1), ("fct_order_line", "order_line_id", 3)]:
        n, distinct, low, high = conn.execute(f"select count(*), count(distinct {key}), min({key}), max({key}) "
                                              f"from {table}").fetchone()
        assert n == distinct == high and low == 1, table
        expected = whole[table].num_rows  # other draws, the same rates: totals within 5 sigma
        assert abs(n - expected) < 5 * np.sqrt(spread * expected) + 5, (table, n, expected)
    orphans = conn.execute("""select
        (select count(*) from evt_user_login e anti join dim_user u using (user_id)),
        (select count(*) from fct_order_line l anti join fct_order o using (order_id)),
        (select count(*) from evt_ticket e anti join fct_engagement f
            on e.account_id = f.account_id and e.date_key = f.date_key),
        (select count(*) from (select order_id, sum(amount) s from fct_order_line group by 1) l
            join fct_order o using (order_id) where l.s <> o.amount)""").fetchone()
    assert orphans == (0, 0, 0, 0)
    ordered = conn.execute("select bool_and(ok) from (select account_id >= lag(account_id, 1, 0) over "
                           "(order by order_id) ok from fct_order)").fetchone()[0]
    assert ordered


def test_stages_see_the_rate_events_of_every_part(whole, split):
    """A stage that moves on a rate event moves where that event fired, in whichever part it was drawn."""
    conn = duckdb.connect()
    for name in ("fct_account_stage", "evt_ticket"):
        conn.register(name, split[name])
    wrong = conn.execute("""
        with moved as (select account_id, date_key, stage, lag(stage) over (partition by account_id
                       order by date_key) before from fct_account_stage)
        select count(*) from moved m where before = 'active' and stage = 'troubled'
          and not exists (select 1 from evt_ticket e where e.account_id = m.account_id and e.date_key = m.date_key)
    """).fetchone()[0]
    moves = conn.execute("select count(*) from (select stage, lag(stage) over (partition by account_id order by "
                         "date_key) before from fct_account_stage) where before = 'active' and stage = 'troubled'")
    assert wrong == 0 and moves.fetchone()[0] > 20


def test_split_output_does_not_depend_on_chunks_or_workers(split, monkeypatch):
    for options in ({"chunk_entities": 1}, {"workers": 2}):
        again = tables(SMALL, monkeypatch, **options)
        assert all(again[name].equals(split[name]) for name in split), options


def _peak_while_streaming(budget, monkeypatch, rate) -> int:
    spec = copy.deepcopy(SPEC)
    spec["events"] = [{"name": "ticket", "rate": {"mean": rate}}]
    spec.pop("children"), spec.pop("transactions"), spec.pop("stages")
    monkeypatch.setattr(parts, "PART_BUDGET", budget)
    generation = start(load_spec(spec))
    tracemalloc.start()
    try:
        for chunk in generation.chunks():
            del chunk
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_follows_the_part_budget_not_the_rate(monkeypatch):
    """numpy allocations (traced): 20x the events cost no more memory at the same part budget."""
    budget = 8 * 1024**2
    low = _peak_while_streaming(budget, monkeypatch, rate=50)  # about 0.6M events
    high = _peak_while_streaming(budget, monkeypatch, rate=1000)  # about 13M events, 350 MB of rows
    assert high < 2.5 * budget + 16 * 1024**2, (low, high)
    assert high < 1.5 * low + 8 * 1024**2, (low, high)
