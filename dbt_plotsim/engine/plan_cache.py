"""Calibrated plans kept on disk between runs, keyed by the spec and by the code that calibrates it.

Calibration (pilots, NORTA solves, totals factors) is most of a small run's time; it depends only on the
validated spec, this package's engine code and the numerics of numpy and scipy. So the key is a hash of all
of them, and a hit returns the very plan a fresh calibration would: output bytes never depend on the cache.

Where: $PLOTSIM_CACHE_DIR, else $XDG_CACHE_HOME/dbt-plotsim, else ~/.cache/dbt-plotsim. `PLOTSIM_CACHE=off`
turns it off. An unreadable, corrupt or unwritable cache is never an error: the plan is computed instead.
At most MAX_ENTRIES plans are kept (the least recently used go first).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
MAX_ENTRIES = 64
_PACKAGE = Path(__file__).resolve().parents[1]


def directory() -> Path | None:
    if os.environ.get("PLOTSIM_CACHE", "").lower() in ("off", "0", "false", "no"):
        return None
    if os.environ.get("PLOTSIM_CACHE_DIR"):
        return Path(os.environ["PLOTSIM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dbt-plotsim"


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """The calibrating code and its numerics: an edited engine (an editable install) misses the cache."""
    import numpy
    import scipy

    digest = hashlib.sha256(f"{sys.version_info[:2]} numpy {numpy.__version__} scipy {scipy.__version__}".encode())
    for folder in ("engine", "spec"):
        for path in sorted((_PACKAGE / folder).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def key(spec_json: str) -> str:
    return hashlib.sha256(f"{_code_fingerprint()}\n{spec_json}".encode()).hexdigest()[:40]


def cached(spec_json: str, build: Callable[[], T]) -> T:
    """`build()`'s result for this spec, from the cache when a run already computed it."""
    folder = directory()
    if folder is None:
        return build()
    path = folder / f"plan-{key(spec_json)}.pickle"
    found = _read(path)
    if found is not None:
        return found
    value = build()
    _write(folder, path, value)
    return value


def _read(path: Path):
    try:
        with path.open("rb") as f:
            value = pickle.load(f)
        os.utime(path)  # recently used: pruned last
        return value
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or stale file: computing the plan again is the answer, never an error
        return None


def _write(folder: Path, path: Path, value) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".plan-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # atomic: a reader sees the whole plan or none
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except (OSError, pickle.PicklingError):  # read-only home, full disk: run without the cache
        pass


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("plan-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        old.unlink(missing_ok=True)
