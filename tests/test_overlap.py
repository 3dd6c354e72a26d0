"""writers/overlap.py: chunks drawn a chunk ahead in a thread come in their order; errors and stops reach
both threads."""
from __future__ import annotations

import threading

import pytest

from dbt_plotsim.writers.overlap import overlapped


def _alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "plotsim-generate"]


@pytest.mark.parametrize("ahead", [False, True])
def test_chunks_come_in_their_order(ahead):
    assert list(overlapped(lambda: iter(range(50)), ahead)) == list(range(50))
    assert not _alive()


def test_an_error_while_generating_is_raised_in_the_writer():
    def chunks():
        yield 1
        raise ValueError("bad block")

    seen = []
    with pytest.raises(ValueError, match="bad block"):
        for chunk in overlapped(chunks, True):
            seen.append(chunk)
    assert seen == [1] and not _alive()


def test_a_writer_that_stops_stops_the_generating_thread():
    closed, drawn = threading.Event(), []

    def chunks():
        try:
            for i in range(1000):
                drawn.append(i)
                yield i
        finally:
            closed.set()

    stream = overlapped(chunks, True)
    with pytest.raises(RuntimeError, match="disk full"):
        for chunk in stream:
            if chunk == 3:
                raise RuntimeError("disk full")
    stream.close()  # what the for loop's frame does when it unwinds: the generator's finally joins the thread
    assert closed.is_set() and not _alive()
    assert len(drawn) < 10  # one chunk ahead, not the whole stream
