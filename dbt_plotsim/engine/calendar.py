"""Periods of the window for a grain, as numpy datetime64[D] starts and ends."""
from __future__ import annotations

import datetime as dt

import numpy as np


def period_starts(start: dt.date, end: dt.date, grain: str) -> np.ndarray:
    """First day of every period that overlaps [start, end]."""
    first = np.datetime64(start, "D")
    last = np.datetime64(end, "D")
    if grain == "day":
        return np.arange(first, last + 1, dtype="datetime64[D]")
    if grain == "week":  # ISO weeks, starting on Monday
        monday = first - ((first.astype("datetime64[D]").view("int64") - 4) % 7)
        return np.arange(monday, last + 1, 7, dtype="datetime64[D]")
    months = np.arange(first.astype("datetime64[M]"), last.astype("datetime64[M]") + 1, dtype="datetime64[M]")
    return months.astype("datetime64[D]")


def period_ends(starts: np.ndarray, grain: str) -> np.ndarray:
    if grain == "day":
        return starts.copy()
    if grain == "week":
        return starts + 6
    return (starts.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1


LOAD_HOUR = 23  # a source's load of a period runs on the period's last day at this hour


def load_times(starts: np.ndarray, grain: str) -> np.ndarray:
    """(P,) datetime64[s]: when the load of each period runs (its last day, LOAD_HOUR:00)."""
    return period_ends(starts, grain).astype("datetime64[s]") + np.timedelta64(LOAD_HOUR * 3600, "s")


def period_count(start: dt.date, end: dt.date, grain: str) -> int:
    return len(period_starts(start, end, grain))


def date_keys(starts: np.ndarray) -> np.ndarray:
    """yyyymmdd integers, the usual surrogate key of a date dimension."""
    ymd = starts.astype("datetime64[D]")
    years = ymd.astype("datetime64[Y]").astype(np.int64) + 1970
    months = ymd.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (ymd - ymd.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return (years * 10000 + months * 100 + days).astype(np.int32)
