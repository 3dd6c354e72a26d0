"""Interrupts stop a generation and leave the previous output; bugs are one line plus a saved traceback."""
from __future__ import annotations

import os
import random
import signal

import pytest

from dbt_plotsim import cli, interrupts
from dbt_plotsim.interrupts import Interrupted

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


@pytest.mark.parametrize("fmt", ["duckdb", "parquet"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signalled_generation_leaves_old_or_new_output(tmp_path, fmt, signum):
    result = trial(tmp_path, fmt, signum, random.Random(f"{fmt}{signum}"), {})
    assert result["left"] in ("old", "new"), result
    assert result["next_run"] == 0 and result["debris_after_next"] == [], result
    if signum != signal.SIGKILL and result["exit"] > 0:  # < 0: the signal came before Python was set up
        assert result["exit"] == 128 + signum and "interrupted" in result["stderr"][0], result


def test_a_signal_from_before_a_generation_does_not_stop_it(tmp_path):
    import dbt_plotsim

    from .conftest import small_dict

    previous = signal.signal(signal.SIGINT, lambda *a: None)
    try:
        interrupts.watch()
        os.kill(os.getpid(), signal.SIGINT)  # seen by the watch, long before the generation
        dbt_plotsim.write_parquet(small_dict(), tmp_path / "out")
        assert (tmp_path / "out" / "fct_mrr.parquet").exists()
    finally:
        interrupts.unwatch()
        signal.signal(signal.SIGINT, previous)
