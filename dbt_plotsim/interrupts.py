"""Interrupts and bugs, the way a user should meet them.

- SIGINT and SIGTERM stop a generation between chunks; the writers roll back, so the previous output
  stays. The step that makes the new output visible (a COMMIT, the swap of a Parquet set) is never cut in
  half: an interrupt arriving inside it waits until it is done, then is reported as `Interrupted(done=True)`.
- Inside dbt, generation runs in DuckDB's call of our SQL function, where Python's signal handlers cannot
  run until it returns; `watch()` makes the C-level handler write to a pipe that `check()` polls between
  chunks, so Ctrl-C in dbt stops generation promptly there too.
- Anything else that escapes is a bug: `report_bug` saves the full traceback to a file and returns one line.
"""
from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Generation was stopped by a signal; `done` when the new output had already been put in place."""

    def __init__(self, signum: int = signal.SIGINT, done: bool = False):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.done = signum, done

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        name = signal.Signals(self.signum).name
        if self.done:
            return f"interrupted ({name}) just after the new output was complete; it is in place"
        return f"interrupted ({name}): stopped before the new output was complete; the previous output is unchanged"


_watch_read: int | None = None
_raised: list[int] = []  # signals _raise turned into Interrupted (DuckDB may replace it with its own error)


def _raise(signum, frame):
    _raised.append(signum)
    raise Interrupted(signum)


def swallowed(exc: BaseException) -> Interrupted | None:
    """The Interrupted a library replaced with its own error: DuckDB, when our handler raises inside one of
    its calls, reports "Query interrupted" (a RuntimeError or duckdb.Error) instead."""
    if _raised and "interrupted" in str(exc).lower():
        return Interrupted(_raised[-1])
    return None


@contextmanager
def _handling(handler):
    """SIGINT and SIGTERM go to `handler` inside the block (main thread only: elsewhere it changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def handled():
    """In the CLI: SIGINT and SIGTERM raise Interrupted; the previous handlers come back after."""
    return _handling(_raise)


def watch() -> None:
    """Let `check()` see SIGINT/SIGTERM even while the main thread is inside DuckDB (dbt's path). Only from
    the main thread, and only when nothing else (an event loop) already uses the wake-up descriptor."""
    global _watch_read
    if _watch_read is not None or threading.current_thread() is not threading.main_thread():
        return
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    try:
        previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except ValueError:
        os.close(read), os.close(write)
        return
    if previous != -1:  # someone else's: leave it in place
        signal.set_wakeup_fd(previous)
        os.close(read), os.close(write)
        return
    _watch_read = read


def unwatch() -> None:
    global _watch_read
    if _watch_read is not None and threading.current_thread() is threading.main_thread():
        write = signal.set_wakeup_fd(-1)
        os.close(_watch_read)
        if write != -1:
            os.close(write)
        _watch_read = None


def drain() -> None:
    """Forget signals seen before a generation starts (they belonged to something else)."""
    if _watch_read is None:
        return
    try:
        while os.read(_watch_read, 4096):
            pass
    except BlockingIOError:
        pass


def check() -> None:
    """Raise Interrupted if a watched signal arrived since the last check (called between chunks)."""
    if _watch_read is None:
        return
    try:
        data = os.read(_watch_read, 64)
    except BlockingIOError:
        return
    for byte in data:
        if byte in SIGNALS:
            raise Interrupted(byte)


@contextmanager
def finish_first():
    """Run the block to its end even if SIGINT/SIGTERM arrives; report the signal afterwards."""
    pending: list[int] = []
    with _handling(lambda signum, frame: pending.append(signum)):
        yield
    if pending:
        raise Interrupted(pending[0], done=True)


def report_bug(exc: BaseException) -> str:
    """Save the traceback of an unexpected error; one line saying it is a bug and where the details are."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    path = os.path.join(tempfile.gettempdir(), f"dbt-plotsim-bug-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt")
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        where = f"the full traceback is in {path}"
    except OSError:
        where = "the traceback could not be saved"
    summary = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    return (f"bug in dbt-plotsim (not a problem with your spec): {summary}; {where}; please report it with "
            "that file. Nothing was changed.")
