"""One block of entities of one segment: positions -> latent scores -> correlated, lagged metric values.

All draws come from streams named (seed, purpose, metric, segment, block) and are made for a full block
of ENTITY_BLOCK entities, so an entity's values depend on nothing but its segment, its index and the spec.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .arrivals import draw_arrivals
from .events import EventRows, condition_values, fire_rows, first_sustained, rate_counts, rate_rows
from .exact_rates import exact_counts
from .experiments import lifted
from .fanout import block_stream, cell_rates
from .plan import Plan, SegmentPlan
from .positions import active_mask, block_positions
from .rng import ENTITY_BLOCK, stream
from .missingness import null_cells
from .values import jittered, metric_values


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
    part: int | None = None  # first entity's offset in the block when the block is split (parts.py), else None


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
    forward = _recursion(window, gain, phi, (1.0 - gain) * window[:, 0])
    if lead.shape[1] == 0:
        return forward
    back = _recursion(lead, gain, phi, phi * forward[:, 0])
    return np.concatenate([back[:, ::-1], forward], axis=1)


def _recursion(x: np.ndarray, gain: float, phi: float, carry: np.ndarray) -> np.ndarray:
    """y[:, 0] = gain x[:, 0] + carry, y[:, t] = gain x[:, t] + phi y[:, t-1]: a loop over periods, vectorized
    over entities (period-major, so each step reads contiguous memory). Bit for bit what scipy's lfilter
    computes, without importing scipy.signal (0.7 s at start-up)."""
    scaled = gain * np.ascontiguousarray(x.T)
    out = np.empty_like(scaled)
    out[0] = scaled[0] + carry
    for t in range(1, scaled.shape[0]):
        out[t] = scaled[t] + phi * out[t - 1]
    return out.T


def block_latent(plan: Plan, seg: SegmentPlan, block: int, n: int):
    """Arrival, positions (with the lead) and each metric's latent (n, lead + P) for n entities of a block."""
    spec = plan.spec
    seed = spec.seed
    tl = plan.timeline
    lead, periods = tl.lead, tl.periods
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
            plan.model.persistence,
        )
    groups = plan.noise_groups(seg.name)
    if len(groups) == 1:
        noise = np.einsum("mk,knp->mnp", groups[0][1], independent, optimize=True)
    else:  # regimes: each period mixed by its own matrix; the lead takes the first period's
        noise = np.empty_like(independent)
        for columns, factor in groups:
            cols = columns + lead
            if 0 in columns:
                cols = np.concatenate([np.arange(lead), cols])
            noise[:, :, cols] = np.einsum("mk,knp->mnp", factor, independent[:, :, cols], optimize=True)
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
    return arrival, pos, latent


def block_cells(plan: Plan, seg: SegmentPlan, block: int, n: int):
    """Positions, latents, values and missing cells of n entities of a block (shared with the pilot)."""
    arrival, pos, latent = block_latent(plan, seg, block, n)
    lead, periods = plan.timeline.lead, plan.timeline.periods
    window = pos[:, lead:]
    windows = [jittered(plan, m, seg.name, block, n, z[:, lead:], window) for m, z in enumerate(latent)]
    values = [metric_values(plan, m, seg.name, block, n, z) for m, z in enumerate(windows)]
    missing = [null_cells(plan, m, seg.name, block, n, periods, windows, window) for m in range(len(windows))]
    return arrival, pos[:, lead:], windows, values, missing


def generate_block(plan: Plan, seg: SegmentPlan, block: int) -> BlockValues:
    """A whole block with every event: what generation writes when the block's fan-out fits the budget."""
    return with_rate_events(plan, block_base(plan, seg, block))


def block_base(plan: Plan, seg: SegmentPlan, block: int) -> BlockValues:
    """A block's entities, values and threshold events; rate events come later (with_rate_events), for the
    whole block or for each part of a split one."""
    n = min(ENTITY_BLOCK, seg.count - block * ENTITY_BLOCK)
    arrival, window, _, values, missing = block_cells(plan, seg, block, n)
    ids = np.arange(n, dtype=np.int64) + seg.first_id + block * ENTITY_BLOCK
    values = lifted(plan, seg.name, ids, values)  # experiments: the treated entities' lift, before events
    active = active_mask(arrival, plan.periods)
    names = plan.metric_names
    events = _threshold_events(plan, seg, block, ids, window, dict(zip(names, values)), active)
    return BlockValues(seg, ids, window, values, missing, arrival, active, events)


def terminal_active(plan: Plan, window: np.ndarray, values: dict, active: np.ndarray) -> np.ndarray:
    """Active cells once the terminal event (if any) has closed each entity's life; also its firing period."""
    event = plan.spec.terminal_event
    if event is None or event.when is None:
        return active, None
    fired = first_sustained(condition_values(event.when, window, values) & active, event.when.periods)
    ended = np.where(fired >= 0, fired, plan.periods)
    return active & (np.arange(plan.periods)[None, :] <= ended[:, None]), fired


def _threshold_events(plan: Plan, seg: SegmentPlan, block: int, ids, window, values, active) -> dict[str, EventRows]:
    """Threshold events; a terminal one is evaluated first and closes the entity's activity (`active`,
    in place) for every other event, whatever the declared order."""
    spec = plan.spec
    out: dict[str, EventRows] = {}
    for event in sorted(spec.events, key=lambda e: not e.terminal):
        if event.when is None:
            continue
        rng = stream(spec.seed, "event", event.name, seg.name, block)
        if event.terminal:
            closed, fired = terminal_active(plan, window, values, active)
            active &= closed
        else:
            fired = first_sustained(condition_values(event.when, window, values) & active, event.when.periods)
        out[event.name] = fire_rows(ids, fired, plan.period_days, rng)
    return out


def event_counts(plan: Plan, block: BlockValues, event) -> tuple[np.ndarray, np.ndarray]:
    """(intensity, Poisson counts), (n, P) each, of a rate event in a block or part: a whole block draws
    for all its slots, so an entity's count never depends on the entities after it."""
    rate = np.where(block.active, cell_rates(plan, block, event.rate, event.name), 0.0)
    pad = ENTITY_BLOCK if block.part is None else len(block.ids)
    return rate, rate_counts(rate, block.active, block_stream(plan, block, "event", event.name), pad)


def with_rate_events(plan: Plan, block: BlockValues) -> BlockValues:
    """The block (or part) with its rate-driven events added, each from its own named stream (counts moved
    to the period's exact count where the rate is exact: exact_rates.py)."""
    spec = plan.spec
    if not any(event.rate is not None for event in spec.events):
        return block
    events = dict(block.events)
    for event in spec.events:
        if event.rate is None:
            continue
        rate, counts = event_counts(plan, block, event)
        counts = exact_counts(plan, block, f"events.{event.name}.rate", counts, rate)
        events[event.name] = rate_rows(block.ids, counts, plan.period_days,
                                       block_stream(plan, block, "event-time", event.name))
    return replace(block, events=events)
