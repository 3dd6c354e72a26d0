"""Whole cents that add up exactly: a cell's adjusted value floored to the cent, plus one cent (or minus one)
on the cells of a group that are nearest to the next cent, as many as the group's quota says.

Shared by the totals solver (which counts, per unit of entities and period, what the floors leave over)
and the chunks it adjusts (which hand the quota out), so both see the same cents.
"""
from __future__ import annotations

import numpy as np

SCALE, SHIFT = "scale", "shift"


def adjusted(x: np.ndarray, theta: np.ndarray, mode: str, low: float, high: float) -> np.ndarray:
    """Cells' values in cents after the period's factor (scale) or offset in cents (shift), within [low, high]
    (whole cents or infinite); `theta` is broadcast against x."""
    v = x * theta if mode == SCALE else x + theta
    return np.clip(v, low, high)


def floors(v: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(base cents, fraction above it, can take a cent more, can give a cent back) of clipped values v."""
    base = np.floor(v)
    frac = v - base
    free = (v > low) & (v < high)  # cells at a bound stay there
    return base, np.where(free, frac, 0.0), free, free & (base > low)


def apportion(residual: np.ndarray, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Split each column's integer `residual` (P,) over the rows (units) of `weights` (U, P) in proportion,
    by largest remainders, never giving a row more than its `caps`: the quota per unit and period."""
    units, periods = weights.shape
    quota = np.zeros((units, periods), dtype=np.int64)
    left = residual.astype(np.int64).copy()
    weights = np.where(caps > 0, np.maximum(weights, 0.0), 0.0)
    for _ in range(64):  # each round fills the rows it capped; a handful of rounds at most in practice
        room = caps - quota
        w = np.where(room > 0, weights, 0.0)
        empty = w.sum(axis=0) <= 0
        w[:, empty] = (room[:, empty] > 0).astype(float)  # no weight left: spread by room alone
        total = w.sum(axis=0)
        share = np.divide(w * left[None, :], total[None, :], out=np.zeros_like(w), where=total[None, :] > 0)
        whole = np.minimum(np.floor(share).astype(np.int64), room)
        quota += whole
        left -= whole.sum(axis=0)
        if not left.any():
            return quota
        # the remainder, one each, to the rows with the largest fractional shares that still have room
        room = caps - quota
        order = np.argsort(-np.where(room > 0, share - np.floor(share), -1.0), axis=0, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(units)[:, None].repeat(periods, axis=1), axis=0)
        extra = (rank < left[None, :]) & (room > 0)
        quota += extra
        left -= extra.sum(axis=0)
        if not left.any():
            return quota
    raise AssertionError(f"bug: {left.sum()} cents left after apportioning (caps {caps.sum(axis=0)})")


def distribute(base: np.ndarray, frac: np.ndarray, up: np.ndarray, down: np.ndarray, group: np.ndarray,
               quota: np.ndarray) -> np.ndarray:
    """Cents per cell: base, plus one on the `quota[group]` cells of each group with the largest fractions
    (minus one on those with the smallest, for a negative quota). Cells keep their order within a group."""
    q = quota[group]
    giving = q > 0
    eligible = np.where(giving, up, down)
    key = np.where(giving, -frac, frac)
    order = np.lexsort((np.arange(base.size), key, ~eligible, group))
    sorted_group = group[order]
    starts = np.r_[0, np.flatnonzero(sorted_group[1:] != sorted_group[:-1]) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, sorted_group.size]))
    rank = np.empty(base.size, dtype=np.int64)
    rank[order] = np.arange(base.size) - first
    step = np.where(eligible & (rank < np.abs(q)), np.sign(q), 0)
    return base.astype(np.int64) + step


def systematic(quota: np.ndarray, weights: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Split each column's whole `quota` (P,) over the rows of `weights` (n, P) by systematic sampling: the
    rows laid end to end by weight, the points `offset + j` (j = 0 .. quota - 1, offset in [0, 1)) counted in
    each. A row gets the floor or the ceiling of its share quota x w / sum(w), and exactly its share on
    average over the offset; largest remainders would give small quotas to the heaviest rows every time.
    Whole-number weights are split exactly, so no row gets more than its weight while quota <= sum(w)."""
    quota = np.asarray(quota, dtype=np.int64)
    if not len(weights) and not quota.any():
        return np.zeros(weights.shape, dtype=np.int64)
    cum = np.cumsum(weights, axis=0)
    total = cum[-1]
    if (quota > 0).any() and (total[quota > 0] <= 0).any():
        raise AssertionError("bug: a quota on a column with no weight")
    if np.issubdtype(weights.dtype, np.integer):  # points r + j x total on a line of quota x total
        span = np.maximum(total, 1)
        start = np.minimum(np.floor(offset * span).astype(np.int64), span - 1)
        edge = -((start[None, :] - quota[None, :] * cum) // span[None, :])  # ceil((quota cum - start) / span)
    else:
        scaled = np.where(cum >= total[None, :], quota[None, :],
                          quota[None, :] * cum / np.where(total > 0, total, 1.0)[None, :])
        edge = np.ceil(scaled - offset[None, :]).astype(np.int64)
    edge = np.where(quota[None, :] > 0, edge, 0)
    return np.diff(edge, axis=0, prepend=np.zeros((1, edge.shape[1]), dtype=np.int64))
