"""Calibration: from declared relations to the latent model that delivers them.

1. Each declared output r becomes a latent target through the exact marginal transforms (norta.py).
2. The free parameters (signals, lag weights, undeclared noise correlations) are fitted so that every
   target holds (fit.py); when none does, conflicts.py names the declarations that clash.
3. A fixed pilot of every segment then runs the real generation (seasonality, arrivals, terminal events,
   noise, rounding) and the targets are corrected until the r measured on the cells that exist is the
   declared one (pilot.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import Problem
from . import norta
from .copula import LatentModel
from .fit import Fit, FitProblem, fit
from .scope import scoped_targets
from .values import jitter_variance


@dataclass
class Calibration:
    fit: Fit | None
    problem: FitProblem
    declared: list  # spec Correlation per pair
    problems: list[Problem] = field(default_factory=list)
    measured: dict = field(default_factory=dict)  # what the pilot delivered: r per pair, ended share
    nearest: dict | None = None  # with problems: nearest r that hold, per correlation key
    scoped: list = field(default_factory=list)  # scope.ScopedTarget per (declaration, segment)
    scoped_targets: np.ndarray | None = None  # their current latent targets
    cells: object = None  # cells.CellNoise of the segment and regime declarations
    regimes: list = field(default_factory=list)  # regimes.py: correlations `during` declared periods
    regime_targets: np.ndarray | None = None
    adjusted: dict = field(default_factory=dict)  # on_conflict nearest: key -> (declared r, r used)

    @property
    def model(self) -> LatentModel:
        return self.fit.solution.model

    @property
    def noise_corr(self) -> np.ndarray:
        return self.fit.solution.noise_corr

    @property
    def lags(self) -> dict:
        return {m: (d, n, self.fit.weights[m]) for m, (d, n, _) in self.problem.lags.items()}


def pair_noise(spec, a: int, b: int, position_knots: np.ndarray) -> tuple[float, float, float]:
    """(jitter factor, outlier share of a, of b): latent correlation before jitter = after x factor."""
    na, nb = spec.noise_of(spec.metrics[a]), spec.noise_of(spec.metrics[b])
    factor = float(np.sqrt(jitter_variance(na, position_knots) * jitter_variance(nb, position_knots)))
    return factor, na.outliers, nb.outliers


def declared_target(spec, corr, index, marginals, position_knots):
    """(pair, latent target, pair noise) of a declared correlation, or the Problem when the two marginals
    cannot reach its r at all (with the nearest value that they can)."""
    a, b = index[corr.between[0]], index[corr.between[1]]
    factor, oa, ob = noise = pair_noise(spec, a, b, position_knots)
    latent = norta.latent_for(marginals[a], marginals[b], corr.r, oa, ob)
    if latent is not None:
        return (a, b), latent * factor, noise
    low, high = norta.pearson_range(marginals[a], marginals[b], oa, ob)
    nearest = np.floor(high * 100) / 100 if corr.r > high else np.ceil(low * 100) / 100
    return Problem(f"correlations.{corr.key}.r", (
        f"{corr.r} cannot be reached by these two distributions (the most their shapes allow is "
        f"[{low:.3f}, {high:.3f}]); nearest value that holds: r: {nearest:.2f}"))


def declared_targets(spec, index, marginals, position_knots, keep) -> tuple[list, list[Problem]]:
    """[(correlation, pair, latent target, pair noise)] of the declarations `keep(corr)` selects, and the
    problems of those no latent value reaches."""
    found, problems = [], []
    for corr in spec.correlations:
        if not keep(corr):
            continue
        target = declared_target(spec, corr, index, marginals, position_knots)
        if isinstance(target, Problem):
            problems.append(target)
        else:
            found.append((corr, *target))
    return found, problems


def latent_targets(spec, index, marginals, position_knots) -> tuple[list, list, list, list, list[Problem]]:
    """(pairs, latent targets, pair noise, declared correlations) of the pooled declarations, and the pairs
    no latent value reaches."""
    found, problems = declared_targets(spec, index, marginals, position_knots,
                                       lambda c: c.scope == "pooled" and c.during is None)  # scope.py, regimes.py
    declared = [corr for corr, _, _, _ in found]
    return ([p for _, p, _, _ in found], [t for _, _, t, _ in found], [n for _, _, _, n in found], declared,
            problems)


def fit_problem(spec, index, order, moments, pairs, targets, noises) -> FitProblem:
    lags = {index[l.metric]: (index[l.follows], l.periods, l.weight) for l in spec.lags}
    return FitProblem(
        signs=tuple(m.sign for m in spec.metrics),
        signals=tuple(m.signal for m in spec.metrics),
        lags=lags, order=tuple(order), moments=moments, persistence=spec.persistence,
        pairs=tuple(pairs), targets=np.asarray(targets, dtype=float), undeclared=spec.calibration.undeclared,
        pair_noise=tuple(noises),
    )


def calibrate(spec, index, marginals, order, moments, position_knots, cells_for=None) -> Calibration:
    """`cells_for(scoped)` gives the CellNoise of the segment and regime declarations (plan.py)."""
    pairs, targets, noises, declared, problems = latent_targets(spec, index, marginals, position_knots)
    scoped, scoped_problems = scoped_targets(spec, index, marginals, position_knots)
    problems += scoped_problems
    problem = fit_problem(spec, index, order, moments, pairs, targets, noises)
    cells = cells_for(scoped) if cells_for is not None else None
    if cells is not None and cells.needed:
        problem = replace(problem, cells=cells, scoped_targets=np.array([t.target for t in scoped]),
                          regime_targets=np.array([t.target for t in cells.regimes]))
    if problems:
        return Calibration(None, problem, declared, problems)
    fitted = fit(problem)
    if fitted is not None:
        calibration = Calibration(fitted, problem, declared)
        calibration.scoped, calibration.cells = scoped, cells
        calibration.scoped_targets = np.array([t.target for t in scoped])
        calibration.regimes = cells.regimes if cells is not None else []
        calibration.regime_targets = np.array([t.target for t in calibration.regimes])
        return calibration
    from .conflicts import explain

    problems, nearest = explain(spec, problem, declared)
    calibration = Calibration(None, problem, declared, problems)
    calibration.nearest = nearest
    return calibration


def refit(calibration: Calibration, targets: np.ndarray, scoped_targets: np.ndarray | None = None,
          regime_targets: np.ndarray | None = None) -> bool:
    """Fit again for corrected latent targets (and scoped or regime ones), starting from the current fit;
    False when none holds."""
    problem = calibration.problem.with_targets(targets)
    if scoped_targets is not None:
        problem = replace(problem, scoped_targets=np.asarray(scoped_targets))
    if regime_targets is not None:
        problem = replace(problem, regime_targets=np.asarray(regime_targets))
    fitted = fit(problem, start=calibration.fit)
    if fitted is None:
        return False
    calibration.fit, calibration.problem = fitted, problem
    return True
