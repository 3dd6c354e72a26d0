"""Calendar multipliers per period, scaled by a segment's sensitivity: 1 + s * (m - 1)."""
from __future__ import annotations

import numpy as np

from ..spec.seasonality import rate_targets


def base_multipliers(season, starts: np.ndarray) -> np.ndarray:
    """Multiplier of each period from its start's month (and weekday, for day grain)."""
    out = np.ones(len(starts))
    if season.month_of_year is not None:
        months = starts.astype("datetime64[M]").astype(np.int64) % 12
        out *= np.asarray(season.month_of_year)[months]
    if season.day_of_week is not None:
        weekday = (starts.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        out *= np.asarray(season.day_of_week)[weekday]
    return out


def seasonal_factor(plan, segment: str, target: str) -> np.ndarray | None:
    """(P,) multipliers for a metric or event of a segment, or None when seasonality does not apply."""
    season = plan.spec.seasonality
    if season is None:
        return None
    applies = season.applies_to if season.applies_to is not None else rate_targets(plan.spec)
    if target not in applies:
        return None
    sensitivity = season.sensitivity.get(segment, 1.0)
    return 1.0 + sensitivity * (base_multipliers(season, plan.starts) - 1.0)


def calendar_buckets(plan) -> np.ndarray:
    """(P,) the calendar period of each window period that seasonality is declared over: its month of the
    year, and with day-of-week multipliers also its weekday (month * 7 + weekday)."""
    months = plan.starts.astype("datetime64[M]").astype(np.int64) % 12
    season = plan.spec.seasonality
    if season is not None and season.day_of_week is not None:
        return months * 7 + (plan.starts.astype(np.int64) + 3) % 7
    return months
