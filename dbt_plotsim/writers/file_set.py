"""An output directory of files (partitioned Parquet, CSV, JSONL) replaced as a whole.

The new set is written into a hidden temporary directory beside the output, `.<name>.tmp-XXXX/`, on the same
file system, and swapped in only once every file and the manifest are complete: in one step where Linux can
exchange two directories (renameat2), so a reader sees the old set or the new one; elsewhere the previous set
is renamed aside (`.<name>.old-XXXX/`) and the new one renamed in. The old set is removed after. An error or Ctrl-C before the swap leaves the
previous set untouched and no temporary directory; whatever a killed writer left beside the output is removed
by the next one. One writer at a time holds a lock file beside the output. Only a directory holding our
manifest is ever replaced or removed.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from .. import interrupts
from ..errors import WriteError
from . import writer_lock
from .digests import file_sha256

MANIFEST = "_plotsim_manifest.json"


class FileSet:
    def __init__(self, out: str | os.PathLike):
        self.out = Path(os.path.abspath(out))
        self.parent = self.out.parent
        self._tmp = f".{self.out.name}.tmp-"
        self._old = f".{self.out.name}.old-"
        self._lock = None

    def __enter__(self) -> "FileSet":
        self._lock = writer_lock.take(self.parent / f".{self.out.name}.lock", self.out)
        try:
            self._check_replaceable()
            self._remove_debris()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None

    def staging(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=self._tmp, dir=self.parent))

    def publish(self, staging: Path, manifest: dict, files: dict[str, list[str]], commit=None) -> None:
        """Record every file's SHA-256 in the manifest, then swap the staging directory in for the output.
        `commit(manifest)` runs once the new set is in place and before the old one is removed (the dbt path
        makes its views and records its state there); if it fails, the previous set is put back."""
        hashes = {f: file_sha256(staging / f) for listed in files.values() for f in listed}
        manifest = {**manifest, "files": files, "sha256": hashes}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private; the set is a plain directory
        with interrupts.finish_first():  # the swap and the commit as a whole, or (before them) not at all
            if self.out.exists() and exchange(staging, self.out):  # one step: readers see old or new
                try:
                    if commit is not None:
                        commit(manifest)
                except BaseException:
                    exchange(staging, self.out)  # the old set back; the new one removed by the caller
                    raise
                shutil.rmtree(staging, ignore_errors=True)  # now the old set
                return
            self._two_renames(staging, manifest, commit)

    def _two_renames(self, staging: Path, manifest: dict, commit) -> None:
        """Where directories cannot be exchanged: the old set aside, the new one in (a kill between the two
        renames leaves the old set aside, which the next writer puts back)."""
        aside = None
        if self.out.exists():
            aside = Path(tempfile.mkdtemp(prefix=self._old, dir=self.parent))
            os.rename(self.out, aside / "set")
        try:
            os.rename(staging, self.out)
            try:
                if commit is not None:
                    commit(manifest)
            except BaseException:
                os.rename(self.out, staging)  # removed by the caller
                raise
        except BaseException:
            if aside is not None:
                os.rename(aside / "set", self.out)
                shutil.rmtree(aside, ignore_errors=True)
            raise
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)

    def _check_replaceable(self) -> None:
        if self.out.is_symlink():
            raise WriteError(f"{self.out} is a symbolic link (a Parquet set written without --partition-by?); "
                             "choose another output path or remove it. Nothing was changed.")
        if not self.out.exists():
            return
        if not self.out.is_dir():
            raise WriteError(f"{self.out} is a file; this output needs a directory path. Nothing was changed.")
        if not (self.out / MANIFEST).is_file() and any(self.out.iterdir()):
            raise WriteError(f"{self.out} holds files this package did not write; point the output at a new or "
                             "empty directory. Nothing was changed.")

    def _remove_debris(self) -> None:
        """Temporary and set-aside directories of a writer that was killed (we hold the lock); a previous set
        left aside between the two renames is put back first."""
        if not self.out.exists() and not self.out.is_symlink():
            for entry in sorted(self.parent.iterdir()):
                if entry.name.startswith(self._old) and (entry / "set" / MANIFEST).is_file():
                    os.rename(entry / "set", self.out)
                    break
        for entry in self.parent.iterdir():
            if entry.name.startswith((self._tmp, self._old)) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)


def replace_set(out: str | os.PathLike, fill, manifest: dict, commit=None) -> dict[str, list[str]]:
    """Write a new set with `fill(staging) -> (files, extra)` (table -> its files relative to the set, and
    more manifest entries) and swap it in for `out` (`commit`: see FileSet.publish). On any failure, Ctrl-C included, the staging directory is
    removed and the previous set stays; an OSError becomes a WriteError naming the output."""
    with FileSet(out) as files_set:
        staging = files_set.staging()
        try:
            files, extra = fill(staging)
            files_set.publish(staging, {**manifest, **extra}, files, commit)
        except OSError as exc:
            raise WriteError(f"cannot write files to {files_set.out}: {exc.strerror or exc}. Nothing was "
                             "changed.") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already once published
    return files


def exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux renameat2 with RENAME_EXCHANGE); False where the system or
    the file system cannot, so the caller falls back to two renames."""
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if call(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
