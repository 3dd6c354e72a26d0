"""Declared totals (spec/totals.py): per period, one factor on a metric's values (one offset for a normal
metric) that makes the rows that exist add up to the declared total, exactly to the cent.

A factor per period leaves every entity's rank within the period, the correlations within the period and
the lags (whose test removes each period's mean change) as they were, and a scale family (lognormal, gamma,
weibull, beta) keeps its shape: period p's values follow the family with its scale times c_p. The solver
reads the values before the first chunk is written, in passes over the blocks (they are deterministic per
segment and block, so the passes see exactly the rows generation writes):
1. the sum, count, least and largest value of each period's non-null cells on the rows that exist;
2. c_p = T_p / S_p; when that would push values past the range, c_p solves sum(clip(c_p x)) = T_p
   (water-filling), by a grid of candidates per pass, until one leaves a residual the cents can take;
3. at c_p, per unit of entities (a block, or a part of one: parts.py) and period, the cents the floors
   leave over, handed out over the units in proportion to their fractions (exact_cents.apportion).
Chunks are then adjusted as they stream (totals_chunks.py). A total no value in the range can reach is a
problem naming the periods and the nearest totals that hold, or (calibration.on_conflict: nearest) those
totals with a warning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import Problem
from ..spec.totals import NON_NEGATIVE, total_cents
from .exact_cents import SCALE, SHIFT, adjusted, apportion, floors
from .totals_cells import Cells

CANDIDATES = 64  # factors tried per period and pass where values reach a bound
MAX_PASSES = 12
MEAN_MOVED = 0.10  # warn when a factor is further than this from 1 (an offset, in declared standard deviations)
AT_BOUND = 0.05  # warn when more than this share of a period's rows ends on a bound of the range


@dataclass(frozen=True)
class Target:
    """One declared total: where its values are and what they add up to."""

    path: str
    label: str
    table: str
    column: str
    metric: int | None  # metric index, or None for a transaction's amount
    tx: object | None
    mode: str  # SCALE or SHIFT
    low: float  # bounds in cents, whole or infinite
    high: float
    cents: np.ndarray  # (P,) declared totals in cents
    mean: float  # declared mean per row, in cents
    spread: float  # declared standard deviation per row, in cents
    amount: bool  # values are exact cents already


@dataclass
class Solved:
    target: Target
    theta: np.ndarray  # (P,) factor (SCALE) or offset in cents (SHIFT)
    units: np.ndarray  # (U,) first entity id of each unit, ascending
    quota: np.ndarray  # (U, P) cents each unit hands out on top of its floors
    cents: np.ndarray  # (P,) totals held (the declared ones, or the nearest that hold)
    rows: np.ndarray  # (P,) non-null rows
    at_bound: np.ndarray = field(default=None)  # (P,) rows ending on a bound


@dataclass
class Totals:
    solved: list[Solved]
    warnings: list[str]


def targets(plan) -> list[Target]:
    from .transactions import amount_marginal

    spec, periods = plan.spec, plan.periods
    out = []
    for m, metric in enumerate(spec.metrics):
        if metric.total is None:
            continue
        marginal = plan.marginals[m]
        table = next(f.name for f in plan.facts if m in f.metrics)
        out.append(_target(f"metrics.{metric.name}.total", metric.name, table, metric.name, m, None, marginal,
                           metric.total, periods, metric.type == "amount"))
    for tx in spec.transactions:
        if tx.amount.total is not None:
            out.append(_target(f"transactions.{tx.name}.amount.total", f"{tx.name} amount", f"fct_{tx.name}",
                               "amount", None, tx, amount_marginal(tx), tx.amount.total, periods, True))
    return out


def _target(path, label, table, column, metric, tx, marginal, total, periods, amount) -> Target:
    low = math.ceil(marginal.low * 100 - 1e-6) if marginal.low is not None else (
        0.0 if marginal.family in NON_NEGATIVE else -math.inf)
    high = math.floor(marginal.high * 100 + 1e-6) if marginal.high is not None else math.inf
    return Target(path, label, table, column, metric, tx, SHIFT if marginal.family == "normal" else SCALE,
                  float(low), float(high), np.asarray(total_cents(total, periods), dtype=np.int64),
                  marginal.mean * 100, float(marginal.values((np.arange(4000) + 0.5) / 4000).std()) * 100, amount)


def solve(plan) -> tuple[Totals | None, list[Problem]]:
    """The factors and quotas of every declared total, or the problems of those that cannot hold."""
    found = targets(plan)
    if not found:
        return None, []
    cells = Cells(plan, found)
    periods = plan.periods
    stats = [_first_pass(periods) for _ in found]
    for pieces in cells.units():
        for s, mine in zip(stats, pieces):
            for _, x, p in mine:
                s["n"] += np.bincount(p, minlength=periods)
                s["sum"] += np.bincount(p, weights=x, minlength=periods)
                np.minimum.at(s["min"], p, x)
                np.maximum.at(s["max"], p, x)
    problems, warnings, held = [], [], []
    for k, (target, s) in enumerate(zip(found, stats)):
        cents, wrong = _reachable(plan, target, s["n"])
        if wrong and plan.spec.calibration.on_conflict != "nearest":
            problems.append(wrong)
        elif wrong:
            warnings.append(f"{wrong.path}: {wrong.message.split(': nearest', 1)[0]}; generating with the nearest "
                            "totals that hold (calibration.on_conflict: nearest)")
        held.append((k, target, s, cents))
    if problems:
        return None, problems
    solved = [_quotas(cells, k, t, _solve_theta(cells, k, t, s, cents), cents, s["n"]) for k, t, s, cents in held]
    for one in solved:
        warnings.extend(_warnings(plan, one))
    return Totals(solved, warnings), []


def _first_pass(periods: int) -> dict:
    return {"n": np.zeros(periods, dtype=np.int64), "sum": np.zeros(periods),
            "min": np.full(periods, np.inf), "max": np.full(periods, -np.inf)}


def _reachable(plan, target: Target, rows: np.ndarray) -> tuple[np.ndarray, Problem | None]:
    """The declared totals clamped into what the period's rows can add up to, and the problem if any moved."""
    lowest = np.where(rows > 0, rows * target.low, 0.0)
    highest = np.where(rows > 0, rows * target.high, 0.0)
    held = np.clip(target.cents, lowest, highest).astype(np.int64)
    off = np.flatnonzero(held != target.cents)
    if not off.size:
        return target.cents, None
    p = int(off[0])
    where = target.path.rsplit(".", 1)[0] + ".range"
    if rows[p]:
        why = (f"but its {int(rows[p]):,} rows (those that exist and are not missing) each lie within "
               f"[{_money(target.low)}, {_money(target.high)}] ({where}), so they add up to "
               f"{_money(lowest[p])} to {_money(highest[p])}")
    else:
        why = "but the period has no rows (no entity is active, or every value is missing)"
    listed = ", ".join(f"{_day(plan, q)}: {_money(held[q])}" for q in off[:6]) + (" ..." if off.size > 6 else "")
    more = f"; {off.size} of {rows.size} periods are out of reach" if off.size > 1 else ""
    return held, Problem(target.path, f"period {_day(plan, p)} totals {_money(target.cents[p])}, {why}{more}: "
                                      f"nearest totals that hold: {listed}")


def _solve_theta(cells, k: int, target: Target, s: dict, cents: np.ndarray) -> np.ndarray:
    """Per period, the factor (offset) whose clipped values add up to the total, to within what one cent
    per row can make up."""
    n, total = s["n"], s["sum"]
    live = n > 0
    if target.mode == SCALE:
        theta = np.where(live & (total > 0), cents / np.where(total > 0, total, 1.0), 1.0)
        low_end, high_end = theta * s["min"], theta * s["max"]
    else:
        theta = np.where(live, (cents - total) / np.maximum(n, 1), 0.0)
        low_end, high_end = s["min"] + theta, s["max"] + theta
    clipped = live & ((low_end < target.low) | (high_end > target.high))
    if not clipped.any():
        return theta
    if target.mode == SCALE:  # every row at low .. every row at high
        lo = np.where(clipped, target.low / np.maximum(s["max"], 1e-300), theta)
        hi = np.where(clipped, target.high / np.maximum(s["min"], 1e-300), theta)
        hi = np.where(np.isfinite(hi), hi, theta * 1e6)
    else:
        lo, hi = target.low - s["max"], target.high - s["min"]
    for _ in range(MAX_PASSES):
        grid = _grid(lo, hi, target.mode)
        f, base, up, down = (np.zeros(grid.shape) for _ in range(4))
        for pieces in cells.units():
            for _, x, p in pieces[k]:
                v = adjusted(x[:, None], grid[p], target.mode, target.low, target.high)
                b, _, u, d = floors(v, target.low, target.high)
                at = (p[:, None] * CANDIDATES + np.arange(CANDIDATES)[None, :]).ravel()
                for acc, val in ((f, v), (base, b), (up, u), (down, d)):
                    acc += np.bincount(at, weights=val.ravel(), minlength=acc.size).reshape(acc.shape)
        residual = cents[:, None] - base
        fits = (residual <= up) & (residual >= -down)
        best = np.argmin(np.where(fits, np.abs(f - cents[:, None]), np.inf), axis=1)
        done = fits.any(axis=1) | ~clipped
        theta = np.where(clipped, grid[np.arange(grid.shape[0]), best], theta)
        if done.all():
            return theta
        below = np.where(f <= cents[:, None], np.arange(grid.shape[1]), -1).max(axis=1)
        lo = np.where(done, lo, grid[np.arange(grid.shape[0]), np.maximum(below, 0)])
        hi = np.where(done, hi, grid[np.arange(grid.shape[0]), np.minimum(below + 1, grid.shape[1] - 1)])
    raise AssertionError(f"bug: {target.path}: no factor found in {MAX_PASSES} passes")


def _grid(lo: np.ndarray, hi: np.ndarray, mode: str) -> np.ndarray:
    steps = np.linspace(0.0, 1.0, CANDIDATES)[None, :]
    if mode == SCALE and (lo > 0).all():
        return np.exp(np.log(lo)[:, None] + steps * (np.log(hi) - np.log(lo))[:, None])
    return lo[:, None] + steps * (hi - lo)[:, None]


def _quotas(cells, k: int, target: Target, theta: np.ndarray, cents: np.ndarray, rows: np.ndarray) -> Solved:
    periods = theta.size
    firsts, bases, fracs, ups, downs, bound = [], [], [], [], [], np.zeros(periods, dtype=np.int64)
    for pieces in cells.units():
        for first, x, p in pieces[k]:
            v = adjusted(x, theta[p], target.mode, target.low, target.high)
            b, fr, u, d = floors(v, target.low, target.high)
            firsts.append(first)
            bases.append(np.bincount(p, weights=b, minlength=periods))
            fracs.append(np.bincount(p, weights=fr, minlength=periods))
            ups.append(np.bincount(p, weights=u, minlength=periods))
            downs.append(np.bincount(p, weights=d, minlength=periods))
            bound += np.bincount(p, weights=~u, minlength=periods).astype(np.int64)
    stack = lambda parts: np.array(parts).reshape(len(firsts), periods)  # noqa: E731
    base, frac, up, down = stack(bases), stack(fracs), stack(ups).astype(np.int64), stack(downs).astype(np.int64)
    residual = cents - np.rint(base.sum(axis=0)).astype(np.int64)
    if (residual > up.sum(axis=0)).any() or (-residual > down.sum(axis=0)).any():
        raise AssertionError(f"bug: {target.path}: residual cents {residual} beyond what the rows can take")
    quota = (apportion(np.maximum(residual, 0), frac, up)
             - apportion(np.maximum(-residual, 0), down.astype(float), down))
    return Solved(target, theta, np.asarray(firsts, dtype=np.int64), quota, cents, rows, bound)


def _warnings(plan, one: Solved) -> list[str]:
    """The totals moved the values far from what the family gives, or pushed many rows onto a bound."""
    t, out = one.target, []
    live = one.rows > 0
    if not live.any():
        return out
    theta = one.theta[live]
    per_row = one.cents[live] / one.rows[live]
    if t.mode == SCALE:
        moved, how = np.abs(theta - 1.0).max() > MEAN_MOVED, f"scaled by {theta.min():.3g} to {theta.max():.3g}"
    else:
        moved = np.abs(theta).max() > MEAN_MOVED * t.spread
        how = f"shifted by {_money(theta.min())} to {_money(theta.max())}"
    if moved:
        out.append(f"{t.path}: to add up to the totals, {t.label}'s values are {how} per period (a mean per row of "
                   f"{_money(per_row.min())} to {_money(per_row.max())}; declared mean {_money(t.mean)}): the "
                   "totals win over the declared mean and spread")
    share = one.at_bound[live] / one.rows[live]
    if share.max() > AT_BOUND:
        p = int(np.flatnonzero(live)[np.argmax(share)])
        out.append(f"{t.path}: in period {_day(plan, p)}, {share.max():.0%} of the rows end on a bound of the "
                   f"range [{_money(t.low)}, {_money(t.high)}] so that the total holds")
    return out


def _money(cents: float) -> str:
    return f"{cents / 100:,.2f}" if math.isfinite(cents) else ("-inf" if cents < 0 else "inf")


def _day(plan, p: int) -> str:
    return str(plan.starts[p])
