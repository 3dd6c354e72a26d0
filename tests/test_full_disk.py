"""A disk that fills up at any moment of a regeneration (simulated with a file-size limit, RLIMIT_FSIZE, in a
child process) leaves the old output, says so in one line naming the cause, and the next run succeeds with
no debris. The limits cover the staging, the COMMIT (DuckDB's write-ahead log) and the manifest."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .killing import debris, fingerprint, spec_file

LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2)
from dbt_plotsim.cli import main
sys.exit(main(sys.argv[2:]))
"""
SCALE = "3"


def generate(spec: Path, out: Path, fmt: str, limit: int | None = None) -> subprocess.CompletedProcess:
    args = ["generate", str(spec), "--out", str(out), "--format", fmt, "--scale", SCALE, "--quiet"]  # stderr: the error
    prefix = [sys.executable, "-c", LIMITED, str(limit)] if limit else [sys.executable, "-m", "dbt_plotsim.cli"]
    return subprocess.run(prefix + args, capture_output=True, text=True)


def largest_file(out: Path) -> int:
    files = [out] if out.is_file() else [p for p in out.parent.rglob("*") if p.is_file()]
    return max(p.stat().st_size for p in files)


@pytest.mark.parametrize("fmt", ["duckdb", "parquet"])
def test_a_full_disk_at_any_moment_leaves_the_old_output(tmp_path, fmt):
    out = tmp_path / ("out.duckdb" if fmt == "duckdb" else "out")
    old, new = spec_file(tmp_path, 1), spec_file(tmp_path, 2)
    assert generate(new, out, fmt).returncode == 0
    new_print = fingerprint(out, fmt)
    assert generate(old, out, fmt).returncode == 0
    old_print = fingerprint(out, fmt)
    size = largest_file(out)
    outcomes = []
    for share in (0.01, 0.05, 0.5, 2.0):  # of the largest file: the last limit leaves room
        result = generate(new, out, fmt, limit=int(size * share))
        left = fingerprint(out, fmt)
        outcomes.append(result.returncode)
        if result.returncode == 0:
            assert left == new_print, share
            continue
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert "too large" in lines[0] and ("nothing was changed" in lines[0] or "cannot write" in lines[0]), lines
        assert left == old_print, (share, lines)
    assert outcomes[:2] == [2, 2] and outcomes[-1] == 0, outcomes
    assert generate(old, out, fmt).returncode == 0  # the next run cleans up and succeeds
    assert debris(out, fmt) == [] and fingerprint(out, fmt) == old_print
