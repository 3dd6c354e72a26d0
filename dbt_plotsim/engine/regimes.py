"""Correlations that change between declared periods (`during: {from, until}` on a pooled correlation).

The window splits into intervals where the same regime declarations apply. Each interval gets its own noise
correlation matrix: the pooled C with those pairs solved for their targets on the trajectory moments of the
interval's periods; segment-scoped matrices are then solved on top of it. Each period's own variations are
mixed by its interval's matrix, so the AR(1) memory of every metric runs on across a regime change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scope import ScopedTarget


@dataclass(frozen=True)
class Interval:
    columns: np.ndarray  # window period indices
    declarations: tuple[int, ...]  # indices into the regime targets that apply here


def regime_targets(spec, index, marginals, position_knots, starts: np.ndarray):
    """(targets, period columns of each, problems) for every correlation with `during`."""
    from ..errors import Problem
    from .calibrate import declared_targets

    targets, spans = [], []
    found, problems = declared_targets(spec, index, marginals, position_knots, lambda c: c.during is not None)
    for corr, pair, target, noise in found:
        columns = regime_columns(starts, corr.during)
        if columns.size == 0:
            problems.append(Problem(f"correlations.{corr.key}.during", "covers no period of the window"))
            continue
        targets.append(ScopedTarget(corr, "", pair, target, noise))
        spans.append(columns)
    return targets, spans, problems


def regime_columns(starts: np.ndarray, during) -> np.ndarray:
    """The periods of a regime: those starting within it, and the one it starts inside."""
    days = starts.astype("datetime64[D]")
    first = np.datetime64(during.start, "D")
    last = np.datetime64(during.until, "D")
    following = np.append(days[1:], days[-1] + 31)
    return np.nonzero((days <= last) & (following > first))[0]


def intervals(spans: list[np.ndarray], periods: int) -> list[Interval]:
    """Maximal runs of periods with the same set of regime declarations (periods with none left out)."""
    applies = [tuple(i for i, span in enumerate(spans) if p in set(span.tolist())) for p in range(periods)]
    out: list[Interval] = []
    for key in dict.fromkeys(a for a in applies if a):
        out.append(Interval(np.array([p for p in range(periods) if applies[p] == key]), key))
    return out
