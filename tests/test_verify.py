"""`dbt-plotsim verify` passes on fresh output and names what fails after one value is changed."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from dbt_plotsim import cli

from .conftest import generated

SPEC = Path(__file__).parent / "data" / "saas_example.yml"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    assert cli.main(["generate", str(SPEC), "--out", str(root / "w.duckdb"), "--schema", "raw", "--scale", "0.2"]) == 0
    assert cli.main(["generate", str(SPEC), "--out", str(root / "set"), "--scale", "0.2"]) == 0
    return root


def _copy(fresh: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    (shutil.copytree if (fresh / name).is_dir() else shutil.copy)(fresh / name, target)
    return target


def test_fresh_output_verifies(fresh, capsys):
    assert cli.main(["verify", "--duckdb", str(fresh / "w.duckdb"), "--schema", "raw"]) == 0
    out = capsys.readouterr().out
    assert "every check holds" in out and "checked keys" in out and "checked truth" in out
    assert cli.main(["verify", "--parquet", str(fresh / "set")]) == 0


def test_one_changed_value_in_a_fact_table_fails_naming_it(fresh, tmp_path, capsys):
    db = _copy(fresh, tmp_path, "w.duckdb")
    with duckdb.connect(str(db)) as conn:
        conn.execute("update raw.fct_mrr set mrr = mrr + 1 where company_id = (select min(company_id) from raw.fct_mrr)"
                     " and date_key = (select max(date_key) from raw.fct_mrr)")
    assert cli.main(["verify", "--duckdb", str(db), "--schema", "raw"]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert any("fct_mrr changed since generation" in line for line in failed), failed
    assert any("fct_mrr.mrr sum" in line for line in failed), failed


def test_a_broken_key_is_named(fresh, tmp_path, capsys):
    db = _copy(fresh, tmp_path, "w.duckdb")
    with duckdb.connect(str(db)) as conn:
        conn.execute("update raw.fct_engagement set company_id = 999999 where rowid = 0")
    assert cli.main(["verify", "--duckdb", str(db), "--schema", "raw"]) == 1
    out = capsys.readouterr().out
    assert "fct_engagement.company_id: 1 values without a row in dim_company" in out, out


def test_one_changed_value_in_a_parquet_file_fails(fresh, tmp_path, capsys):
    folder = _copy(fresh, tmp_path, "set")
    path = folder / "fct_mrr.parquet"
    table = pq.read_table(path)
    values = table["mrr"].to_pylist()
    values[0] = (values[0] or 0) + 1
    pq.write_table(table.set_column(table.schema.get_field_index("mrr"), "mrr",
                                    pa.array(values, table["mrr"].type)), path)
    assert cli.main(["verify", "--parquet", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "file fct_mrr.parquet changed since generation" in out and "fct_mrr.mrr sum" in out, out


def test_declared_totals_are_checked(tmp_path, capsys):
    spec = yaml.safe_load(SPEC.read_text())
    spec["metrics"][1]["total"] = {"start": 200000, "growth": 0.01}
    db = generated(tmp_path, spec, "totals", "--scale", "0.2")
    assert cli.main(["verify", "--duckdb", str(db)]) == 0
    assert "checked totals: 24 period totals" in capsys.readouterr().out
    with duckdb.connect(str(db)) as conn:  # one cent more on one row
        conn.execute("update fct_mrr set mrr = mrr + 0.01 where rowid = 0")
    assert cli.main(["verify", "--duckdb", str(db)]) == 1
    out = capsys.readouterr().out
    assert "totals: fct_mrr.mrr in period 20240101 adds up to" in out and "(metrics.mrr.total)" in out, out
