"""The on-disk plan cache: a hit gives the bytes a fresh calibration gives; a bad cache is never an error."""
from __future__ import annotations

import hashlib
import json

import pytest

from dbt_plotsim.api import load_spec, write_parquet
from dbt_plotsim.engine import plan as plan_module
from dbt_plotsim.engine import plan_cache

from .conftest import small_dict


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("PLOTSIM_CACHE_DIR", str(folder))
    monkeypatch.delenv("PLOTSIM_CACHE", raising=False)
    plan_module._build_cached.cache_clear()  # the in-process cache would hide the disk
    yield folder
    plan_module._build_cached.cache_clear()


def _bytes(spec: dict, out) -> dict[str, str]:
    plan_module._build_cached.cache_clear()
    write_parquet(load_spec(spec), out)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.parquet"))}


def test_a_cached_plan_writes_the_same_bytes_as_a_fresh_calibration(cache, tmp_path, monkeypatch):
    spec = small_dict()
    cold = _bytes(spec, tmp_path / "cold")
    entries = list(cache.glob("plan-*.pickle"))
    assert len(entries) == 1
    calls = []
    monkeypatch.setattr(plan_module, "_build", lambda s: calls.append(s) or pytest.fail("calibrated again"))
    warm = _bytes(spec, tmp_path / "warm")
    assert warm == cold and calls == []


def test_another_spec_or_seed_is_another_entry(cache):
    spec = small_dict()
    load_spec(spec)
    load_spec({**spec, "seed": spec["seed"] + 1})
    assert len(list(cache.glob("plan-*.pickle"))) == 2
    assert plan_cache.key(json.dumps(spec)) != plan_cache.key(json.dumps({**spec, "seed": 4}))


def test_a_corrupt_entry_is_computed_again_and_replaced(cache, tmp_path):
    spec = small_dict()
    cold = _bytes(spec, tmp_path / "cold")
    (entry,) = cache.glob("plan-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert _bytes(spec, tmp_path / "again") == cold
    assert entry.read_bytes() != b"not a pickle"


def test_an_unwritable_cache_runs_without_it(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("PLOTSIM_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    plan_module._build_cached.cache_clear()
    assert load_spec(small_dict()).seed == 3


def test_off_writes_nothing(cache, monkeypatch):
    monkeypatch.setenv("PLOTSIM_CACHE", "off")
    load_spec(small_dict())
    assert not cache.exists()


def test_entries_beyond_the_limit_are_pruned(cache, monkeypatch):
    monkeypatch.setattr(plan_cache, "MAX_ENTRIES", 2)
    for seed in range(4):
        load_spec({**small_dict(), "seed": seed})
    assert len(list(cache.glob("plan-*.pickle"))) == 2
