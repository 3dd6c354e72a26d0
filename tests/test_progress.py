"""Progress of a generation (progress.py): the observer's counting, throttling, ETA and lines; the writers'
one call per chunk; the CLI's estimate line, plain lines off a terminal, a tqdm bar on one, nothing with --quiet;
the plugin's lines for dbt's log (their arrival in a real dbt log: tests/integration/test_progress_log.py)."""
from __future__ import annotations

import io
import json
import re
import sys

import duckdb
import pyarrow.parquet as pq
import pytest

from dbt_plotsim import cli
from dbt_plotsim.api import stream
from dbt_plotsim.progress import Progress, Snapshot, duration, estimate, expected_rows
from dbt_plotsim.spec import load_spec
from dbt_plotsim.writers.duckdb import write_duckdb
from dbt_plotsim.writers.parquet import write_parquet

from .conftest import small_dict, tiny_dict
from .test_cli import write_spec


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def observed(every: float = 2.0):
    clock, reports = Clock(), []
    return Progress(reports.append, every=every, clock=clock), clock, reports


# ---------------------------------------------------------------------------------------------- the observer

def test_counts_rows_per_table_against_the_expected_totals():
    progress, clock, reports = observed(every=0)
    progress.begin({"dim_date": 12, "fct_mrr": 480, "fct_events": 100})
    progress.chunk({"dim_date": 12})
    clock.now += 4
    progress.chunk({"fct_mrr": 240, "fct_events": 0})
    progress.chunk({"fct_mrr": 240, "fct_events": 30})
    assert [(r.rows, r.tables) for r in reports] == [(12, 1), (252, 2), (522, 3)]
    last = reports[-1]
    assert (last.expected, last.total_tables, last.elapsed, last.final) == (592, 3, 4.0, False)
    progress.finish()
    assert reports[-1].final and reports[-1].rows == 522


def test_reports_at_most_every_interval_then_once_at_the_end():
    progress, clock, reports = observed(every=2.0)
    progress.begin({"t": 1000})
    for _ in range(9):  # a chunk every 0.5 s for 4.5 s: reports at 2.0 s and 4.0 s
        clock.now += 0.5
        progress.chunk({"t": 100})
    assert [r.elapsed for r in reports] == [2.0, 4.0]
    assert [r.rows for r in reports] == [400, 800]
    progress.finish()  # whatever the interval
    assert len(reports) == 3 and reports[-1].final and reports[-1].rows == 900


def test_begin_starts_the_clock_and_the_counts_afresh():
    progress, clock, reports = observed(every=0)
    progress.begin({"t": 10})
    progress.chunk({"t": 10})
    clock.now += 60
    progress.begin({"t": 5})  # a second write with the same observer
    progress.chunk({"t": 5})
    assert (reports[-1].rows, reports[-1].expected, reports[-1].elapsed) == (5, 5, 0.0)


def test_eta_is_the_rate_so_far_applied_to_the_rows_left():
    assert Snapshot(25, 100, 1, 1, elapsed=10.0).eta == pytest.approx(30.0)
    assert Snapshot(25, 100, 1, 1, elapsed=10.0).percent == pytest.approx(25.0)
    assert Snapshot(0, 100, 0, 1, elapsed=3.0).eta is None  # no rate yet
    over = Snapshot(130, 100, 1, 1, elapsed=10.0)  # the estimate was low
    assert (over.eta, over.percent) == (0.0, 100.0)
    assert Snapshot(5, 0, 1, 1, elapsed=1.0).percent is None


def test_plain_line_format():
    assert Snapshot(1_234_567, 4_000_000, 6, 9, elapsed=12.34).line() == (
        "1,234,567 / 4,000,000 rows (31%), 6 of 9 tables, elapsed 12.3s, ETA 27.6s")
    assert Snapshot(0, 10, 0, 2, elapsed=0.0).line() == "0 / 10 rows (0%), 0 of 2 tables, elapsed 0.0s, ETA ?"
    assert Snapshot(3, 0, 1, 1, elapsed=0.0).line() == "3 / 0 rows (?), 1 of 1 tables, elapsed 0.0s, ETA ?"
    assert Snapshot(2_638, 2_600, 9, 9, elapsed=75.2, final=True).line() == (
        "2,638 rows in 9 tables, elapsed 1m15s (estimated 2,600)")
    assert [duration(s) for s in (4.96, 59.94, 125, 3720)] == ["5.0s", "59.9s", "2m05s", "1h02m"]


# ---------------------------------------------------------------------------------------------- the writers

@pytest.mark.parametrize("writer", ["duckdb", "parquet"])
def test_writers_call_the_observer_once_per_chunk_with_the_rows_they_write(writer, tmp_path):
    spec = load_spec(small_dict())
    chunks = len(list(stream(spec, chunk_entities=1024).chunks()))
    calls = []

    class Recording(Progress):
        def chunk(self, rows):
            calls.append(dict(rows))
            super().chunk(rows)

    reports = []
    progress = Recording(reports.append, every=float("inf"))
    generation = stream(spec, chunk_entities=1024)
    if writer == "duckdb":
        database = tmp_path / "out.duckdb"
        write_duckdb(generation, database, progress=progress)
        with duckdb.connect(str(database)) as conn:
            actual = {t: conn.execute(f'select count(*) from "{t}"').fetchone()[0] for t in generation.schemas}
    else:
        write_parquet(generation, tmp_path / "out", progress=progress)
        actual = {t: pq.read_metadata(tmp_path / "out" / f"{t}.parquet").num_rows for t in generation.schemas}
    assert len(calls) == chunks >= 3  # dim_date, entity chunks of 1024, the truth tables at the end
    assert [r.final for r in reports] == [True]
    assert reports[0].rows == sum(actual.values()) and reports[0].expected == sum(generation.row_counts().values())
    assert {t: sum(c.get(t, 0) for c in calls) for t in actual} == actual


def test_an_append_expects_the_new_periods_of_the_growing_tables_only():
    data = tiny_dict()
    data["window"]["as_of"] = "2024-09-30"
    generation = stream(load_spec(data)).append_after(5)  # periods 6..8 of 0..8 are new
    grown, replaced = generation.layout()
    expected = expected_rows(generation)
    assert set(expected) == set(grown) | set(replaced) and "dim_date" not in expected
    assert expected["fct_mrr"] == 40 * 3  # a complete panel: 40 accounts x 3 new months
    written = {name: 0 for name in generation.schemas}
    for chunk in generation.chunks():
        for name, table in chunk.items():
            written[name] += table.num_rows
    assert written["fct_mrr"] == expected["fct_mrr"]


def test_estimate_is_what_info_lists():
    generation = stream(load_spec(tiny_dict()))
    found = estimate(generation)
    assert found.rows == generation.row_counts() and found.columns["dim_date"] == len(generation.schemas["dim_date"])
    assert re.fullmatch(r"estimate: 9 tables, ~2,638 rows, ~[\d.,]+ KB uncompressed", found.line()), found.line()


# ---------------------------------------------------------------------------------------------- the CLI

@pytest.fixture
def spec_file(tmp_path) -> str:
    return write_spec(tmp_path / "tiny.yml", tiny_dict())


@pytest.mark.parametrize("layout", [[], ["--format", "csv"], ["--format", "jsonl"], ["--partition-by", "period"]],
                         ids=["parquet", "csv", "jsonl", "hive"])
def test_generate_prints_the_estimate_first_then_plain_lines_off_a_terminal(layout, spec_file, tmp_path, capsys,
                                                                             monkeypatch):
    monkeypatch.setattr(cli, "PLAIN_EVERY", 0.0)  # a line per chunk (the CLI's 5 s is never reached this small)
    assert cli.main(["generate", spec_file, "--out", str(tmp_path / "out"), *layout]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("wrote 9 tables to ")  # stdout as before
    lines = captured.err.splitlines()
    assert lines[0] == estimate(stream(load_spec(tiny_dict()))).line()
    assert all(re.fullmatch(r"progress: [\d,]+ / 2,638 rows \(\d+%\), \d of 9 tables, elapsed [\d.]+s, ETA .+", line)
               for line in lines[1:-1]) and len(lines) > 3, lines
    assert re.fullmatch(r"progress: done, 2,638 rows in 9 tables, elapsed [\d.]+s \(estimated 2,638\)", lines[-1])


def test_generate_with_quiet_prints_no_estimate_nor_progress(spec_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "PLAIN_EVERY", 0.0)
    assert cli.main(["generate", spec_file, "--out", str(tmp_path / "t.duckdb"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.startswith("wrote 9 tables to ")


def test_generate_draws_a_tqdm_bar_on_a_terminal(spec_file, tmp_path, capsys, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("COLUMNS", "120")
    assert cli.main(["generate", spec_file, "--out", str(tmp_path / "out")]) == 0
    drawn = terminal.getvalue()
    assert drawn.startswith("estimate: 9 tables")
    assert "generating: 100%" in drawn and "rows" in drawn and "9/9 tables" in drawn, drawn
    assert "progress:" not in drawn and capsys.readouterr().out.startswith("wrote 9 tables")


# ---------------------------------------------------------------------------------------------- the dbt plugin

def test_plugin_logs_progress_lines_then_a_done_line(monkeypatch):
    from dbt_plotsim import plugin

    logged = []
    monkeypatch.setattr(plugin, "_log", logged.append)
    request = json.dumps({"source": "saas", "schema": "raw", "block": small_dict(), "project_dir": ".",
                          "force": True, "label": "2 of 3"})
    with duckdb.connect() as conn:
        assert json.loads(plugin.handle(request, conn, progress_every=0))["status"] == "generated"
        assert json.loads(plugin.handle(request, conn, progress_every=3600))["status"] == "generated"  # DONE only
    first = [line for line in logged if "DONE" in line][0]
    assert logged.index(first) >= 2 and all(line.startswith("2 of 3 PROGRESS synthetic source saas: ")
                                            for line in logged[:logged.index(first)])
    assert re.fullmatch(r"2 of 3 DONE synthetic source saas: [\d,]+ rows in \d+ tables, elapsed [\d.]+s "
                        r"\(estimated [\d,]+\)", first)
    assert logged[logged.index(first) + 1:] == [logged[-1]] and "DONE" in logged[-1]


@pytest.mark.parametrize("value", [-1, "soon", None])
def test_plugin_rejects_a_bad_progress_interval(value):
    from dbt_plotsim.plugin import _seconds

    with pytest.raises(ValueError, match="progress_seconds"):
        _seconds(value)
    assert _seconds("0.5") == 0.5
