"""Fitting the parameters a spec leaves free (signals, lag weights) so that every declared relation holds.

A value the user set is kept exactly. Free signals start at DEFAULT_SIGNAL, free lag weights at
DEFAULT_WEIGHT, a free persistence at DEFAULT_PERSISTENCE. When the declared relations cannot hold there (a
pair's r, a valid noise correlation matrix, a lag that shows in the data, the correlations declared within
segments), persistence and the free lag weights try other values first, then the free signals are lowered
together by the smallest step that makes the spec feasible, then each is raised again alone as far as it
goes. So no metric loses more of its trajectory than the declared relations demand, and none is
dropped to 0 while a higher value holds.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .copula import Loading
from .solve import Solution, solve, solve_quiet
from .visibility import visible

DEFAULT_SIGNAL = 0.7
DEFAULT_WEIGHT = 0.6
WEIGHT_FLOOR = 0.2  # a fitted lag weight below this would leave the lag too faint to see
RAISE_STEP = 0.04  # one turn's raise of a free signal above the common level
MIN_RAISE_STEP = 0.005


@dataclass(frozen=True)
class FitProblem:
    signs: tuple[float, ...]
    signals: tuple[float | None, ...]  # None: free
    lags: dict  # follower -> (driver, periods, weight or None)
    order: tuple[int, ...]
    moments: object
    persistence: float | None  # None: free
    pairs: tuple[tuple[int, int], ...]
    targets: np.ndarray  # latent correlation per pair
    undeclared: str = "free"  # or near_zero: undeclared pairs pulled toward 0
    pair_noise: tuple = ()  # per pair: (jitter factor, outlier share of each metric), for output <-> latent
    cells: object = None  # cells.CellNoise: correlations within segments and regimes, which must hold too
    scoped_targets: np.ndarray | None = None
    regime_targets: np.ndarray | None = None

    def with_targets(self, targets: np.ndarray) -> "FitProblem":
        return replace(self, targets=np.asarray(targets, dtype=float))

    def without(self, keep_pairs: list[int]) -> "FitProblem":
        return replace(self, pairs=tuple(self.pairs[i] for i in keep_pairs), targets=self.targets[list(keep_pairs)],
                       pair_noise=tuple(self.pair_noise[i] for i in keep_pairs))


@dataclass
class Fit:
    signals: list[float]
    weights: dict[int, float]  # follower -> weight
    persistence: float
    solution: Solution


def evaluate(problem: FitProblem, signals: list[float], weights: dict[int, float], persistence: float) -> Solution:
    loads = [Loading(sign=s, signal=float(r)) for s, r in zip(problem.signs, signals)]
    lags = {m: (d, n, weights[m]) for m, (d, n, _) in problem.lags.items()}
    method = solve_quiet if problem.undeclared == "near_zero" else solve
    return method(loads, list(problem.order), lags, problem.moments, persistence, list(problem.pairs), problem.targets)


SIGNAL_STEPS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)  # shares of DEFAULT_SIGNAL
WEIGHT_STEPS = (DEFAULT_WEIGHT, 0.5, 0.4, 0.3, 0.75, 0.9)
LONE_WEIGHT_STEPS = (*WEIGHT_STEPS, WEIGHT_FLOOR)  # one lag's weight apart from the others
DEFAULT_PERSISTENCE = 0.85
PERSISTENCE_STEPS = (DEFAULT_PERSISTENCE, 0.75, 0.65)  # less memory: a lag ties a follower's level less


def fit(problem: FitProblem, start: Fit | None = None) -> Fit | None:
    """The fitted free parameters, or None when no setting of them satisfies the declared relations (every
    pair's target, a valid noise correlation matrix, every lag visible). `start` (an earlier fit) is tried
    first, so small changes of the targets keep the fitted values."""
    free_signals = [m for m, s in enumerate(problem.signals) if s is None]
    free_weights = [m for m, (_, _, w) in problem.lags.items() if w is None]

    def point(kappa: float, weight) -> tuple[list[float], dict[int, float]]:
        """Signals at kappa x default; `weight` is one free weight for every lag, or (common, lag, its own)."""
        common, alone, own = (weight, None, None) if isinstance(weight, float) else weight
        signals = [DEFAULT_SIGNAL * kappa if s is None else s for s in problem.signals]
        weights = {m: (own if m == alone else common) if w is None else w for m, (_, _, w) in problem.lags.items()}
        return signals, weights

    def attempt(signals, weights, persistence) -> Fit | None:
        sol = evaluate(problem, signals, weights, persistence)
        if not sol.feasible:
            return None
        lags = {m: (d, n, weights[m]) for m, (d, n, _) in problem.lags.items()}
        if not visible(sol.model, sol.noise_corr, lags):
            return None
        if problem.cells is not None and not problem.cells.build(sol.model, sol.noise_corr, problem.scoped_targets,
                                                                 problem.regime_targets):
            return None
        return Fit(list(signals), dict(weights), persistence, sol)

    if start is not None:
        found = attempt(start.signals, start.weights, start.persistence)
        if found is not None:
            return found
    # the signals give way as little as they can: the highest common level over persistence and weights
    persistences = PERSISTENCE_STEPS if problem.persistence is None else (problem.persistence,)
    common = [(p, w) for p in persistences for w in (WEIGHT_STEPS if free_weights else (DEFAULT_WEIGHT,))]
    # when no common weight holds, one lag may take a weight of its own (two lags in a chain often want
    # different ties)
    lone = [(p, (w, m, own)) for p, w in common for m in free_weights for own in LONE_WEIGHT_STEPS if own != w]
    lone = lone if len(free_weights) > 1 else []
    best, level = None, -1.0
    for kappa in SIGNAL_STEPS if free_signals else (1.0,):
        for combos in (common, lone):
            for persistence, weight in combos:
                found = attempt(*point(kappa, weight), persistence)
                if found is None:
                    continue
                lo, hi = kappa, min(1.0, kappa + 0.1)  # refine between this step and the one above that failed
                while free_signals and hi - lo > 0.01:
                    mid = (lo + hi) / 2
                    trial = attempt(*point(mid, weight), persistence)
                    lo, hi, found = (mid, hi, trial) if trial is not None else (lo, mid, found)
                if lo > level + 1e-9:
                    best, level = found, lo
            if best is not None:
                break
        if best is not None:
            break
    if best is None:
        return None
    signals, weights, persistence = best.signals, best.weights, best.persistence
    # then raise the free signals in turns, a step each while they can, so none gains at another's expense
    # only because it comes first; each step halves when it no longer holds
    step = {m: RAISE_STEP for m in free_signals}
    while True:
        rising = [m for m in free_signals if signals[m] < DEFAULT_SIGNAL - 1e-9 and step[m] >= MIN_RAISE_STEP]
        if not rising:
            return best
        for m in rising:
            trial = signals.copy()
            trial[m] = min(DEFAULT_SIGNAL, signals[m] + step[m])
            found = attempt(trial, weights, persistence)
            if found is not None:
                best, signals = found, trial
            else:
                step[m] /= 2
