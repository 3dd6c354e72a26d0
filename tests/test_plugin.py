"""The plugin's SQL function: generate, skip when unchanged, force, and report mistakes as JSON."""
import json

import duckdb
import pytest

from dbt_plotsim.plugin import FUNCTION, Plugin, handle

from .conftest import small_dict


def _request(block, force=False, source="saas", schema="raw", project_dir="."):
    return json.dumps({"source": source, "schema": schema, "block": block, "project_dir": str(project_dir),
                       "force": force})


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_generates_then_skips_then_forces(conn):
    first = json.loads(handle(_request(small_dict()), conn))
    truth = sum(conn.execute(f"select count(*) from raw.{t}").fetchone()[0]
                for t in ("_plotsim_truth", "_plotsim_truth_relations", "_plotsim_truth_lags"))
    assert first["status"] == "generated" and first["rows"] == 12 + 100 + 4 * 1200 + truth and truth > 0
    assert conn.execute("select count(*) from raw.fct_mrr").fetchall()[0][0] == 1200
    assert json.loads(handle(_request(small_dict()), conn))["status"] == "skipped"
    assert json.loads(handle(_request(small_dict(), force=True), conn))["status"] == "generated"
    changed = small_dict()
    changed["seed"] = 99
    assert json.loads(handle(_request(changed), conn))["status"] == "generated"


def test_records_state_and_relations(conn):
    handle(_request(small_dict()), conn)
    state = conn.execute("select source_name, seed, output from raw._plotsim_state").fetchall()
    assert state == [("saas", 3, "duckdb")]
    relations = conn.execute("select kind, metric, other, value, scope from raw._plotsim_relations "
                             "order by kind, metric").fetchall()
    assert relations == [("correlation", "engagement", "mrr", 0.7, "pooled"), ("lag", "mrr", "engagement", 2.0, "pooled"),
                         *(("missing_rate", m, None, 0.02, "mcar") for m in ("engagement", "mrr", "tickets"))]


def test_a_dropped_table_is_regenerated(conn):
    handle(_request(small_dict()), conn)
    conn.execute("drop table raw.fct_mrr")
    assert json.loads(handle(_request(small_dict()), conn))["status"] == "generated"


def test_rows_deleted_by_hand_are_regenerated(conn):
    handle(_request(small_dict()), conn)
    conn.execute("delete from raw.fct_mrr where account_id = 1")
    assert json.loads(handle(_request(small_dict()), conn))["status"] == "generated"
    assert conn.execute("select count(*) from raw.fct_mrr").fetchone()[0] == 1200
    assert json.loads(handle(_request(small_dict()), conn))["status"] == "skipped"


def test_bad_spec_reports_prefixed_problems_and_writes_nothing(conn):
    block = small_dict()
    block["metrics"][1]["range"] = [500, 50]
    outcome = json.loads(handle(_request(block), conn))
    assert outcome["status"] == "error"
    assert any(p.startswith("sources.saas.config.meta.synthetic.metrics.mrr.range:") for p in outcome["problems"])
    assert conn.execute("select count(*) from duckdb_tables() where schema_name = 'raw'").fetchall()[0][0] == 0


def test_parquet_output_gives_views_over_files(conn, tmp_path):
    block = {**small_dict(), "output": "parquet", "path": "pq"}
    outcome = json.loads(handle(_request(block, project_dir=tmp_path), conn))
    assert outcome["status"] == "generated"
    assert (tmp_path / "pq" / "fct_mrr.parquet").exists()
    kind = conn.execute("select table_type from information_schema.tables where table_name = 'fct_mrr'").fetchall()
    assert kind == [("VIEW",)]
    assert conn.execute("select count(*) from raw.fct_mrr").fetchall()[0][0] == 1200
    # and back to tables: the views are replaced
    assert json.loads(handle(_request(small_dict()), conn))["status"] == "generated"


def test_function_registered_on_connection(conn):
    Plugin("plotsim", None, {}).configure_connection(conn)
    answer = conn.execute(f"select {FUNCTION}(?)", [_request(small_dict())]).fetchall()[0][0]
    assert json.loads(answer)["status"] == "generated"
    assert conn.execute("select count(*) from raw.dim_account").fetchall()[0][0] == 100
