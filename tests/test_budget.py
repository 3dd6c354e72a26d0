"""Specs beyond what one block or one source may hold are refused up front with the estimate; output larger
than the free disk is refused before anything is written."""
from __future__ import annotations

import time
from collections import namedtuple

import pytest

import dbt_plotsim
from dbt_plotsim.engine import budget
from dbt_plotsim.errors import SpecError, WriteError

from .conftest import tiny_dict


def _bomb(**parts) -> dict:
    spec = tiny_dict()
    spec.update(parts)
    return spec


@pytest.mark.parametrize("spec,path,fragment", [
    (_bomb(events=[{"name": "click", "rate": {"mean": 100000}}],  # 3.7e8 clicks per account
           window={"start": "2024-01-01", "end": "2033-12-31", "grain": "day"}), "events.click", "the rows of one account"),
    (_bomb(children=[{"name": "user", "per_parent": {"min": 100000, "max": 100000},
                      "events": [{"name": "login", "rate": {"mean": 1000}}]}]), "children.user", "the rows of one account"),
    (_bomb(transactions=[{"name": "order", "per_period": {"mean": 100000},
                          "amount": {"distribution": "lognormal", "range": [20, 100000]},
                          "lines": {"min": 1000, "max": 1000, "mean": 1000}}]), "transactions.order",
     "the rows of one account"),
    (_bomb(events=[{"name": "click", "rate": {"mean": 100000}}],
           segments=[{"name": "everyone", "count": 20000, "archetype": "flat"}]), "events.click", "one source may have"),
    (_bomb(segments=[{"name": "everyone", "count": 100_000_000, "archetype": "flat"}],
           window={"start": "2024-01", "end": "2026-12-31", "grain": "month"}), "metrics.engagement",
     "one source may have"),
], ids=["event-rate", "children-events", "transaction-lines", "events-in-all", "entities"])
def test_fan_out_bombs_are_refused_with_the_estimate(spec, path, fragment):
    began = time.perf_counter()
    with pytest.raises(SpecError) as err:
        dbt_plotsim.load_spec(spec)
    assert time.perf_counter() - began < 60  # refused from estimates, nothing generated
    assert any(p.path == path and fragment in p.message and "rows" in p.message for p in err.value.problems), err.value


def test_a_block_past_the_budget_is_accepted_and_generated_in_parts():
    """1e5 events per account and month pass what one block may hold (48M rows for 40 accounts), but not what
    one account may: parts.py generates such blocks a few accounts at a time."""
    spec = dbt_plotsim.load_spec(_bomb(events=[{"name": "click", "rate": {"mean": 100000}}]))
    generation = dbt_plotsim.stream(spec)
    assert generation.row_counts()["evt_click"] > 40_000_000
    assert not budget.check(generation)


def test_output_larger_than_the_free_disk_is_refused(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(budget.shutil, "disk_usage", lambda path: usage(10_000, 9_000, 1_000))
    with pytest.raises(WriteError, match="free some space"):
        dbt_plotsim.write_parquet(tiny_dict(), tmp_path / "out")
    with pytest.raises(WriteError, match="free some space"):
        dbt_plotsim.write_duckdb(tiny_dict(), tmp_path / "w.duckdb")
    assert not (tmp_path / "out").exists() and not (tmp_path / "w.duckdb").exists()
