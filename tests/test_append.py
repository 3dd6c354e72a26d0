"""Append mode (state.py, clock.Since, the DuckDB writer's append): when only `window.as_of` moved forward, the
new periods are appended and the result equals a full generation at the new as_of, row for row, whatever the
steps; anything else regenerates, and a failed append leaves the tables as they were."""
from __future__ import annotations

import copy
import json

import duckdb
import numpy as np
import pytest
import yaml

import dbt_plotsim
from dbt_plotsim.engine.pipeline import Generation, start
from dbt_plotsim.materialize import materialize
from dbt_plotsim.sources import SyntheticSource
from dbt_plotsim.state import APPEND, REGENERATE, SKIP, STATE_TABLE, Recorded, decide
from dbt_plotsim.templates import text
from dbt_plotsim.writers.duckdb import STAGING

# every kind of table (arrivals, churn, sub-entities that leave, transactions and lines, a bridge, history, stages)
SAAS = yaml.safe_load(text("saas"))
A, B = "2023-05-15", "2024-08-01"


def source(as_of: str | None, output: str = "duckdb", path=None, **edits) -> SyntheticSource:
    data = copy.deepcopy(SAAS)
    data.update(edits)
    return SyntheticSource("saas", "raw", dbt_plotsim.load_spec(data, scale=0.05, as_of=as_of), output, path)


def rows(conn, table: str) -> list[tuple]:
    columns = ", ".join(f'"{r[0]}"' for r in conn.execute(f"describe raw.{table}").fetchall())
    return conn.execute(f"select * from raw.{table} order by {columns}").fetchall()


def snapshot(conn, tables) -> dict[str, list[tuple]]:
    return {t: rows(conn, t) for t in tables}


@pytest.fixture(scope="module")
def full_at_b(tmp_path_factory):
    conn = duckdb.connect(str(tmp_path_factory.mktemp("full") / "b.duckdb"))
    outcome = materialize(source(B), conn)
    yield outcome, snapshot(conn, outcome.tables)
    conn.close()


@pytest.mark.parametrize("story", ["replayed", "drawn"])
@pytest.mark.parametrize("steps", [[A, B], [A, "2023-06-01", "2023-11-30", "2024-01-01", B]], ids=["one", "several"])
def test_appending_equals_a_full_generation(tmp_path, full_at_b, steps, story, monkeypatch):
    if story == "drawn":  # no story kept (story.py): every load draws it again
        monkeypatch.setattr("dbt_plotsim.materialize._told", lambda generation, store, force=False: generation)
    conn = duckdb.connect(str(tmp_path / "grow.duckdb"))
    first = materialize(source(steps[0]), conn)
    assert first.status == "generated"
    before = snapshot(conn, first.tables)
    if story == "replayed":  # the engine is not run again
        monkeypatch.setattr(Generation, "_chunks", lambda self: pytest.fail("the story was drawn again"))
    for as_of in steps[1:]:
        outcome = materialize(source(as_of), conn)
        assert outcome.status == "appended", outcome.detail
    full, expected = full_at_b
    assert snapshot(conn, full.tables) == expected
    grown, _ = start(source(B).spec).layout()
    assert {"fct_account_monthly", "evt_user_login", "fct_invoice", "fct_invoice_line"} <= set(grown)
    for table in grown:  # rows written at A are still there, untouched, in every growing table
        after = set(rows(conn, table))
        assert set(before[table]) <= after and len(after) > len(before[table]), table
    recorded = conn.execute(f"select as_of, last_period_key, total_rows from raw.{STATE_TABLE}").fetchone()
    assert (str(recorded[0]), recorded[1]) == (B, 20240801)
    assert recorded[2] == sum(len(v) for v in expected.values())
    assert conn.execute("select count(*) from information_schema.tables where starts_with(table_name, ?)",
                        [STAGING]).fetchone()[0] == 0


def test_only_as_of_moving_forward_appends(tmp_path):
    conn = duckdb.connect(str(tmp_path / "s.duckdb"))
    assert materialize(source(A), conn).status == "generated"
    assert materialize(source(A), conn).status == "skipped"
    assert materialize(source("2023-05-31"), conn).status == "appended"  # same period: nothing new, still fine
    back = materialize(source("2023-02-01"), conn)
    assert back.status == "generated" and "moved back" in back.detail
    assert materialize(source(A, seed=99), conn).detail == "the spec changed beyond window.as_of"
    assert materialize(source(B, seed=99), conn).status == "appended"
    conn.execute("delete from raw.fct_invoice where invoice_id % 2 = 0")  # edited by hand: start over
    assert materialize(source(None, seed=99), conn).detail == "tables missing or changed since the last run"
    assert materialize(source(B, seed=99), conn, force=True).detail == "forced"


def test_parquet_appends_a_file_per_load_and_keeps_the_earlier_ones(tmp_path, full_at_b):
    conn = duckdb.connect(str(tmp_path / "p.duckdb"))
    out = tmp_path / "parquet"
    assert materialize(source(A, "parquet", out), conn).status == "generated"
    first = {p.name: p.stat().st_ino for p in out.resolve().glob("*.parquet")}
    for as_of in ("2023-11-30", B):
        moved = materialize(source(as_of, "parquet", out), conn)
        assert moved.status == "appended", moved.detail
    now = {p.name: p.stat().st_ino for p in out.resolve().glob("*.parquet")}
    assert {"fct_account_monthly.20231101.parquet", "fct_account_monthly.20240801.parquet",
            "evt_user_login.20240801.parquet"} <= set(now)
    grown, _ = start(source(B).spec).layout()
    for table in grown + ["dim_date"]:  # earlier files are the same files, not rewritten
        assert now[f"{table}.parquet"] == first[f"{table}.parquet"], table
    full, expected = full_at_b
    assert snapshot(conn, full.tables) == expected
    manifest = json.loads((out / "_plotsim_manifest.json").read_text())
    assert manifest["files"]["fct_account_monthly"] == [
        "fct_account_monthly.parquet", "fct_account_monthly.20231101.parquet", "fct_account_monthly.20240801.parquet"]
    again = materialize(source(B, "parquet", out), conn)
    assert again.status == "skipped", again.detail
    same_period = materialize(source("2024-08-20", "parquet", out), conn)  # nothing new: a fresh name, no overwrite
    assert same_period.status == "appended" and snapshot(conn, full.tables) == expected
    assert materialize(source(A, "parquet", out), conn).status == "generated"  # back: one file per table again
    assert sorted(p.name for p in out.resolve().glob("fct_account_monthly*")) == ["fct_account_monthly.parquet"]


def test_a_failed_append_changes_nothing(tmp_path, monkeypatch):
    conn = duckdb.connect(str(tmp_path / "f.duckdb"))
    first = materialize(source(A), conn, chunk_entities=1024)  # the kept story's chunks: one per block
    before = snapshot(conn, first.tables + [STATE_TABLE])
    from dbt_plotsim.engine import pipeline

    real = pipeline.Generation.chunks

    def failing(self):
        for number, chunk in enumerate(real(self)):
            if number == 2:
                raise OSError("disk went away")
            yield chunk

    monkeypatch.setattr(pipeline.Generation, "chunks", failing)
    with pytest.raises(Exception, match="disk went away"):
        materialize(source(B), conn)
    assert snapshot(conn, first.tables + [STATE_TABLE]) == before
    assert conn.execute("select count(*) from information_schema.tables where starts_with(table_name, ?)",
                        [STAGING]).fetchone()[0] == 0


def recorded(**changes) -> Recorded:
    base = dict(spec_hash="s1", story_hash="t1", package_version="v", output="duckdb", total_rows=10,
                last_period_key=20240301)
    return Recorded(**{**base, **changes})


KEYS = np.array([20240101, 20240201, 20240301, 20240401, 20240501])


@pytest.mark.parametrize("state, now, expected", [
    (None, {}, REGENERATE),
    (recorded(), {}, SKIP),
    (recorded(), {"skip_unchanged": False}, APPEND),  # the CLI: never skips, appends nothing new
    (recorded(), {"spec_hash": "s2"}, APPEND),
    (recorded(), {"spec_hash": "s2", "story_hash": "t2"}, REGENERATE),
    (recorded(), {"counted": 9}, REGENERATE),
    (recorded(), {"present": False}, REGENERATE),
    (recorded(package_version="old"), {}, REGENERATE),
    (recorded(last_period_key=None), {"spec_hash": "s2"}, REGENERATE),  # state written before as_of existed
    (recorded(last_period_key=20240501), {"spec_hash": "s2"}, REGENERATE),  # moved back
    (recorded(last_period_key=20240315), {"spec_hash": "s2"}, REGENERATE),  # not a period of this window
])
def test_decide(state, now, expected):
    arguments = dict(spec_hash="s1", story_hash="t1", version="v", output="duckdb", present=True, counted=10,
                     period_keys=KEYS, last=3, skip_unchanged=True)
    decision = decide(state, **{**arguments, **now})
    assert decision.action == expected, decision
    if expected == APPEND:
        assert decision.since == 2


def test_a_source_whose_tables_another_overwrote_is_regenerated(tmp_path):
    """Two sources writing the same tables into one schema: the state of the one overwritten is dropped, so
    it regenerates instead of appending to (or skipping over) the other's rows."""
    conn = duckdb.connect(str(tmp_path / "shared.duckdb"))
    first = source(A)
    second = SyntheticSource("other", "raw", source(A, seed=5).spec, "duckdb", None)
    assert materialize(first, conn).status == "generated"
    assert materialize(second, conn).status == "generated"
    assert conn.execute(f"select source_name from raw.{STATE_TABLE}").fetchall() == [("other",)]
    again = materialize(source(B), conn)
    assert again.status == "generated" and again.detail == "no earlier run recorded"


def test_appending_up_to_the_window_end_rewrites_the_truth_of_the_whole_window(tmp_path):
    """At the window's end no clock cuts the rows; the truth tables still see every period, not the new ones."""
    end = SAAS["window"]["end"]
    conn = duckdb.connect(str(tmp_path / "grow.duckdb"))
    materialize(source("2025-10-15"), conn)
    outcome = materialize(source(str(end)), conn)
    assert outcome.status == "appended", outcome.detail
    whole = duckdb.connect(str(tmp_path / "whole.duckdb"))
    full = materialize(source(str(end)), whole)
    truth = [t for t in full.tables if t.startswith("_plotsim_truth")]
    assert len(truth) == 3 and snapshot(conn, truth) == snapshot(whole, truth)
