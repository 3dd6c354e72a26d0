"""One block of entities of one segment: positions -> latent scores -> correlated, lagged metric values.

All draws come from streams named (seed, purpose, metric, segment, block) and are made for a full block
of ENTITY_BLOCK entities, so an entity's values depend on nothing but its segment, its index and the spec.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtri

from .arrivals import draw_arrivals
from .events import EventRows, condition_values, fire_rows, first_sustained, rate_rows
from .fanout import rate_for
from .plan import Plan, SegmentPlan
from .positions import active_mask, block_positions
from .rng import ENTITY_BLOCK, stream
from .seasonality import seasonal_factor


@dataclass(frozen=True)
class BlockValues:
    segment: SegmentPlan
    ids: np.ndarray  # (n,) int64
    positions: np.ndarray  # (n, P) window positions
    values: list[np.ndarray]  # per metric (n, P) float64
    missing: list[np.ndarray | None]  # per metric (n, P) bool, or None when nothing is missing
    arrival: np.ndarray  # (n,) first active period
    active: np.ndarray  # (n, P) bool: arrived and not past a terminal event
    events: dict[str, EventRows]


def _normals(seed: int, purpose: str, metric: str, segment: str, block: int, n: int, periods: int) -> np.ndarray:
    return stream(seed, purpose, metric, segment, block).standard_normal((ENTITY_BLOCK, periods))[:n]


def _lead_normals(seed: int, metric: str, segment: str, block: int, n: int, lead: int) -> np.ndarray:
    """Pre-window innovations (n, lead), row j is j+1 periods before the window: a deeper lead appends."""
    rows = stream(seed, "latent-lead", metric, segment, block).standard_normal((lead, ENTITY_BLOCK))[:, :n]
    return rows.T


def _persistent(window: np.ndarray, lead: np.ndarray, phi: float) -> np.ndarray:
    """Stationary AR(1) with unit variance from innovations: forward from the window's first period and,
    for pre-window periods, backward from it (a Gaussian AR(1) is time-reversible), so window values never
    depend on how deep the lead is."""
    gain = np.sqrt(1.0 - phi * phi)
    zi = (1.0 - gain) * window[:, :1]
    forward = lfilter([gain], [1.0, -phi], window, axis=-1, zi=zi)[0]
    if lead.shape[1] == 0:
        return forward
    back = lfilter([gain], [1.0, -phi], lead, axis=-1, zi=phi * forward[:, :1])[0]
    return np.concatenate([back[:, ::-1], forward], axis=1)


def generate_block(plan: Plan, seg: SegmentPlan, block: int) -> BlockValues:
    spec = plan.spec
    seed = spec.seed
    tl = plan.timeline
    lead, periods = tl.lead, tl.periods
    n = min(ENTITY_BLOCK, seg.count - block * ENTITY_BLOCK)
    arrival = draw_arrivals(seed, seg.name, seg.arrivals, block, n, periods)
    pos = block_positions(seed, seg, seg.pieces, block, n, tl, arrival)
    score = plan.scale.score(pos)

    names = plan.metric_names
    count = len(names)
    independent = np.empty((count, n, lead + periods))
    for m, name in enumerate(names):
        independent[m] = _persistent(
            _normals(seed, "latent", name, seg.name, block, n, periods),
            _lead_normals(seed, name, seg.name, block, n, lead),
            spec.persistence,
        )
    noise = np.einsum("mk,knp->mnp", plan.noise_factor, independent, optimize=True)
    del independent

    latent: list[np.ndarray] = [noise[0]] * count
    for m in plan.order:
        load = plan.model.loads[m]
        scale = plan.model.scales[m]
        own = load.sign * load.signal * score + load.own * noise[m]
        if m not in plan.lags:
            latent[m] = own * scale
            continue
        # z_m[t] = (s w z_d[t - shift] + (1 - w) y_m[t]) / sigma; the first lead cells have no driver value,
        # and the lead is deep enough that no window cell ever needs them
        driver, shift, weight = plan.lags[m]
        sign = load.sign * plan.model.loads[driver].sign  # opposite polarities: the follower moves against
        z = own * ((1.0 - weight) * scale)
        z[:, shift:] += (sign * weight * scale) * latent[driver][:, :-shift]
        latent[m] = z
    del noise

    jitter = spec.noise.gaussian
    outliers = spec.noise.outliers
    missing_rate = spec.noise.missing
    values: list[np.ndarray] = []
    missing: list[np.ndarray | None] = []
    for m, name in enumerate(names):
        z = latent[m][:, lead:]
        if jitter > 0:
            z = (z + jitter * _normals(seed, "jitter", name, seg.name, block, n, periods)) / np.sqrt(1 + jitter**2)
        marginal = plan.marginals[m]
        x = marginal.values_z(z)
        season = seasonal_factor(plan, seg.name, name)
        if season is not None:  # calendar effect on top of the metric's own value
            x = marginal.rounded(x * season[None, :])
        if outliers > 0:
            draws = stream(seed, "outliers", name, seg.name, block).random((2, ENTITY_BLOCK, periods))[:, :n]
            hit = draws[0] < outliers
            if hit.any():
                x[hit] = marginal.values_z(ndtri(marginal.outlier_u(draws[1][hit])))
        values.append(x)
        if missing_rate > 0:
            missing.append(stream(seed, "missing", name, seg.name, block).random((ENTITY_BLOCK, periods))[:n] < missing_rate)
        else:
            missing.append(None)
    ids = np.arange(n, dtype=np.int64) + seg.first_id + block * ENTITY_BLOCK
    window = pos[:, lead:]
    active = active_mask(arrival, periods)
    events = _events(plan, seg, block, ids, window, dict(zip(names, values)), active)
    return BlockValues(seg, ids, window, values, missing, arrival, active, events)


def _events(plan: Plan, seg: SegmentPlan, block: int, ids, window, values, active) -> dict[str, EventRows]:
    """Threshold events first (a terminal one closes the entity's activity), then rate-driven ones."""
    spec = plan.spec
    out: dict[str, EventRows] = {}
    # the terminal event first: it closes the entity's activity for every other event, whatever the order
    for event in sorted(spec.events, key=lambda e: not e.terminal):
        if event.when is None:
            continue
        rng = stream(spec.seed, "event", event.name, seg.name, block)
        fired = first_sustained(condition_values(event.when, window, values) & active, event.when.periods)
        out[event.name] = fire_rows(ids, fired, plan.period_days, rng)
        if event.terminal:
            ended = np.where(fired >= 0, fired, plan.periods)
            active &= np.arange(plan.periods)[None, :] <= ended[:, None]
    for event in spec.events:
        if event.rate is None:
            continue
        series = window if event.rate.follows == "trajectory" else values[event.rate.follows]
        rate = rate_for(plan, event.rate, series, seg.name, event.name)
        out[event.name] = rate_rows(ids, rate, active, plan.period_days,
                                    stream(spec.seed, "event", event.name, seg.name, block),
                                    stream(spec.seed, "event-time", event.name, seg.name, block))
    return out
