"""Parquet output is replaced as one set: regeneration through dbt, failures, stale debris, foreign files,
crafted manifests and a second writer."""
from __future__ import annotations

import fcntl
import json
import os

import duckdb
import pyarrow.parquet as pq
import pytest

import dbt_plotsim
from dbt_plotsim.errors import WriteError
from dbt_plotsim.plugin import handle
from dbt_plotsim.writers.parquet_set import ParquetSet

from .conftest import small_dict


def _request(block, project_dir, force=False):
    return json.dumps({"source": "saas", "schema": "raw", "block": block, "project_dir": str(project_dir),
                       "force": force})


def _seed_in_files(out) -> set[int]:
    """The seed each table's manifest was written with, read through the output link."""
    manifest = json.loads((out / "_plotsim_manifest.json").read_text())
    assert all((out / f"{t}.parquet").exists() for t in manifest["tables"])
    return {manifest["seed"]}


def _store(out):
    return out.parent / f".{out.name}.plotsim"


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_dbt_parquet_source_regenerates_with_force_and_after_a_seed_change(conn, tmp_path):
    block = {**small_dict(), "output": "parquet", "path": "pq"}
    out = tmp_path / "pq"
    for seed, force, status in ((3, False, "generated"), (3, False, "skipped"), (3, True, "generated"),
                                (11, False, "generated"), (11, True, "generated")):
        outcome = json.loads(handle(_request({**block, "seed": seed}, tmp_path, force), conn))
        assert outcome["status"] == status, outcome
        state_seed = conn.execute("select seed from raw._plotsim_state").fetchone()[0]
        assert state_seed == seed and _seed_in_files(out) == {seed}
        assert conn.execute("select count(*) from raw.fct_mrr").fetchone()[0] == 1200
    versions = [e.name for e in _store(out).iterdir() if e.name.startswith("v")]
    assert len(versions) == 1  # the old sets are gone


def test_a_failed_dbt_run_leaves_the_files_state_and_views_as_they_were(conn, tmp_path, monkeypatch):
    block = {**small_dict(), "output": "parquet", "path": "pq"}
    handle(_request(block, tmp_path), conn)
    out = tmp_path / "pq"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import dbt_plotsim.materialize as materialize

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(materialize, "_record_relations", broken)
    outcome = json.loads(handle(_request({**block, "seed": 12}, tmp_path), conn))
    assert outcome["status"] == "bug"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert conn.execute("select seed from raw._plotsim_state").fetchone()[0] == 3
    assert conn.execute("select count(*) from raw.fct_mrr").fetchone()[0] == 1200  # views still read files
    assert sorted(e.name for e in _store(out).iterdir() if not e.name.startswith(".")) == ["v000001"]


def test_duckdb_tables_and_parquet_views_replace_each_other(conn, tmp_path):
    block = small_dict()
    handle(_request(block, tmp_path), conn)
    assert json.loads(handle(_request({**block, "output": "parquet", "path": "pq"}, tmp_path), conn))["status"] == "generated"
    assert json.loads(handle(_request(block, tmp_path), conn))["status"] == "generated"
    kind = conn.execute("select table_type from information_schema.tables where table_name = 'fct_mrr'").fetchall()
    assert kind == [("BASE TABLE",)]


def test_debris_of_a_killed_run_is_removed_by_the_next(tmp_path):
    out = tmp_path / "pq"
    dbt_plotsim.write_parquet(small_dict(), out)
    store = _store(out)
    (store / "staging-killed").mkdir()
    (store / "staging-killed" / "fct_mrr.parquet").write_bytes(b"half")
    (store / "v000007").mkdir()  # renamed into place, never pointed at
    os.symlink("v000007", store / "link-123")
    dbt_plotsim.write_parquet(small_dict(), out)
    left = [e.name for e in store.iterdir() if not e.name.startswith(".")]
    assert left == [os.path.basename(os.readlink(out))]  # only the version the link points at


def test_a_plain_directory_of_ours_is_adopted(tmp_path):
    out = tmp_path / "pq"
    out.mkdir()
    (out / "fct_mrr.parquet").write_bytes(b"old")
    (out / "_plotsim_manifest.json").write_text(json.dumps({"tables": ["fct_mrr"]}))
    dbt_plotsim.write_parquet(small_dict(), out)
    assert out.is_symlink() and pq.read_metadata(out / "fct_mrr.parquet").num_rows == 1200


def test_a_crafted_manifest_never_deletes_outside_the_output(tmp_path):
    victim = tmp_path / "victim.parquet"
    victim.write_bytes(b"keep me")
    out = tmp_path / "pq"
    out.mkdir()
    (out / "_plotsim_manifest.json").write_text(json.dumps({"tables": ["../victim", "/etc/passwd"]}))
    dbt_plotsim.write_parquet(small_dict(), out)
    assert victim.read_bytes() == b"keep me"
    dbt_plotsim.write_parquet(small_dict(), out)
    assert victim.read_bytes() == b"keep me"


def test_a_directory_with_other_files_is_refused(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(WriteError, match="holds files this package did not write"):
        dbt_plotsim.write_parquet(small_dict(), out)
    assert (out / "notes.txt").read_text() == "mine" and not out.is_symlink()


def test_a_second_writer_is_told_to_wait(tmp_path):
    out = tmp_path / "pq"
    dbt_plotsim.write_parquet(small_dict(), out)
    with open(_store(out) / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(WriteError, match="another generation is writing"):
            dbt_plotsim.write_parquet(small_dict(), out)


def test_the_link_only_ever_points_at_a_complete_version(tmp_path):
    out = tmp_path / "pq"
    with ParquetSet(out) as files:
        assert files.current() is None
    dbt_plotsim.write_parquet(small_dict(), out)
    target = os.readlink(out)
    assert target == os.path.join(_store(out).name, "v000001")
