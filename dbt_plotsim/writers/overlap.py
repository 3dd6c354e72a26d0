"""Generation one chunk ahead of the writer, in a thread of its own (with `--workers` above 1).

Writing (Parquet's encoding and compression, DuckDB's inserts) runs in C++ without the GIL, so while the
writer stores chunk i, a second thread can already draw chunk i + 1: on two cores the two overlap instead
of taking turns. The writer still takes the chunks one by one in their order, so the output is the same
bytes; memory holds one chunk more (a queue of one). An error in the generating thread is raised in the
writer's; when the writer stops (an error, an interrupt), the generating thread is told to stop after its
current chunk, and joined.
"""
from __future__ import annotations

import os
import queue
import threading
from typing import Callable, Iterator

_END = object()
_POLL = 0.1  # seconds between looks at the stop flag while the queue is full


# Two threads by default: one draws the next chunk while the current one is encoded and written (1.4-1.5x
# on 2 cores, same bytes); more add memory (a chunk each) and little speed, since writing is one stream.
DEFAULT_WORKERS = max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def overlapped(chunks: Callable[[], Iterator], ahead: bool) -> Iterator:
    """The chunks of `chunks()`, drawn in a second thread one chunk ahead when `ahead`, else as they come."""
    if not ahead:
        yield from chunks()
        return
    handed: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand(item) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        stream = chunks()
        try:
            for chunk in stream:
                if not hand((chunk, None)):
                    return
            hand((_END, None))
        except BaseException as exc:  # raised again in the writer's thread
            hand((None, exc))
        finally:
            if hasattr(stream, "close"):  # a generator: its own cleanup (the block pool) runs in this thread
                stream.close()

    worker = threading.Thread(target=produce, name="plotsim-generate", daemon=True)
    worker.start()
    try:
        while True:
            chunk, error = handed.get()
            if error is not None:
                raise error
            if chunk is _END:
                return
            yield chunk
    finally:
        stop.set()
        worker.join()
