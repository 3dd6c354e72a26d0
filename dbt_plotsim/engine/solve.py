"""Noise correlations C for fixed loadings: the declared pairs' pooled latent correlations hit their targets.

Pooled covariances are linear in C once the lag normalizers are fixed (see copula.py), so the declared
entries of C come from a linear system, solved with the normalizers updated until both agree. Entries of C
for pairs nobody declared start at 0; when the declared entries alone leave C indefinite, those free
entries are completed (alternating projections onto the positive semi-definite cone, declared entries
re-solved each time), because a value the user did not set is ours to choose.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .copula import LatentModel, Loading

MIN_EIGENVALUE = 0.01  # C must stay this far inside the PSD cone (a Cholesky factor, room for corrections)
RESIDUAL = 1e-6


@dataclass
class Solution:
    model: LatentModel
    noise_corr: np.ndarray
    values: np.ndarray  # declared entries of C, one per pair
    residual: np.ndarray  # latent covariance minus target, per pair

    @property
    def smallest_eigenvalue(self) -> float:
        return float(np.linalg.eigvalsh(self.noise_corr).min())

    @property
    def feasible(self) -> bool:
        return (bool(np.all(np.abs(self.values) <= 1.0)) and bool(np.all(np.abs(self.residual) <= RESIDUAL))
                and self.smallest_eigenvalue >= MIN_EIGENVALUE - 1e-9)


def _solve_declared(loads, order, lags, moments, persistence, pairs, targets, base) -> Solution:
    """Declared entries of C given the other entries (`base`), iterated with the lag normalizers."""
    noise_corr = base.copy()
    solution = np.zeros(len(pairs))
    residual = np.zeros(len(pairs))
    for _ in range(50):
        model = LatentModel.build(loads, order, lags, moments, noise_corr, persistence)
        if not pairs:
            break
        terms = model.terms
        grams = [model._noise_gram(terms[a], terms[b]) for a, b in pairs]
        gain = np.array([[g[k, j] + g[j, k] for k, j in pairs] for g in grams])
        const = np.array([model.covariance(terms[a], terms[b], base) for a, b in pairs])
        solution = np.linalg.lstsq(gain, targets - const, rcond=None)[0]
        residual = gain @ solution + const - targets
        updated = base.copy()
        for (a, b), value in zip(pairs, solution):
            updated[a, b] = updated[b, a] = float(np.clip(value, -1.0, 1.0))
        converged = np.max(np.abs(updated - noise_corr)) < 1e-9
        noise_corr = updated
        if converged or not lags or np.any(np.abs(solution) > 1.0 + 1e-6):
            break
    return Solution(model, noise_corr, solution, residual)


def solve(loads: list[Loading], order: list[int], lags: dict, moments, persistence: float,
          pairs: list[tuple[int, int]], targets: np.ndarray, complete: bool = True) -> Solution:
    count = len(loads)
    declared = np.zeros((count, count), dtype=bool)
    for a, b in pairs:
        declared[a, b] = declared[b, a] = True
    free = ~declared & ~np.eye(count, dtype=bool)
    base = np.eye(count)
    best = None
    stalled = 0
    for _ in range(40 if complete and free.any() else 1):
        sol = _solve_declared(loads, order, lags, moments, persistence, pairs, targets, base)
        if sol.smallest_eigenvalue >= MIN_EIGENVALUE or np.any(np.abs(sol.values) > 1.0):
            return sol
        gain = sol.smallest_eigenvalue - (best.smallest_eigenvalue if best is not None else -np.inf)
        if gain > 0:
            best = sol
        stalled = stalled + 1 if gain < 1e-4 else 0
        if stalled >= 3:
            break
        w, v = np.linalg.eigh(sol.noise_corr)
        projected = (v * np.maximum(w, 1.5 * MIN_EIGENVALUE)) @ v.T
        d = np.sqrt(np.diag(projected))
        projected = projected / np.outer(d, d)
        step = np.where(free, projected, 0.0)
        if np.max(np.abs(step - np.where(free, base, 0.0))) < 1e-6:
            break
        base = np.eye(count) + np.clip(step, -1.0, 1.0)
    return best


def solve_quiet(loads: list[Loading], order: list[int], lags: dict, moments, persistence: float,
                pairs: list[tuple[int, int]], targets: np.ndarray) -> Solution:
    """As `solve`, then pull every undeclared pair (other than a follower and its driver) toward r = 0, as
    far as a valid C allows: their free values shrink by the largest share that still holds."""
    sol = solve(loads, order, lags, moments, persistence, pairs, targets)
    if not sol.feasible:
        return sol
    linked = {frozenset((m, d)) for m, (d, _, _) in lags.items()}
    taken = {frozenset(p) for p in pairs} | linked
    quiet = [(a, b) for a in range(len(loads)) for b in range(a + 1, len(loads)) if frozenset((a, b)) not in taken]
    if not quiet:
        return sol
    terms = sol.model.terms
    free = np.array([sol.model.covariance(terms[a], terms[b], sol.noise_corr) for a, b in quiet])
    best, lo, hi = sol, 0.0, 1.0
    for share in [1.0] + [None] * 6:
        mid = share if share is not None else (lo + hi) / 2
        trial = solve(loads, order, lags, moments, persistence, list(pairs) + quiet,
                      np.concatenate([targets, (1 - mid) * free]))
        if trial.feasible:
            best, lo = Solution(trial.model, trial.noise_corr, trial.values[: len(pairs)],
                                trial.residual[: len(pairs)]), mid
            if share is not None:
                break
        else:
            hi = mid
    return best
