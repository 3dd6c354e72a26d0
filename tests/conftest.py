"""Shared fixtures: the README's SaaS example and a small spec for fast tests."""
from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).parent / "data"

# Calibrated plans are cached between processes (engine/plan_cache.py): the tests keep theirs in a folder of
# their own (set before any test or subprocess starts), never in the user's ~/.cache.
os.environ.setdefault("PLOTSIM_CACHE_DIR", tempfile.mkdtemp(prefix="plotsim-test-cache-"))


def example_dict() -> dict:
    return yaml.safe_load((DATA / "saas_example.yml").read_text())


def small_dict() -> dict:
    """Small but complete: 3 segments, 12 months, 3 metrics, a correlation, a lag and noise."""
    return {
        "about": "test accounts",
        "unit": "account",
        "window": {"start": "2024-01-01", "end": "2024-12-31", "grain": "month"},
        "seed": 3,
        "metrics": [
            {"name": "engagement", "type": "score"},
            {"name": "mrr", "type": "amount", "range": [50, 50000]},
            {"name": "tickets", "type": "count", "polarity": "negative"},
        ],
        "segments": [
            {"name": "growers", "count": 40, "archetype": "growth"},
            {"name": "churners", "count": 30, "archetype": "churn"},
            {"name": "steady", "count": 30, "archetype": "flat"},
        ],
        "correlations": [{"between": ["engagement", "mrr"], "r": 0.7}],
        "lags": [{"metric": "mrr", "follows": "engagement", "periods": 2, "weight": 0.5}],
        "noise": {"gaussian": 0.05, "outliers": 0.01, "missing": 0.02},
    }


def tiny_dict() -> dict:
    """Tiny: 2 segments x 20 entities, 12 monthly periods, 3 metrics, one correlation, one lag."""
    return {
        "unit": "account",
        "window": {"start": "2024-01", "end": "2024-12-31", "grain": "month"},
        "seed": 7,
        "metrics": [
            {"name": "engagement", "type": "score"},
            {"name": "mrr", "type": "amount", "distribution": "lognormal", "range": [50, 50000]},
            {"name": "support_tickets", "type": "count", "distribution": "poisson", "polarity": "negative"},
        ],
        "segments": [
            {"name": "growers", "count": 20, "archetype": "growth"},
            {"name": "churners", "count": 20, "archetype": "churn"},
        ],
        "correlations": [{"between": ["engagement", "mrr"], "r": 0.5}],
        "lags": [{"metric": "support_tickets", "follows": "engagement", "periods": 2}],
    }


def assert_problem(spec: dict, path: str, fragment: str) -> None:
    """Loading `spec` fails with a problem at exactly `path` whose message contains `fragment`."""
    from dbt_plotsim import SpecError, load_spec

    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert any(p.path == path and fragment in p.message for p in err.value.problems), err.value.problems


@pytest.fixture
def example() -> dict:
    return example_dict()


@pytest.fixture
def small() -> dict:
    return copy.deepcopy(small_dict())


def registered(tables: dict):
    """An in-memory DuckDB with every generated Arrow table registered under its name."""
    import duckdb

    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)
    return connection


def truth_of_other_tables(tables: dict, left_out: set[str]) -> list[tuple]:
    """The truth figures of every table but `left_out` (the truth tables sum every table, so a change to one
    table shows in its own rows of `_plotsim_truth` and in the delivered relations only)."""
    truth = tables["_plotsim_truth"].to_pylist()
    return sorted((tuple(row.values()) for row in truth if row["table_name"] not in left_out), key=str)


def generated(root: Path, spec: dict, name: str, *options: str) -> Path:
    """`dbt-plotsim generate` of `spec` (written to <root>/<name>.yml) into <root>/<name>.duckdb."""
    from dbt_plotsim.cli import main

    path = root / f"{name}.yml"
    path.write_text(yaml.safe_dump(spec))
    database = root / f"{name}.duckdb"
    assert main(["generate", str(path), "--out", str(database), *options]) == 0
    return database

