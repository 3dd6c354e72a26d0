import datetime as dt

import numpy as np
import pytest

from dbt_plotsim.engine.calendar import date_keys, period_ends, period_starts


def test_months_cover_the_window_inclusively():
    starts = period_starts(dt.date(2024, 1, 15), dt.date(2025, 3, 2), "month")
    assert len(starts) == 15
    assert str(starts[0]) == "2024-01-01" and str(starts[-1]) == "2025-03-01"
    ends = period_ends(starts, "month")
    assert str(ends[1]) == "2024-02-29"  # leap year


def test_weeks_start_on_monday_and_touch():
    starts = period_starts(dt.date(2024, 1, 3), dt.date(2024, 3, 1), "week")
    assert all(d.isoweekday() == 1 for d in starts.astype(object))
    ends = period_ends(starts, "week")
    assert np.all(starts[1:] == ends[:-1] + 1)  # no gap, no overlap


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_periods_have_no_gaps(grain):
    starts = period_starts(dt.date(2023, 11, 20), dt.date(2024, 2, 10), grain)
    ends = period_ends(starts, grain)
    assert np.all(starts[1:] == ends[:-1] + 1)


def test_date_keys_are_yyyymmdd():
    keys = date_keys(np.array(["2024-02-29", "1999-12-31"], dtype="datetime64[D]"))
    assert keys.tolist() == [20240229, 19991231]
