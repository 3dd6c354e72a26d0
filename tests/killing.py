"""Kill trials: start a CLI generation, signal it at a random moment, and check what is left.

Every trial must leave the old complete output or the new complete output (never a mix, never a partial
table), and the next run must leave no debris. Used by tests/test_interrupts.py (a few trials) and by
scripts/kill_trials.py (the full run).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

from dbt_plotsim.writers.duckdb import STAGING

from .conftest import small_dict

SCALE = 40  # about 2-3 s of generation on this machine: room for a signal at any stage


def spec_file(folder: Path, seed: int) -> Path:
    path = folder / f"spec_{seed}.yml"
    path.write_text(yaml.safe_dump({**small_dict(), "seed": seed}))
    return path


AS_OF = "2024-05-15"  # an append trial: the output as of this date, then appended to the window's end


def command(spec: Path, out: Path, fmt: str, as_of: str | None = None) -> list[str]:
    return [sys.executable, "-m", "dbt_plotsim.cli", "generate", str(spec), "--out", str(out), "--format", fmt,
            "--scale", str(SCALE)] + (["--as-of", as_of] if as_of else [])


def fingerprint(out: Path, fmt: str) -> str | None:
    """A digest of every table's content, or None when there is no output yet."""
    if fmt == "parquet":
        if not out.exists():
            return None
        manifest = json.loads((out / "_plotsim_manifest.json").read_text())
        digest = hashlib.sha256()
        with duckdb.connect() as conn:  # the content, in one file or one per load (an append), in any order
            for table in manifest["tables"]:
                files = ", ".join(f"'{out / f}'" for f in manifest.get("files", {}).get(table, [f"{table}.parquet"]))
                digest.update(repr(conn.execute(f"select count(*), sum(hash(t)) from read_parquet([{files}]) t")
                                   .fetchall()).encode())
        return digest.hexdigest()
    if not out.exists():
        return None
    with duckdb.connect(str(out), read_only=True) as conn:
        tables = [r[0] for r in conn.execute(  # staging a kill left is not data (the next run drops it)
            "select table_name from information_schema.tables where table_schema = 'main' "
            "and not starts_with(table_name, ?) order by 1", [STAGING]).fetchall()]
        if not tables:
            return None
        digest = hashlib.sha256()
        for table in tables:  # the state's generated_at is a wall-clock time, not content
            columns = "* exclude (generated_at)" if table == "_plotsim_state" else "*"
            digest.update(repr(conn.execute(f'select count(*), sum(hash(t)) from (select {columns} from "{table}") t')
                               .fetchall()).encode())
        return digest.hexdigest()


def debris(out: Path, fmt: str = "parquet") -> list[str]:
    if fmt == "duckdb":
        with duckdb.connect(str(out), read_only=True) as conn:
            return [r[0] for r in conn.execute("select table_name from information_schema.tables "
                                               "where starts_with(table_name, ?)", [STAGING]).fetchall()]
    store = out.parent / f".{out.name}.plotsim"
    if not store.exists():
        return []
    return sorted(e.name for e in store.iterdir() if e.name.startswith(("staging-", "link-")))


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})


def trial(folder: Path, fmt: str, signum: int, rng: random.Random, references: dict, append: bool = False) -> dict:
    """One trial: output of seed 1 in place, regenerate with seed 2 and signal it after a random delay. With
    `append`: seed 1 as of AS_OF in place, appended to the window's end (the new output), signalled."""
    out = folder / ("out.duckdb" if fmt == "duckdb" else "out")
    old_spec, new_spec = spec_file(folder, 1), spec_file(folder, 1 if append else 2)
    old = command(old_spec, out, fmt, AS_OF if append else None)
    new = command(new_spec, out, fmt)
    kind = (fmt, append)
    if kind not in references:
        for label, cmd in ((1, old), (2, new)):
            if append and label == 2:  # the reference of an append: the old output, appended
                run(old)
            result = run(cmd)
            assert result.returncode == 0, result.stderr
            references.setdefault(kind, {})[label] = fingerprint(out, fmt)
    result = run(old)
    assert result.returncode == 0, result.stderr
    delay = rng.uniform(0.3, 4.0)
    process = subprocess.Popen(new, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONHASHSEED": "0"})
    time.sleep(delay)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    found = fingerprint(out, fmt)
    state = {references[kind][1]: "old", references[kind][2]: "new"}.get(found, "MIXED OR PARTIAL")
    after = run(old)  # the next run cleans up and succeeds
    return {"format": fmt, "append": append, "signal": signal.Signals(signum).name, "delay": round(delay, 2), "exit": process.returncode,
            "left": state, "stderr": err.strip().splitlines()[-1:] , "next_run": after.returncode,
            "debris_after_next": debris(out, fmt)}
