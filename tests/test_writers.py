"""Writers are atomic: a failed generation leaves the previous tables and files exactly as they were."""
import subprocess
import sys

import duckdb
import pytest

import dbt_plotsim
from dbt_plotsim import templates
from dbt_plotsim.errors import WriteError
from dbt_plotsim.writers.duckdb import write_duckdb as write_generation_duckdb
from dbt_plotsim.writers.parquet import write_parquet as write_generation_parquet

from .conftest import small_dict


class FailingGeneration:
    """A generation that breaks after its first entity chunk, like a crash halfway through."""

    def __init__(self, spec):
        self.inner = dbt_plotsim.stream(spec, chunk_entities=1024)
        self.schemas = self.inner.schemas
        self.row_counts = self.inner.row_counts
        self.workers, self.since = 1, None

    def chunks(self):
        for index, chunk in enumerate(self.inner.chunks()):
            if index == 2:
                raise RuntimeError("simulated failure halfway")
            yield chunk


def _bigger():
    spec = small_dict()
    spec["segments"][0]["count"] = 2100
    return spec


def test_duckdb_failure_keeps_previous_tables(tmp_path):
    db = tmp_path / "w.duckdb"
    dbt_plotsim.write_duckdb(small_dict(), db, "saas")
    with duckdb.connect(str(db)) as conn:
        before = conn.execute("select count(*), sum(mrr) from saas.fct_mrr").fetchone()
    with pytest.raises(RuntimeError):
        write_generation_duckdb(FailingGeneration(_bigger()), db, "saas")
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("select count(*), sum(mrr) from saas.fct_mrr").fetchone() == before
        assert conn.execute("select count(*) from saas.dim_account").fetchone()[0] == 100


def test_duckdb_failure_on_fresh_schema_creates_nothing(tmp_path):
    db = tmp_path / "w.duckdb"
    with pytest.raises(RuntimeError):
        write_generation_duckdb(FailingGeneration(_bigger()), db, "fresh")
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("select count(*) from duckdb_tables() where schema_name = 'fresh'").fetchone()[0] == 0


def test_parquet_failure_keeps_previous_files(tmp_path):
    out = tmp_path / "pq"
    dbt_plotsim.write_parquet(small_dict(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(RuntimeError):
        write_generation_parquet(FailingGeneration(_bigger()), out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # same files, same bytes, no staging directory left behind


def test_parquet_removes_tables_the_new_spec_no_longer_makes(tmp_path):
    out = tmp_path / "pq"
    spec = small_dict()
    dbt_plotsim.write_parquet(spec, out)
    assert (out / "fct_tickets.parquet").exists()
    spec["metrics"] = spec["metrics"][:2]
    dbt_plotsim.write_parquet(spec, out)
    assert not (out / "fct_tickets.parquet").exists()
    assert (out / "fct_mrr.parquet").exists()


def test_locked_duckdb_file_gives_a_clear_error(tmp_path):
    db = tmp_path / "locked.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WriteError, match="open in another process"):
            dbt_plotsim.write_duckdb(small_dict(), db, "saas")
    finally:
        holder.kill()
        holder.wait()


def test_tables_carry_descriptions(tmp_path):
    db = tmp_path / "w.duckdb"
    dbt_plotsim.write_duckdb(small_dict(), db, "saas")
    with duckdb.connect(str(db)) as conn:
        comment = conn.execute(
            "select comment from duckdb_columns() where table_name = 'fct_mrr' and column_name = 'mrr'"
        ).fetchone()[0]
    assert "follows engagement by 2 months" in comment


def test_tables_filled_in_one_transaction_read_back_in_the_same_connection():
    # more than one DuckDB row group (122,880 rows) per insert: what the saas template's logins need
    spec = dbt_plotsim.load_spec(templates.load("saas"), scale=0.1)
    expected = {name: table.num_rows for name, table in dbt_plotsim.generate(spec).items()}
    assert expected["evt_user_login"] > 122_880
    with duckdb.connect(":memory:") as conn:
        dbt_plotsim.write_duckdb(spec, conn, "raw")
        counts = {name: conn.execute(f'select count(*) from raw."{name}"').fetchall()[0][0] for name in expected}
        assert counts == expected
        assert conn.execute("select count(*) from raw.evt_user_login join raw.dim_user using (user_id)").fetchall() \
            == [(expected["evt_user_login"],)]


def test_column_types_follow_arrow(tmp_path):
    spec = dbt_plotsim.load_spec(templates.load("saas"), scale=0.01)
    with duckdb.connect(":memory:") as conn:
        dbt_plotsim.write_duckdb(spec, conn, "raw")
        types = dict(conn.execute("select column_name, data_type from information_schema.columns "
                                  "where table_name = 'fct_invoice'").fetchall())
    assert types == {"invoice_id": "BIGINT", "account_id": "BIGINT", "date_key": "INTEGER",
                     "occurred_at": "TIMESTAMP_S", "amount": "DECIMAL(18,2)"}
