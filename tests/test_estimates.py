"""Row estimates before generation (what `info` prints) and chunk sizes that keep fan-out within budget."""
from __future__ import annotations

import copy

import pytest

from dbt_plotsim import load_spec
from dbt_plotsim.engine import pipeline
from dbt_plotsim.engine.pipeline import start

SPEC: dict = {
    "unit": "store",
    "window": {"start": "2024-01-01", "end": "2025-12-31", "grain": "month"},
    "seed": 4,
    "metrics": [{"name": "engagement", "type": "score"}, {"name": "visits", "type": "count", "mean": 6}],
    "segments": [{"name": "early", "count": 1500, "archetype": "flat", "arrivals": {"pattern": "ramp_down"}},
                 {"name": "late", "count": 1500, "archetype": "growth", "arrivals": {"pattern": "ramp_up", "from": 0.2}}],
    "events": [{"name": "visit", "rate": {"mean": 3, "follows": "visits"}}],
    "transactions": [{"name": "sale", "per_period": {"mean": 2}, "amount": {"range": [1, 100]},
                      "lines": {"min": 1, "max": 5}}],
    "children": [{"name": "clerk", "per_parent": {"min": 2, "max": 2},
                  "events": [{"name": "shift", "rate": {"mean": 4}}]}],
}


@pytest.fixture(scope="module")
def generation():
    return start(load_spec(SPEC))


@pytest.fixture(scope="module")
def actual(generation):
    return {name: table.num_rows for name, table in generation.tables().items()}


@pytest.mark.parametrize("table,tolerance", [
    ("fct_engagement", 0.02), ("trajectory", 0.02),  # cells from arrival on: exact up to the arrival draws
    ("evt_visit", 0.03), ("fct_sale", 0.03), ("fct_sale_line", 0.03),  # Poisson around the expected rate
    ("dim_clerk", 0.0), ("evt_clerk_shift", 0.03), ("dim_date", 0.0), ("dim_store", 0.0),
])
def test_estimates_are_close_without_a_terminal_event(generation, actual, table, tolerance):
    assert generation.row_counts()[table] == pytest.approx(actual[table], rel=tolerance, abs=0.5)


def test_estimates_follow_the_terminal_event_the_pilot_saw():
    """With a terminal event, entity-period and event rows come from the calibration pilot (same streams,
    a fixed sample of each segment): within 5% of what is generated, not the no-churn upper bound."""
    data = copy.deepcopy(SPEC)
    data["events"].append({"name": "close", "when": {"metric": "engagement", "below": 0.3, "for": 2}, "terminal": True})
    generation = start(load_spec(data))
    rows = {name: table.num_rows for name, table in generation.tables().items()}
    estimates = generation.row_counts()
    upper_bound = start(load_spec(SPEC)).row_counts()["fct_engagement"]
    assert rows["fct_engagement"] < 0.95 * upper_bound  # the event ends a real share of lives
    for table in ("fct_engagement", "evt_close", "evt_visit"):
        assert estimates[table] == pytest.approx(rows[table], rel=0.05), table


def test_heavy_fan_out_gets_smaller_chunks(monkeypatch):
    light = start(load_spec(SPEC)).chunk_blocks
    monkeypatch.setattr(pipeline, "CHUNK_BUDGET", pipeline.CHUNK_BUDGET // 32)  # as if each row were 32x wider
    heavy = start(load_spec(SPEC)).chunk_blocks
    assert heavy < light
    assert start(load_spec(SPEC), chunk_entities=4096).chunk_blocks == 4  # an explicit size wins
