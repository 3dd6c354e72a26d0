"""Correlations declared within segments (`scope: each_segment` or a segment's name).

The pooled fit fixes every metric's loadings and lag blends; a segment with scoped declarations then gets its
own noise correlation matrix C_s: the pooled C with the scoped pairs' entries solved so that the correlation
within that segment (its own trajectory moments: its mean and spread of T) hits the target. The pilot then
corrects the targets on the segment's rows that exist, like the pooled ones.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import Problem
from .solve import MIN_EIGENVALUE

EACH_SEGMENT = "each_segment"


@dataclass(frozen=True)
class ScopedTarget:
    corr: object  # spec Correlation
    segment: str
    pair: tuple[int, int]
    target: float  # latent target (after jitter factor)
    noise: tuple[float, float, float]  # (jitter factor, outliers of a, of b)


def scoped_targets(spec, index, marginals, position_knots) -> tuple[list[ScopedTarget], list[Problem]]:
    from .calibrate import declared_targets

    out = []
    segments = [s.name for s in spec.segments if s.count > 0]
    found, problems = declared_targets(spec, index, marginals, position_knots,
                                       lambda c: c.scope != "pooled" and c.during is None)
    for corr, pair, target, noise in found:
        for segment in segments if corr.scope == EACH_SEGMENT else [corr.scope]:
            if segment in segments:
                out.append(ScopedTarget(corr, segment, pair, target, noise))
    return out, problems


def within_correlation(model, moments, noise_corr: np.ndarray, a: int, b: int) -> float:
    """Latent correlation of a and b within a segment whose trajectory moments are `moments`."""
    inside = replace(model, moments=moments)  # a new instance: nothing cached from the pooled moments
    terms = model.terms
    var_a = inside.covariance(terms[a], terms[a], noise_corr)
    var_b = inside.covariance(terms[b], terms[b], noise_corr)
    return inside.covariance(terms[a], terms[b], noise_corr) / np.sqrt(var_a * var_b)


def segment_matrix(model, noise_corr: np.ndarray, moments, targets: list[ScopedTarget]) -> np.ndarray | None:
    """C_s: the pooled C with the scoped pairs solved for their within-segment targets; None if no valid
    matrix does it."""
    inside = replace(model, moments=moments)
    terms = model.terms
    pairs = [t.pair for t in targets]
    goal = np.array([t.target / t.noise[0] for t in targets])  # within-segment latent corr before jitter
    current = noise_corr.copy()
    for _ in range(30):
        grams = [inside._noise_gram(terms[a], terms[b]) for a, b in pairs]
        gain = np.array([[g[k, j] + g[j, k] for k, j in pairs] for g in grams])
        base = current.copy()
        for a, b in pairs:
            base[a, b] = base[b, a] = 0.0
        const = np.array([inside.covariance(terms[a], terms[b], base) for a, b in pairs])
        scale = np.array([np.sqrt(inside.covariance(terms[a], terms[a], current)
                                  * inside.covariance(terms[b], terms[b], current)) for a, b in pairs])
        values = np.linalg.lstsq(gain, goal * scale - const, rcond=None)[0]
        if np.any(np.abs(values) > 1.0):
            return None
        updated = base.copy()
        for (a, b), value in zip(pairs, values):
            updated[a, b] = updated[b, a] = value
        done = np.max(np.abs(updated - current)) < 1e-9
        current = updated
        if done:
            break
    if np.linalg.eigvalsh(current).min() < MIN_EIGENVALUE:
        return None
    return current


def segment_matrices(model, noise_corr, segment_moments: dict, scoped: list[ScopedTarget],
                     targets: np.ndarray) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per segment with scoped targets: its C_s (and the segments where none holds)."""
    out, failed = {}, []
    for segment in dict.fromkeys(t.segment for t in scoped):
        chosen = [replace(t, target=float(v)) for t, v in zip(scoped, targets) if t.segment == segment]
        matrix = segment_matrix(model, noise_corr, segment_moments[segment], chosen)
        if matrix is None:
            failed.append(segment)
        else:
            out[segment] = matrix
    return out, failed
