"""Will a declared lag show in the data? The correlation profile of period-to-period changes, from the
latent model.

The shipped lag_coherence test removes each period's mean change across entities, which takes out the
shared trajectory moves; what remains is dominated by each metric's own variation, so the profile is
computed from the noise part of the latent model: a follower's change at t against its driver's change
at t - k, k = 0 .. max_lag. A lag is visible when |r| at its k beats every other k by LAG_MARGIN.
"""
from __future__ import annotations

import numpy as np

LAG_MARGIN = 0.15  # analytic margin; the data must show 0.1, the rest is room for sampling
MAX_LAG = 12


def _changes(terms: np.ndarray, shift: int, width: int) -> np.ndarray:
    """Coefficients of z[t - shift] - z[t - shift - 1] over offsets 0 .. width-1."""
    out = np.zeros((terms.shape[0], width))
    span = terms.shape[1]
    out[:, shift : shift + span] += terms
    out[:, shift + 1 : shift + 1 + span] -= terms
    return out


def change_profile(model, noise_corr: np.ndarray, follower: int, driver: int, max_lag: int) -> np.ndarray:
    loads = model.loads
    own = np.array([l.own for l in loads])
    span = model.terms[follower].shape[1]
    width = span + max_lag + 2
    offsets = np.arange(width)
    decay = model.persistence ** np.abs(offsets[:, None] - offsets[None, :])
    weight = noise_corr * np.outer(own, own)

    def cov(a, b):
        return float(np.sum(weight * (a @ decay @ b.T)))

    f = _changes(model.terms[follower], 0, width)
    var_f = cov(f, f)
    d0 = _changes(model.terms[driver], 0, width)
    var_d = cov(d0, d0)
    out = np.empty(max_lag + 1)
    for k in range(max_lag + 1):
        out[k] = cov(f, _changes(model.terms[driver], k, width)) / np.sqrt(var_f * var_d)
    return out


def lag_margins(model, noise_corr: np.ndarray, lags: dict) -> dict[int, float]:
    """Per follower: |r| at its declared lag minus the best |r| at any other lag (0 .. max(12, lag + 1))."""
    out = {}
    for follower, (driver, periods, _) in lags.items():
        profile = np.abs(change_profile(model, noise_corr, follower, driver, max(MAX_LAG, periods + 1)))
        others = np.delete(profile, periods)
        out[follower] = float(profile[periods] - others.max())
    return out


def visible(model, noise_corr: np.ndarray, lags: dict) -> bool:
    return all(margin >= LAG_MARGIN for margin in lag_margins(model, noise_corr, lags).values())
