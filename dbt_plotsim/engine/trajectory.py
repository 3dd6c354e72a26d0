"""Trajectories: each entity's position in [0, 1] for every period, from its archetype's curve.

An archetype is a sequence of pieces joined at breakpoints; each piece starts at the level where the
previous one ended, so curves never jump at a join. Entities of a segment get their own breakpoints,
levels, timing and amplitude (seeded), so no two entities are copies. Everything is vectorized over
entities x periods; the only loop is over the few pieces of one archetype.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from .rng import ENTITY_BLOCK

EDGE = 0.005  # positions stay inside [EDGE, 1 - EDGE]
STEP_STEEPNESS = 40.0


@dataclass(frozen=True)
class EntityCurves:
    """Per-entity parameters of one archetype for a block of entities (arrays of length n)."""

    breakpoints: np.ndarray  # (n, K + 1): 0, internal joins, 1
    levels: np.ndarray  # (n, K + 1): starting level, then the target of each piece (used by moving shapes)
    shift: np.ndarray  # (n,) time shift, fraction of the window
    amplitude_scale: np.ndarray  # (n,)
    phase_shift: np.ndarray  # (n,) in cycles
    peak_offset: np.ndarray  # (n,) logit offset of spike peaks


def nominal_levels(pieces) -> list[float]:
    """Starting level, then each piece's target (`to`); pieces without a target hold their start."""
    levels = [pieces[0].initial_level]
    for piece in pieces:
        levels.append(piece.to if piece.to is not None else levels[-1])
    return levels


def nominal_breakpoints(pieces) -> list[float]:
    return [0.0] + [piece.until if piece.until is not None else 1.0 for piece in pieces]


def draw_entity_curves(pieces, variation: float, rng: np.random.Generator, n: int) -> EntityCurves:
    """Per-entity variation of the archetype; draws are made for a whole block so entity i's draws never
    depend on how many entities follow it."""
    k = len(pieces)
    b = ENTITY_BLOCK
    shift = rng.normal(0.0, 0.05 * variation, b)[:n]
    joins = rng.normal(0.0, 0.04 * variation, (b, max(k - 1, 0)))[:n]
    level_noise = rng.normal(0.0, 0.9 * variation, (b, k + 1))[:n]
    amplitude_scale = np.exp(rng.normal(0.0, 0.3 * variation, b))[:n]
    phase_shift = rng.normal(0.0, 0.08 * variation, b)[:n]
    peak_offset = rng.normal(0.0, 0.6 * variation, b)[:n]

    nominal_b = np.asarray(nominal_breakpoints(pieces), dtype=float)
    breakpoints = np.broadcast_to(nominal_b, (n, k + 1)).copy()
    if k > 1:
        inner = np.sort(nominal_b[1:-1] + joins, axis=1)
        min_gap = 0.02
        inner = np.clip(inner, min_gap, 1.0 - min_gap)
        # keep joins ordered with a minimum gap so no piece collapses to zero length
        inner = np.maximum.accumulate(inner + min_gap * np.arange(k - 1), axis=1) - min_gap * np.arange(k - 1)
        breakpoints[:, 1:-1] = inner
    nominal_l = np.clip(np.asarray(nominal_levels(pieces), dtype=float), 0.01, 0.99)
    levels = expit(logit(nominal_l) + level_noise)
    return EntityCurves(breakpoints, levels, shift, amplitude_scale, phase_shift, peak_offset)


def _norm_sigmoid(u: np.ndarray, steepness: float, midpoint: float) -> np.ndarray:
    low = expit(-steepness * midpoint)
    high = expit(steepness * (1.0 - midpoint))
    return (expit(steepness * (u - midpoint)) - low) / (high - low)


def _piece_value(piece, u: np.ndarray, start: np.ndarray, end: np.ndarray, curves: EntityCurves,
                 piece_years: np.ndarray) -> np.ndarray:
    """Value of one piece at local time u in [0, 1]; start/end are (n, 1) levels."""
    shape = piece.shape
    if shape == "linear":
        return start + (end - start) * u
    if shape == "sigmoid":
        return start + (end - start) * _norm_sigmoid(u, piece.steepness, piece.midpoint)
    if shape == "step":
        return start + (end - start) * _norm_sigmoid(u, STEP_STEEPNESS, piece.at)
    if shape == "exponential":
        return start + (end - start) * np.expm1(piece.rate * u) / np.expm1(piece.rate)
    if shape == "decay":
        return start + (end - start) * (-np.expm1(-piece.rate * u)) / (-np.expm1(-piece.rate))
    if shape == "plateau":
        return np.broadcast_to(start, u.shape)
    if shape == "oscillation":
        cycles = piece.cycles if piece.cycles is not None else piece_years  # default: one cycle a year
        phase = piece.phase + curves.phase_shift[:, None]
        amplitude = piece.amplitude * curves.amplitude_scale[:, None]
        wave = np.sin(2 * np.pi * (cycles * u + phase)) - np.sin(2 * np.pi * phase)
        return start + amplitude * wave
    if shape == "spike":
        peak = expit(logit(np.clip(piece.peak, 0.01, 0.99)) + curves.peak_offset[:, None])
        sd = piece.width / 4.0
        bump = np.exp(-0.5 * ((u - piece.at) / sd) ** 2)
        edge0 = np.exp(-0.5 * ((0.0 - piece.at) / sd) ** 2)
        edge1 = np.exp(-0.5 * ((1.0 - piece.at) / sd) ** 2)
        bump = (bump - (1 - u) * edge0 - u * edge1) / (1.0 - min(edge0, edge1))
        return start + (peak - start) * bump
    raise AssertionError(f"unhandled shape {shape}")


def positions(pieces, curves: EntityCurves, x: np.ndarray, window_years: float, clip: bool = True) -> np.ndarray:
    """Positions (n, P) at curve times x, (P,) shared or (n, P) per entity; outside [0, 1] the curve holds
    its end values."""
    n = curves.levels.shape[0]
    x2 = x if x.ndim == 2 else x[None, :]
    x_eff = np.clip(x2 - curves.shift[:, None], 0.0, 1.0)
    out = np.empty((n, x2.shape[1]), dtype=np.float64)
    bp = curves.breakpoints
    piece_index = np.zeros(x_eff.shape, dtype=np.int64)
    for k in range(1, len(pieces)):
        piece_index += x_eff > bp[:, k : k + 1]
    start = curves.levels[:, :1]
    for k, piece in enumerate(pieces):
        left, right = bp[:, k : k + 1], bp[:, k + 1 : k + 2]
        end = curves.levels[:, k + 1 : k + 2] if piece.to is not None else start
        piece_years = (right - left) * window_years
        mask = piece_index == k
        if mask.any():
            u = np.clip((x_eff - left) / np.maximum(right - left, 1e-9), 0.0, 1.0)
            np.copyto(out, _piece_value(piece, u, start, end, curves, piece_years), where=mask)
        # the next piece starts exactly where this one ends: composed curves never jump
        start = _piece_value(piece, np.ones_like(start), start, end, curves, piece_years)
    return np.clip(out, EDGE, 1.0 - EDGE) if clip else out
