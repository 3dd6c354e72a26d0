"""Same spec + seed = same values and bytes, whatever the chunk size or workers; names isolate streams."""
import copy
import hashlib
from pathlib import Path

import duckdb
import numpy as np

import dbt_plotsim

from .conftest import small_dict


def _big_enough() -> dict:
    """Segments spanning several 1024-entity blocks, so chunking really splits them."""
    spec = small_dict()
    spec["segments"][0]["count"] = 2500
    spec["segments"][1]["count"] = 1100
    return spec


def test_chunk_size_and_workers_do_not_change_tables():
    spec = _big_enough()
    reference = dbt_plotsim.generate(spec, chunk_entities=1024)
    for kwargs in ({"chunk_entities": 3000}, {"chunk_entities": 100000}, {"chunk_entities": 2048, "workers": 2}):
        other = dbt_plotsim.generate(spec, **kwargs)
        for name, table in reference.items():
            assert table.equals(other[name]), (name, kwargs)


def _digest(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.glob("*.parquet"))}


def test_parquet_bytes_identical_across_chunk_sizes(tmp_path):
    spec = _big_enough()
    dbt_plotsim.write_parquet(spec, tmp_path / "a", chunk_entities=1024)
    dbt_plotsim.write_parquet(spec, tmp_path / "b", chunk_entities=8192, workers=2)
    dbt_plotsim.write_parquet(spec, tmp_path / "c", chunk_entities=1024)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") == _digest(tmp_path / "c")
    assert len(_digest(tmp_path / "a")) == 9  # six tables and three truth tables


def test_duckdb_tables_identical_across_chunk_sizes(tmp_path):
    spec = _big_enough()
    db = tmp_path / "w.duckdb"
    dbt_plotsim.write_duckdb(spec, db, "one", chunk_entities=1024)
    dbt_plotsim.write_duckdb(spec, db, "two", chunk_entities=16384, workers=2)
    with duckdb.connect(str(db)) as conn:
        for table in ("dim_date", "dim_account", "fct_engagement", "fct_mrr", "fct_tickets", "trajectory"):
            one = conn.sql(f"select * from one.{table}").to_arrow_table()
            two = conn.sql(f"select * from two.{table}").to_arrow_table()
            assert one.equals(two), table


def test_different_seed_changes_values():
    spec = small_dict()
    other = copy.deepcopy(spec)
    other["seed"] = 4
    a, b = dbt_plotsim.generate(spec), dbt_plotsim.generate(other)
    assert not a["fct_engagement"].equals(b["fct_engagement"])


def _values(tables, metric):
    return tables[f"fct_{metric}"].column(metric).to_numpy(zero_copy_only=False)


def test_adding_an_uncorrelated_metric_changes_no_other_values():
    spec = small_dict()
    more = copy.deepcopy(spec)
    more["metrics"].insert(1, {"name": "logins", "type": "count", "mean": 9})  # inserted mid-list on purpose
    a, b = dbt_plotsim.generate(spec), dbt_plotsim.generate(more)
    for metric in ("engagement", "mrr", "tickets"):
        assert np.array_equal(_values(a, metric), _values(b, metric), equal_nan=True), metric
    assert a["trajectory"].equals(b["trajectory"])


def test_appending_a_correlated_metric_changes_no_other_values():
    spec = small_dict()
    more = copy.deepcopy(spec)
    more["metrics"].append({"name": "seats", "type": "count", "mean": 5})
    more["correlations"].append({"between": ["engagement", "seats"], "r": 0.5})
    a, b = dbt_plotsim.generate(spec), dbt_plotsim.generate(more)
    for metric in ("engagement", "mrr", "tickets"):
        assert np.array_equal(_values(a, metric), _values(b, metric), equal_nan=True), metric


def test_growing_a_segment_keeps_existing_entities():
    spec = small_dict()
    more = copy.deepcopy(spec)
    more["segments"][2]["count"] += 25  # the last segment: no id shifts
    a, b = dbt_plotsim.generate(spec), dbt_plotsim.generate(more)
    n = a["trajectory"].num_rows
    assert a["trajectory"].equals(b["trajectory"].slice(0, n))
