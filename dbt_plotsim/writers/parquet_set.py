"""A directory of Parquet files replaced as one set.

The output path is a symbolic link to one complete version kept in a hidden sibling, `.<name>.plotsim/`:

    out -> .out.plotsim/v000004/{dim_date.parquet, fct_mrr.parquet, ..., _plotsim_manifest.json}

A new version is written in a staging directory there, renamed into place, and then the link is replaced by
one atomic rename, so a reader (or a kill at any moment) sees the old complete set or the new complete set.
One writer at a time holds a lock on the store; whatever a killed writer left (staging, versions nobody
points at) is removed by the next one. Only entries named like ours in our own store are ever deleted.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import WriteError
from . import writer_lock

MANIFEST = "_plotsim_manifest.json"
VERSION = re.compile(r"^v(\d{6})$")
STAGING_PREFIX = "staging-"
LINK_PREFIX = "link-"
_TABLE_FILE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.\d{8}(-\d+)?)?\.parquet$")  # an append's: <table>.<key>


class ParquetSet:
    def __init__(self, out: str | os.PathLike):
        self.out = Path(os.path.abspath(out))  # not resolved: `out` itself is the link
        self.store = self.out.parent / f".{self.out.name}.plotsim"
        self._lock = None

    # ------------------------------------------------------------------ lifetime: one writer at a time
    def __enter__(self) -> "ParquetSet":
        self._lock = writer_lock.take(self.store / ".lock", self.out)
        try:
            self._adopt_plain_directory()
            self._remove_debris()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None

    # ------------------------------------------------------------------ versions
    def current(self) -> str | None:
        """The version the link points at, if it is one of ours."""
        if not self.out.is_symlink():
            return None
        target = Path(os.readlink(self.out))
        if target.parent.name == self.store.name and VERSION.match(target.name) and (self.store / target.name).is_dir():
            return target.name
        return None

    def new_staging(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.store))

    def publish(self, staging: Path) -> str:
        """Move a complete staging directory into place as the next version and point the link at it."""
        name = self._next_version()
        os.rename(staging, self.store / name)
        self.point(name)
        return name

    def point(self, version: str) -> None:
        link = self.store / f"{LINK_PREFIX}{os.getpid()}"
        link.unlink(missing_ok=True)
        os.symlink(os.path.join(self.store.name, version), link)
        os.replace(link, self.out)

    def path(self, version: str) -> Path:
        return self.store / version

    def prune(self, keep: set[str]) -> None:
        """Remove every version of ours except `keep`."""
        for entry in self.store.iterdir():
            if VERSION.match(entry.name) and entry.name not in keep and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)

    def discard(self, version: str) -> None:
        shutil.rmtree(self.store / version, ignore_errors=True)

    def _next_version(self) -> str:
        numbers = [int(m.group(1)) for m in (VERSION.match(e.name) for e in self.store.iterdir()) if m]
        return f"v{max(numbers, default=0) + 1:06d}"

    def _remove_debris(self) -> None:
        """Staging and half-made links of a writer that was killed (we hold the lock, so none is running)."""
        for entry in self.store.iterdir():
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(LINK_PREFIX) and entry.is_symlink():
                entry.unlink(missing_ok=True)
        current = self.current()
        if current is not None:
            self.prune({current})

    def _adopt_plain_directory(self) -> None:
        """An output directory from before versioning (our files only) becomes the first version."""
        if self.out.is_symlink() or not self.out.exists():
            if self.out.is_symlink() and self.current() is None:
                raise WriteError(f"{self.out} is a symbolic link this package did not make; point `path` at a new "
                                 "directory or remove the link")
            return
        if not self.out.is_dir():
            raise WriteError(f"{self.out} is a file; Parquet output needs a directory path")
        entries = set(os.listdir(self.out))
        foreign = sorted(e for e in entries - _our_files(self.out) if not e.startswith(".plotsim-"))
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise WriteError(f"{self.out} holds files this package did not write ({shown}); point `path` at a new "
                             "or empty directory. Nothing was changed.")
        for entry in entries - _our_files(self.out):  # staging of the unversioned writer
            shutil.rmtree(self.out / entry, ignore_errors=True)
        name = self._next_version()
        os.rename(self.out, self.store / name)
        self.point(name)


def _our_files(directory: Path) -> set[str]:
    """The manifest and the table files it lists, by plain table name only (never a path)."""
    try:
        listed = json.loads((directory / MANIFEST).read_text())["tables"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if not isinstance(listed, list):
        return set()
    files = {f"{name}.parquet" for name in listed if isinstance(name, str)}
    try:
        appended = json.loads((directory / MANIFEST).read_text()).get("files") or {}
        files |= {f for fs in appended.values() if isinstance(fs, list) for f in fs if isinstance(f, str)}
    except (OSError, ValueError, AttributeError):
        pass
    return {MANIFEST} | {f for f in files if _TABLE_FILE.match(f)}
