"""One writer at a time per output: an exclusive, non-blocking flock on a lock file beside it.

A second writer is refused at once with a clear message rather than waiting; the lock goes with the process,
so a killed writer never leaves it held.
"""
from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import IO

from ..errors import WriteError


def take(lock_path: Path, out: str | os.PathLike) -> IO:
    """The open lock file, held (close it to release); `out` names the output in the messages."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")
    except OSError as exc:
        raise WriteError(f"cannot write to {lock_path.parent}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise WriteError(f"another generation is writing to {out} right now; wait for it to finish "
                             "and run again. Nothing was changed.") from None
        raise
    return handle
