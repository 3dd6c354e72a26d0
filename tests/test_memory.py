"""Memory stays flat whatever the entity count, and DuckDB's memory_limit is given back after a write.

The flatness checks write a spec at two sizes (4x apart) in child processes and compare how much each write
grew the process (peak RSS of the write alone, Linux's VmHWM reset after the spec is loaded): a writer that
kept rows, or let DuckDB cache every block it wrote, grows with the rows. No timing is asserted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import dbt_plotsim
from dbt_plotsim.errors import WriteError
from dbt_plotsim.writers import duckdb_memory
from dbt_plotsim.writers.duckdb import write_duckdb

from .conftest import small_dict

SMALL, LARGE = 20_000, 80_000
CHUNK = 4096  # the same chunks at both sizes: only the entity count differs
GROWTH = 1.25  # the larger write may grow the process this much more than the smaller one, at most

CHILD = r"""
import json, sys
import dbt_plotsim

def hwm_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

spec = dbt_plotsim.load_spec(json.loads(sys.argv[1]))
target, chunk = sys.argv[2], int(sys.argv[3])
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # peak RSS from here on: the write alone, not the imports and the calibration
before = hwm_mib()
if target.endswith(".duckdb"):
    dbt_plotsim.write_duckdb(spec, target, chunk_entities=chunk)
else:
    dbt_plotsim.write_parquet(spec, target, chunk_entities=chunk)
print(json.dumps({"before": before, "peak": hwm_mib()}))
"""


def _spec(entities: int) -> dict:
    """24 months x 4 metrics: about 125 rows per entity, 70 MiB of DuckDB file at LARGE."""
    return {"about": "memory", "unit": "customer", "seed": 7,
            "window": {"start": "2022-01-01", "end": "2023-12-31", "grain": "month"},
            "metrics": [{"name": "revenue", "type": "amount", "range": [10, 5000]}, {"name": "orders", "type": "count"},
                        {"name": "score", "type": "score"}, {"name": "hours", "type": "measure"}],
            "segments": [{"name": "a", "count": entities // 2, "archetype": "growth"},
                         {"name": "b", "count": entities - entities // 2, "archetype": "churn"}]}


def _write_growth(tmp_path: Path, entities: int, output: str, limit: str) -> float:
    """MiB a child's write of `entities` grew its peak RSS by."""
    target = tmp_path / (f"w{entities}.duckdb" if output == "duckdb" else f"w{entities}")
    env = {**os.environ, duckdb_memory.ENV: limit, "PYTHONPATH": str(Path(dbt_plotsim.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(_spec(entities)), str(target), str(CHUNK)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return measured["peak"] - measured["before"]


linux_only = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc peak RSS")


@linux_only
@pytest.mark.parametrize("output", ["duckdb", "parquet"])
def test_a_write_four_times_larger_needs_no_more_memory(tmp_path, output):
    # the limit below LARGE's file size, so a DuckDB pool that kept every block would show here
    small, large = (_write_growth(tmp_path, n, output, "32MB") for n in (SMALL, LARGE))
    assert large < GROWTH * small, f"{output}: the write grew the process {small:.0f} MiB at {SMALL:,} entities, " \
                                   f"{large:.0f} MiB at {LARGE:,}"


@linux_only
def test_without_the_bound_duckdb_memory_grows_with_the_rows(tmp_path):
    # the check above can fail: DuckDB's default pool keeps the blocks it wrote
    small, large = (_write_growth(tmp_path, n, "duckdb", "off") for n in (SMALL, LARGE))
    assert large > GROWTH * small


# ------------------------------------------------------------------------------------------ the setting

def _limit(conn) -> str:
    return conn.execute("select current_setting('memory_limit')").fetchone()[0]


def _write_seeing_limit(conn) -> str:
    """Write the small spec through `conn`; return memory_limit as the write saw it (in its last step)."""
    seen = []
    write_duckdb(dbt_plotsim.stream(small_dict()), conn, "main", finalize=lambda c: seen.append(_limit(c)))
    return seen[0]


def test_the_default_limit_is_lowered_during_the_write_and_reset_after(tmp_path):
    with duckdb.connect(str(tmp_path / "a.duckdb")) as conn:
        before = _limit(conn)
        during = _write_seeing_limit(conn)
        assert duckdb_memory.size_bytes(during) <= duckdb_memory.size_bytes(duckdb_memory.WRITE_LIMIT)
        assert _limit(conn) == before
        assert conn.execute("select count(*) from main.dim_account").fetchone()[0] == 100


def test_a_limit_someone_set_is_left_as_it_is(tmp_path):
    with duckdb.connect(str(tmp_path / "b.duckdb")) as conn:
        for chosen in ("3GB", "100MB"):
            conn.execute(f"SET memory_limit = '{chosen}'")
            before = _limit(conn)
            assert _write_seeing_limit(conn) == before
            assert _limit(conn) == before


def test_the_default_is_reset_after_a_failed_write(tmp_path):
    seen = []

    def fail(conn):
        seen.append(_limit(conn))
        raise duckdb.ConversionException("boom")

    with duckdb.connect(str(tmp_path / "c.duckdb")) as conn:
        before = _limit(conn)
        with pytest.raises(Exception, match="boom"):
            write_duckdb(dbt_plotsim.stream(small_dict()), conn, "main", finalize=fail)
        assert seen and seen[0] != before
        assert _limit(conn) == before


def test_an_in_memory_database_and_the_off_switch_are_left_alone(tmp_path, monkeypatch):
    with duckdb.connect(":memory:") as conn:
        before = _limit(conn)
        assert _write_seeing_limit(conn) == before
    monkeypatch.setenv(duckdb_memory.ENV, "off")
    with duckdb.connect(str(tmp_path / "d.duckdb")) as conn:
        before = _limit(conn)
        assert _write_seeing_limit(conn) == before
    monkeypatch.setenv(duckdb_memory.ENV, "1GB")
    with duckdb.connect(str(tmp_path / "e.duckdb")) as conn:
        assert duckdb_memory.size_bytes(_write_seeing_limit(conn)) == pytest.approx(10**9, rel=0.01)


def test_a_size_that_is_not_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(duckdb_memory.ENV, "plenty")
    with pytest.raises(WriteError, match="PLOTSIM_DUCKDB_MEMORY='plenty' is not a size"):
        dbt_plotsim.write_duckdb(small_dict(), tmp_path / "f.duckdb")
    assert not (tmp_path / "f.duckdb").exists() or not duckdb.connect(str(tmp_path / "f.duckdb")).execute(
        "select * from information_schema.tables where table_schema = 'main'").fetchall()


@pytest.mark.parametrize("text, expected", [("18.8 GiB", int(18.8 * 2**30)), ("256MiB", 2**28), ("1GB", 10**9),
                                            ("0 bytes", 0), ("512 KiB", 2**19), ("lots", None), ("", None)])
def test_duckdb_sizes_read_as_bytes(text, expected):
    assert duckdb_memory.size_bytes(text) == expected
