"""Arrival periods: when each entity enters the window (no rows before it; its curve starts there)."""
from __future__ import annotations

import numpy as np

from .rng import ENTITY_BLOCK, stream


def arrival_fractions(arrivals, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of the arrival pattern over [from, until], for uniforms u."""
    lo, hi = arrivals.start, arrivals.until
    if arrivals.pattern == "start":
        return np.zeros_like(u)
    if arrivals.pattern == "uniform":
        return lo + (hi - lo) * u
    if arrivals.pattern == "ramp_up":  # density rising linearly: more arrivals later
        return lo + (hi - lo) * np.sqrt(u)
    if arrivals.pattern == "ramp_down":
        return lo + (hi - lo) * (1.0 - np.sqrt(1.0 - u))
    at = np.array([s.at for s in arrivals.steps])
    cum = np.cumsum([s.share for s in arrivals.steps])
    return at[np.minimum(np.searchsorted(cum, u, side="right"), len(at) - 1)]


def draw_arrivals(seed: int, segment_name: str, arrivals, block: int, n: int, periods: int) -> np.ndarray:
    """Arrival period index (0 .. periods-1) of each entity of a block."""
    if arrivals.pattern == "start":
        return np.zeros(n, dtype=np.int64)
    u = stream(seed, "arrival", segment_name, block).random(ENTITY_BLOCK)[:n]
    return np.minimum((arrival_fractions(arrivals, u) * periods).astype(np.int64), periods - 1)
