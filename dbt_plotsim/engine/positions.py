"""Positions of a block of entities, and their standardization into the latent scale.

The latent trajectory score of a cell is T = Phi^-1(F(p)), with F the pooled distribution of positions
over all entity-periods. T is standard normal across the pool, which is what keeps every metric's
marginal exact while the metric still follows the cell's position.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from . import trajectory
from .rng import ENTITY_BLOCK, stream

SAMPLE_CELLS = 1_500_000  # cells of trajectory used to estimate the pooled position distribution
QUANTILE_KNOTS = 4097


@dataclass(frozen=True)
class Timeline:
    """Window fractions of the periods, with `lead` pre-window periods first (for lagged drivers)."""

    periods: int
    lead: int
    window_years: float

    @property
    def x(self) -> np.ndarray:
        t = np.arange(-self.lead, self.periods, dtype=np.float64)
        return t / max(self.periods - 1, 1)


def block_positions(seed: int, segment, pieces, block: int, n: int, timeline: Timeline,
                    arrival: np.ndarray | None = None) -> np.ndarray:
    """Positions (n, lead + periods) of entities block*ENTITY_BLOCK .. +n of one segment; an entity's
    curve starts at its arrival period and runs at the same pace as everyone's."""
    rng = stream(seed, "trajectory", segment.name, block)
    curves = trajectory.draw_entity_curves(pieces, segment.variation, rng, n)
    x = timeline.x
    if arrival is not None and arrival.any():
        x = x[None, :] - arrival[:, None] / max(timeline.periods - 1, 1)
    return trajectory.positions(pieces, curves, x, timeline.window_years)


def active_mask(arrival: np.ndarray, periods: int) -> np.ndarray:
    """(n, periods): True from each entity's arrival period on."""
    return np.arange(periods)[None, :] >= arrival[:, None]


@dataclass(frozen=True)
class PositionScale:
    """Pooled quantiles of positions: maps a position to its standard-normal latent score."""

    knots: np.ndarray  # positions at quantile levels `levels`, strictly increasing
    levels: np.ndarray

    def score(self, p: np.ndarray) -> np.ndarray:
        u = np.interp(p, self.knots, self.levels)
        return ndtri(u)


def sample_sizes(counts: list[int], periods: int) -> list[int]:
    """Entities per segment used for calibration: the same fixed prefix of every segment, whatever its
    count (so the plan does not change with --scale); the weights carry the counts."""
    per_segment = max(ENTITY_BLOCK, SAMPLE_CELLS // max(periods * max(len(counts), 1), 1))
    return [per_segment for _ in counts]


def fit_scale(samples: list[np.ndarray], weights: list[float], lead: int,
              masks: list[np.ndarray] | None = None) -> PositionScale:
    """Weighted pooled quantiles of window positions over active cells (each sample: one segment's prefix)."""
    masks = masks or [np.ones(s[:, lead:].shape, dtype=bool) for s in samples]
    values = np.concatenate([s[:, lead:][m] for s, m in zip(samples, masks)])
    w = np.concatenate([np.full(int(m.sum()), wt) for m, wt in zip(masks, weights)])
    order = np.argsort(values, kind="stable")
    values, w = values[order], w[order]
    cum = np.cumsum(w)
    mid = (cum - 0.5 * w) / cum[-1]  # mid-ranks: an atom of positions maps to the middle of its mass
    levels = np.linspace(0.0, 1.0, QUANTILE_KNOTS)
    half = 0.5 / len(values)
    levels = np.clip(levels, half, 1.0 - half)
    knots = np.interp(levels, mid, values)
    knots = knots + np.arange(QUANTILE_KNOTS) * 1e-12  # strictly increasing for interpolation
    return PositionScale(knots, levels)
