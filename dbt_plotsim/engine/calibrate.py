"""Calibration: from declared relations to the latent model that delivers them.

1. Each declared output r becomes a latent target through the exact marginal transforms (norta.py).
2. The free parameters (signals, lag weights, undeclared noise correlations) are fitted so that every
   target holds (fit.py); when none does, conflicts.py names the declarations that clash.
3. A fixed pilot of every segment then runs the real generation (seasonality, arrivals, terminal events,
   noise, rounding) and the targets are corrected until the r measured on the cells that exist is the
   declared one (pilot.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import Problem
from . import norta
from .copula import LatentModel
from .fit import Fit, FitProblem, fit


@dataclass
class Calibration:
    fit: Fit | None
    problem: FitProblem
    declared: list  # spec Correlation per pair
    problems: list[Problem] = field(default_factory=list)
    measured: dict = field(default_factory=dict)  # what the pilot delivered: r per pair, ended share
    nearest: dict | None = None  # with problems: nearest r that hold, per correlation key
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


def latent_targets(spec, index, marginals) -> tuple[list, list, list[Problem]]:
    """(pairs, latent targets, declared correlations) and the pairs no latent value reaches."""
    jitter = 1.0 + spec.noise.gaussian**2
    outliers = spec.noise.outliers
    pairs, targets, declared, problems = [], [], [], []
    for corr in spec.correlations:
        a, b = index[corr.between[0]], index[corr.between[1]]
        latent = norta.latent_for(marginals[a], marginals[b], corr.r, outliers)
        if latent is None:
            low, high = norta.pearson_range(marginals[a], marginals[b], outliers)
            nearest = np.floor(high * 100) / 100 if corr.r > high else np.ceil(low * 100) / 100
            problems.append(Problem(f"correlations.{corr.key}.r", (
                f"{corr.r} cannot be reached by these two distributions (the most their shapes allow is "
                f"[{low:.3f}, {high:.3f}]); nearest value that holds: r: {nearest:.2f}")))
            continue
        pairs.append((a, b))
        targets.append(latent * jitter)
        declared.append(corr)
    return pairs, targets, declared, problems


def fit_problem(spec, index, order, moments, pairs, targets) -> FitProblem:
    lags = {index[l.metric]: (index[l.follows], l.periods, l.weight) for l in spec.lags}
    return FitProblem(
        signs=tuple(m.sign for m in spec.metrics),
        signals=tuple(m.signal for m in spec.metrics),
        lags=lags, order=tuple(order), moments=moments, persistence=spec.persistence,
        pairs=tuple(pairs), targets=np.asarray(targets, dtype=float), undeclared=spec.calibration.undeclared,
    )


def calibrate(spec, index, marginals, order, moments) -> Calibration:
    pairs, targets, declared, problems = latent_targets(spec, index, marginals)
    problem = fit_problem(spec, index, order, moments, pairs, targets)
    if problems:
        return Calibration(None, problem, declared, problems)
    fitted = fit(problem)
    if fitted is None:
        from .conflicts import explain

        problems, nearest = explain(spec, problem, declared)
        calibration = Calibration(None, problem, declared, problems)
        calibration.nearest = nearest
        return calibration
    return Calibration(fitted, problem, declared)


def refit(calibration: Calibration, targets: np.ndarray) -> bool:
    """Fit again for corrected latent targets, starting from the current fit; False when none holds."""
    problem = calibration.problem.with_targets(targets)
    fitted = fit(problem, start=calibration.fit)
    if fitted is None:
        return False
    calibration.fit, calibration.problem = fitted, problem
    return True
