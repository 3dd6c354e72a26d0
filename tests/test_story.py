"""The kept story (story.py): the chunks before the clock are the same at every as_of of a story; a source
generated before its window's end keeps them, the next load replays them instead of running the engine, and
anything that does not match (another story, a changed file, a forced run) is drawn again, with the same rows."""
from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from dbt_plotsim.engine.pipeline import Generation, start
from dbt_plotsim.materialize import generate_parquet, materialize
from dbt_plotsim.sources import SyntheticSource
from dbt_plotsim.story import RECORD, STAGING_PREFIX
from tests.test_loads import spec

A, B = "2023-05-15", "2024-02-01"


def source(as_of):
    return SyntheticSource("saas", "raw", spec(as_of), "duckdb", None)


def kept(database: Path) -> Path:
    return database.parent / f".{database.name}.plotsim" / "story-raw-saas"


def contents(conn, tables) -> dict[str, list[tuple]]:
    return {t: conn.execute(f'select * from raw."{t}" order by all').fetchall() for t in tables}


@pytest.fixture(scope="module")
def full_at_b(tmp_path_factory):
    conn = duckdb.connect(str(tmp_path_factory.mktemp("full") / "b.duckdb"))
    outcome = materialize(source(B), conn)
    return contents(conn, outcome.tables)


@pytest.fixture
def drawn(monkeypatch):
    """How many times the engine drew the story."""
    calls = []
    real = Generation._chunks

    def counted(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(Generation, "_chunks", counted)
    return calls


def test_the_story_before_the_clock_is_the_same_at_every_as_of():
    stories = [list(start(spec(as_of), chunk_entities=2048).story()) for as_of in (A, B, None)]
    first = stories[0]
    assert any(name.startswith("_plotsim_") for t in first[1].values() for name in t.column_names)  # hidden columns
    for other in stories[1:]:
        assert [list(c) for c in other] == [list(c) for c in first]
        assert all(other[i][name].equals(first[i][name]) for i in range(len(first)) for name in first[i])


def test_a_load_replays_the_kept_story_and_equals_a_full_generation(tmp_path, full_at_b, drawn):
    database = tmp_path / "grow.duckdb"
    conn = duckdb.connect(str(database))
    materialize(source(A), conn)
    record = json.loads((kept(database) / RECORD).read_text())
    assert record["chunks"] and len(drawn) == 1
    outcome = materialize(source(B), conn)
    assert outcome.status == "appended" and len(drawn) == 1  # replayed, not drawn again
    assert contents(conn, outcome.tables) == full_at_b
    assert kept(database).is_dir()  # B is before the window's end: a later load can follow
    assert materialize(source(None), conn).status == "appended" and len(drawn) == 1
    assert not kept(database).parent.exists()  # the window's end: nothing more to append


def test_no_story_is_kept_at_the_window_end_or_in_memory(tmp_path):
    database = tmp_path / "end.duckdb"
    materialize(source(None), duckdb.connect(str(database)))
    assert not (tmp_path / ".end.duckdb.plotsim").exists()
    assert materialize(source(A), duckdb.connect()).status == "generated"
    assert [p.name for p in tmp_path.iterdir()] == ["end.duckdb"]


def _other_story(folder: Path) -> None:
    record = json.loads((folder / RECORD).read_text())
    (folder / RECORD).write_text(json.dumps({**record, "story": "0" * 16}))


def _other_version(folder: Path) -> None:
    record = json.loads((folder / RECORD).read_text())
    (folder / RECORD).write_text(json.dumps({**record, "version": "0.0.0"}))


def _largest(folder: Path) -> Path:
    return max(folder.glob("*/*.arrow"), key=lambda p: p.stat().st_size)


def _altered(folder: Path) -> None:  # same size, one byte changed, in a table every load reads whole
    path = max(folder.glob("*/dim_account.arrow"), key=lambda p: p.stat().st_size)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [
    _other_story, _other_version, _altered,
    lambda folder: _largest(folder).unlink(),
    lambda folder: open(_largest(folder), "ab").write(b"x"),
    lambda folder: (folder / RECORD).write_text("{not json"),
], ids=["other story", "other version", "altered", "missing file", "resized file", "unreadable record"])
def test_a_story_that_does_not_match_is_drawn_again(tmp_path, full_at_b, drawn, damage):
    database = tmp_path / "d.duckdb"
    conn = duckdb.connect(str(database))
    materialize(source(A), conn)
    damage(kept(database))
    outcome = materialize(source(B), conn)
    assert outcome.status == "appended" and len(drawn) == 2
    assert contents(conn, outcome.tables) == full_at_b
    assert json.loads((kept(database) / RECORD).read_text())["story"] != "0" * 16  # kept again, right


def test_a_forced_run_draws_the_story_again(tmp_path, drawn):
    conn = duckdb.connect(str(tmp_path / "f.duckdb"))
    materialize(source(A), conn)
    assert materialize(source(A), conn, force=True).status == "generated" and len(drawn) == 2


def test_staging_a_killed_run_left_is_removed(tmp_path):
    database = tmp_path / "k.duckdb"
    left = database.parent / f".{database.name}.plotsim" / f"{STAGING_PREFIX}dead"
    (left / "000000").mkdir(parents=True)
    materialize(source(A), duckdb.connect(str(database)))
    assert not left.exists() and kept(database).is_dir()


def test_parquet_sets_keep_their_story_in_their_store(tmp_path, drawn):
    out = tmp_path / "set"
    generate_parquet(spec(A), out)
    story = tmp_path / ".set.plotsim" / "story"
    assert (story / RECORD).is_file()
    outcome = generate_parquet(spec(B), out)
    assert outcome.status == "appended" and len(drawn) == 1 and (story / RECORD).is_file()
    whole = tmp_path / "whole"
    generate_parquet(spec(B), whole)
    conn = duckdb.connect()
    manifest = json.loads((out / "_plotsim_manifest.json").read_text())
    for table, files in manifest["files"].items():
        listed = ", ".join(f"'{out / f}'" for f in files)
        grown = conn.execute(f"select * from read_parquet([{listed}]) order by all").fetchall()
        assert grown == conn.execute(f"select * from read_parquet('{whole / table}.parquet') order by all").fetchall()
    assert sorted(os.listdir(tmp_path)) == [".set.plotsim", ".whole.plotsim", "set", "whole"]
    assert generate_parquet(spec(None), out).status == "appended" and len(drawn) == 2  # `whole` drew once
    assert not story.exists()


def test_a_story_that_cannot_be_written_is_given_up_and_the_output_is_whole(tmp_path, full_at_b, monkeypatch):
    import dbt_plotsim.story as story

    real = story._keep_chunk
    failed = []

    def failing(folder, chunk, shown):
        if folder.name == "000002":
            failed.append(folder)
            raise OSError(28, "No space left on device")
        return real(folder, chunk, shown)

    monkeypatch.setattr(story, "_keep_chunk", failing)
    database = tmp_path / "full.duckdb"
    conn = duckdb.connect(str(database))
    outcome = materialize(source(B), conn, chunk_entities=1024)
    assert failed and contents(conn, outcome.tables) == full_at_b
    assert list((tmp_path / ".full.duckdb.plotsim").iterdir()) == []  # neither a story nor its staging


def test_an_engine_failure_while_keeping_the_story_still_fails_the_load(tmp_path, monkeypatch):
    real = Generation._chunks

    def failing(self):
        for number, chunk in enumerate(real(self)):
            if number == 2:
                raise OSError("disk went away")
            yield chunk

    monkeypatch.setattr(Generation, "_chunks", failing)
    database = tmp_path / "e.duckdb"
    conn = duckdb.connect(str(database))
    with pytest.raises(Exception, match="disk went away"):
        materialize(source(A), conn, chunk_entities=1024)
    assert conn.execute("select count(*) from information_schema.tables where table_schema = 'raw'").fetchone()[0] == 0
    assert list((tmp_path / ".e.duckdb.plotsim").iterdir()) == []
