"""Interrupts stop a generation and leave the previous output; bugs are one line plus a saved traceback."""
from __future__ import annotations

import json
import os
import random
import signal

import duckdb
import pytest

from dbt_plotsim import cli, interrupts, materialize, plugin
from dbt_plotsim.interrupts import Interrupted
from dbt_plotsim.writers.duckdb import STAGING

from .killing import trial


def test_a_signal_inside_finish_first_waits_until_the_block_is_done():
    steps = []
    with pytest.raises(Interrupted) as err:
        with interrupts.finish_first():
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("finished")
    interrupts.drain()
    assert steps == ["finished"] and err.value.done and err.value.exit_code == 130


def test_watched_signals_are_seen_between_chunks():
    previous = signal.signal(signal.SIGINT, lambda *a: None)  # dbt's own handler, say
    try:
        interrupts.watch()
        interrupts.drain()  # what earlier tests (or the dbt plugin) left
        interrupts.check()  # nothing yet
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(Interrupted):
            interrupts.check()
    finally:
        interrupts.unwatch()
        signal.signal(signal.SIGINT, previous)


def test_a_bug_is_one_line_and_the_traceback_is_saved(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli, "_run", lambda args: (_ for _ in ()).throw(RuntimeError("engine broke")))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert cli.main(["templates"]) == cli.EXIT_BUG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bug in dbt-plotsim" in err and "RuntimeError: engine broke" in err
    saved = list(tmp_path.glob("dbt-plotsim-bug-*.txt"))
    assert len(saved) == 1 and "Traceback" in saved[0].read_text()


# Every format x signal with PLOTSIM_FULL=1 (and scripts/kill_trials.py for many random moments); CI runs a
# slice that still covers each format and each signal once.
FULL = os.environ.get("PLOTSIM_FULL") == "1"
GENERATION_CASES = [(f, s) for f in ("duckdb", "parquet") for s in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)] \
    if FULL else [("duckdb", signal.SIGINT), ("parquet", signal.SIGTERM), ("duckdb", signal.SIGKILL)]
APPEND_CASES = [(f, s) for f in ("duckdb", "parquet") for s in (signal.SIGINT, signal.SIGKILL)] \
    if FULL else [("duckdb", signal.SIGKILL), ("parquet", signal.SIGINT)]


@pytest.mark.parametrize("fmt, signum", GENERATION_CASES)
def test_a_signalled_generation_leaves_old_or_new_output(tmp_path, fmt, signum):
    result = trial(tmp_path, fmt, signum, random.Random(f"{fmt}{signum}"), {})
    assert result["left"] in ("old", "new"), result
    assert result["next_run"] == 0 and result["debris_after_next"] == [], result
    if signum != signal.SIGKILL and result["exit"] > 0:  # < 0: the signal came before Python was set up
        assert result["exit"] == 128 + signum and "interrupted" in result["stderr"][0], result


@pytest.mark.parametrize("fmt, signum", APPEND_CASES)
def test_a_signalled_append_leaves_old_or_new_output(tmp_path, fmt, signum):
    result = trial(tmp_path, fmt, signum, random.Random(f"append{fmt}{signum}"), {}, append=True)
    assert result["left"] in ("old", "new"), result
    assert result["next_run"] == 0 and result["debris_after_next"] == [], result


def _watched(action):
    previous = signal.signal(signal.SIGINT, lambda *a: None)  # dbt's own handler, say
    try:
        interrupts.watch()
        return action()
    finally:
        interrupts.unwatch()
        signal.signal(signal.SIGINT, previous)


def _request() -> str:
    from .conftest import small_dict

    return json.dumps({"source": "s", "schema": "raw", "block": small_dict(), "project_dir": "."})


def test_a_signal_before_the_request_stops_it_too():
    """Ctrl-C during dbt's start-up, once the plugin watches, is not forgotten when our function runs."""
    conn = duckdb.connect()

    def run():
        os.kill(os.getpid(), signal.SIGINT)  # seen by the watch, before dbt called us
        return json.loads(plugin.handle(_request(), conn))

    answer = _watched(run)
    assert answer["status"] == "interrupted"
    assert conn.execute("select count(*) from information_schema.tables where table_schema = 'raw'").fetchone()[0] == 0


def test_a_signal_while_the_spec_is_planned_stops_before_anything_is_written(monkeypatch):
    """The spec is loaded and calibrated before the first chunk: a Ctrl-C then is not forgotten."""
    conn = duckdb.connect()
    planned = materialize.stream

    def stream_then_signal(*args, **kwargs):
        generation = planned(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return generation

    monkeypatch.setattr(materialize, "stream", stream_then_signal)
    answer = _watched(lambda: json.loads(plugin.handle(_request(), conn)))
    assert answer["status"] == "interrupted" and "previous output is unchanged" in answer["problems"][0]
    assert conn.execute("select count(*) from information_schema.tables where table_schema = 'raw'").fetchone()[0] == 0


def test_a_plain_keyboard_interrupt_inside_dbt_is_reported_as_ours(monkeypatch):
    """dbt's own SIGINT handler raises KeyboardInterrupt wherever our code is: the answer is still our line."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(plugin, "_log", lambda message: logged.append(message))
    logged: list[str] = []
    import dbt_plotsim.materialize as module

    monkeypatch.setattr(module, "materialize", interrupted)
    answer = json.loads(plugin.handle(_request(), duckdb.connect()))
    assert answer["status"] == "interrupted" and "previous output is unchanged" in answer["problems"][0]
    assert logged == [f"dbt-plotsim: source 's' {answer['problems'][0]}"]


def test_duckdb_seeing_the_interrupt_first_is_our_interrupt(tmp_path):
    """Inside dbt, DuckDB may notice the Ctrl-C before we do: its InterruptException is our Interrupted, and
    the previous tables stay."""
    import threading

    import dbt_plotsim
    from dbt_plotsim.writers.duckdb import write_duckdb

    from .conftest import small_dict

    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    dbt_plotsim.write_duckdb(small_dict(), conn)
    before = conn.execute("select sum(hash(f)) from fct_mrr f").fetchone()

    def slow_bookkeeping(connection):
        threading.Timer(0.3, connection.interrupt).start()
        connection.execute("select count(*) from range(10000000000)").fetchall()

    changed = {**small_dict(), "seed": 99}
    with pytest.raises(Interrupted):
        write_duckdb(dbt_plotsim.stream(changed), conn, finalize=slow_bookkeeping)
    assert conn.execute("select sum(hash(f)) from fct_mrr f").fetchone() == before
    assert conn.execute("select count(*) from information_schema.tables where starts_with(table_name, ?)",
                        [STAGING]).fetchone()[0] == 0


def test_our_interrupt_reported_by_duckdb_as_its_own_error_is_still_ours(monkeypatch, capsys, tmp_path):
    """Our handler raising inside a DuckDB call comes back as DuckDB's "Query interrupted" (a RuntimeError
    from a registered Arrow table): the CLI still says interrupted, with the signal's exit code, not a bug."""
    import yaml

    from .conftest import small_dict

    def interrupted_inside_duckdb(*args, **kwargs):
        try:
            interrupts._raise(signal.SIGTERM, None)
        except Interrupted:
            pass
        raise RuntimeError("Query interrupted")

    spec = tmp_path / "spec.yml"
    spec.write_text(yaml.safe_dump(small_dict()))
    monkeypatch.setattr(interrupts, "_raised", [])
    monkeypatch.setattr("dbt_plotsim.writers.duckdb._create", interrupted_inside_duckdb)
    assert cli.main(["generate", str(spec), "--out", str(tmp_path / "x.duckdb")]) == 128 + signal.SIGTERM
    assert "interrupted (SIGTERM)" in capsys.readouterr().err
    monkeypatch.setattr(interrupts, "_raised", [])  # without our signal the same error is a bug
    monkeypatch.setattr("dbt_plotsim.writers.duckdb._create",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("Query interrupted")))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert cli.main(["generate", str(spec), "--out", str(tmp_path / "x.duckdb")]) == cli.EXIT_BUG
