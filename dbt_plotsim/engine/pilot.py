"""The pilot: a fixed sample of every segment run through the real generation, to calibrate on the cells
that exist.

The pilot holds the same number of entities per segment whatever the segment counts (so the plan does not
depend on --scale), weighted by each segment's count. Each round generates it with the current plan
(arrivals, seasonal marginals, jitter, outliers, nulls, the terminal event), then
- re-fits each metric's latent CDF on the cells that exist, so values there follow the declared family;
- measures every declared pair's pooled r on the rows that exist and corrects its latent target.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import norta
from .rng import ENTITY_BLOCK
from .totals_pilot import with_totals as totals_applied

PILOT_CELLS = 250_000  # entity-periods across all segments
MAX_PILOT_BLOCKS = 8  # per segment
ROUNDS = 5
TOLERANCE = 0.002  # stop once every declared r is this close on the pilot
CDF_EDGES = np.linspace(-7.0, 7.0, 1 << 14)  # latent grid of the fitted CDFs


@dataclass
class PilotCells:
    latents: list[np.ndarray]  # per metric, jittered latent of active cells (1-D)
    weights: np.ndarray  # per active cell
    values: list[np.ndarray]  # per metric, value of active cells, NaN where missing
    ended_share: float
    positions: np.ndarray  # trajectory position of active cells
    segments: np.ndarray  # index of each active cell's segment (among segments with entities)
    periods: np.ndarray  # window period of each active cell

    @property
    def cells_per_entity(self) -> float:
        """Existing entity-periods per entity (its weights sum to the entity share of each cell)."""
        return float(self.weights.sum())


def pilot_units(plan) -> list[tuple[object, int, float]]:
    """(segment, block, weight per entity): the first blocks of every segment, weighted by its count."""
    segments = [s for s in plan.segments if s.count > 0]
    cells = PILOT_CELLS / max(plan.periods * len(segments), 1)
    blocks = min(MAX_PILOT_BLOCKS, max(1, math.ceil(cells / ENTITY_BLOCK)))
    total = sum(s.count for s in segments)
    return [(s, b, s.count / total / (blocks * ENTITY_BLOCK)) for s in segments for b in range(blocks)]


def pilot_latents(plan) -> list[tuple]:
    """Per pilot unit: (segment, block, weight, arrival, window positions, jittered window latents); the part
    of a round that does not depend on the marginals."""
    from .block import block_latent
    from .values import jittered

    lead = plan.timeline.lead
    out = []
    for seg, block, weight in pilot_units(plan):
        arrival, pos, latent = block_latent(plan, seg, block, ENTITY_BLOCK)
        z = [jittered(plan, m, seg.name, block, ENTITY_BLOCK, l[:, lead:], pos[:, lead:]) for m, l in enumerate(latent)]
        out.append((seg, block, weight, arrival, pos[:, lead:], z))
    return out


def simulate(plan, units: list[tuple], nulls: bool = True) -> PilotCells:
    """The cells that exist, with their latents and values, under the plan's current marginals; the null
    mechanisms are fitted on these cells first (missingness.pilot_nulls), unless `nulls` is False (values
    then keep every cell: for fitting latent CDFs, which read the latents only)."""
    from .block import terminal_active
    from .missingness import pilot_nulls
    from .positions import active_mask
    from .values import metric_values

    names = plan.metric_names
    latents = [[] for _ in names]
    values = [[] for _ in names]
    weights, positions, segment_of, period_of, ended, entities = [], [], [], [], 0.0, 0.0
    index = {}
    runs = []
    for seg, block, weight, arrival, window, z in units:
        x = [metric_values(plan, m, seg.name, block, ENTITY_BLOCK, zm) for m, zm in enumerate(z)]
        active = active_mask(arrival, plan.periods)
        runs.append((x, *terminal_active(plan, window, dict(zip(names, x)), active)))
    masks = pilot_nulls(plan, units, [active for _, active, _ in runs]) if nulls else [[None] * len(names)] * len(units)
    for (seg, block, weight, arrival, window, z), (x, active, fired), missing in zip(units, runs, masks):
        if fired is not None:
            ended += weight * float((fired >= 0).sum())
        entities += weight * ENTITY_BLOCK
        weights.append(np.full(int(active.sum()), weight))
        positions.append(window[active])
        segment_of.append(np.full(int(active.sum()), index.setdefault(seg.name, len(index)), dtype=np.int32))
        period_of.append(np.nonzero(active)[1].astype(np.int32))
        for m in range(len(names)):
            latents[m].append(z[m][active])
            v = x[m].copy()
            if missing[m] is not None:
                v[missing[m]] = np.nan
            values[m].append(v[active])
    return PilotCells([np.concatenate(l) for l in latents], np.concatenate(weights),
                      [np.concatenate(v) for v in values], ended / max(entities, 1e-300),
                      np.concatenate(positions), np.concatenate(segment_of), np.concatenate(period_of))


MIN_SEASON_CELLS = 2_000  # fewer pilot cells in one calendar period: that period uses the pooled CDF


def seasonal_latents(plan, cells: PilotCells) -> dict:
    """(metric, calendar bucket) -> latent CDF on the existing cells of that month (or month and weekday),
    so each calendar period of a seasonal metric follows the declared family scaled by its multiplier (a
    trend, a partial year or arrivals would otherwise shift some months against the others)."""
    from .seasonality import calendar_buckets, seasonal_factor

    if plan.spec.seasonality is None:
        return {}
    bucket_of_cell = calendar_buckets(plan)[cells.periods]
    segments = [s.name for s in plan.segments if s.count > 0]
    out = {}
    for m, name in enumerate(plan.metric_names):
        if any(seasonal_factor(plan, segment, name) is None for segment in segments):
            continue
        for bucket in np.unique(bucket_of_cell):
            chosen = bucket_of_cell == bucket
            if chosen.sum() >= MIN_SEASON_CELLS:
                out[(m, int(bucket))] = latent_cdf(cells.latents[m][chosen], cells.weights[chosen])
    return out


def latent_cdf(latent: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(knots, levels): the weighted CDF of the latent on a fine grid of CDF_EDGES (a histogram, no sort),
    levels kept half a cell's weight away from 0 and 1."""
    counts = np.bincount(np.searchsorted(CDF_EDGES, latent), weights=weights, minlength=CDF_EDGES.size + 1)
    total = counts.sum()
    levels = np.cumsum(counts)[: CDF_EDGES.size] / total
    half = 0.5 * weights.min() / total
    levels = np.clip(levels, half, 1 - half) + np.arange(CDF_EDGES.size) * 1e-15  # increasing, for inverses
    return CDF_EDGES, levels


def pooled_r(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y, w = x[ok], y[ok], w[ok]
    total = w.sum()
    mx, my = (w * x).sum() / total, (w * y).sum() / total
    dx, dy = x - mx, y - my
    return float((w * dx * dy).sum() / np.sqrt((w * dx * dx).sum() * (w * dy * dy).sum()))


def _corrected(targets, error, open_pairs, pairs, noises, base) -> np.ndarray:
    """Latent targets moved against the measured error (open pairs only), through the output-r slope."""
    factors = np.array([f for f, _, _ in noises])
    slopes = np.array([_slope(base[a], base[b], t / f, oa, ob) for (a, b), t, (f, oa, ob) in zip(pairs, targets, noises)])
    step = np.where(open_pairs, error * factors / slopes, 0.0)
    return np.clip(targets - step, -0.999 * factors, 0.999 * factors)


def _damped(step, apply) -> np.ndarray | None:
    """The corrected targets, or half and a quarter of the correction when the full one cannot be fitted."""
    for share in (1.0, 0.5, 0.25):
        trial = step(share)
        if apply(trial):
            return trial
    return None


def refine(plan, rebuild, rebuild_cells=None) -> dict:
    """Pilot rounds on `plan` (changed in place through `rebuild(targets, marginals)`, which re-fits and
    returns False when the corrected targets cannot be fitted, and `rebuild_cells(scoped, regimes)` for the
    correlations declared within segments). Returns what the pilot measured."""
    calibration = plan.calibration
    pairs = list(calibration.problem.pairs)
    declared = np.array([c.r for c in calibration.declared])
    targets = calibration.problem.targets.copy()
    scoped = calibration.scoped
    scoped_declared = np.array([t.corr.r for t in scoped])
    scoped_targets = calibration.scoped_targets.copy() if scoped else np.zeros(0)
    segment_index = {seg.name: i for i, seg in enumerate(s for s in plan.segments if s.count > 0)}
    regimes = calibration.regimes
    regime_declared = np.array([t.corr.r for t in regimes])
    regime_targets = calibration.regime_targets.copy() if regimes else np.zeros(0)
    spans = [_span(plan, i) for i in range(len(regimes))]
    base = list(plan.marginals)
    noises = calibration.problem.pair_noise
    state = {}
    for round_ in range(ROUNDS):
        units = pilot_latents(plan)
        cells = simulate(plan, units, nulls=False)
        marginals = [b.with_latent(*latent_cdf(z, cells.weights)) for b, z in zip(base, cells.latents)]
        plan.marginals = marginals
        plan.season_latents = seasonal_latents(plan, cells)
        plan._scaled.clear()
        cells = simulate(plan, units)  # values (and who ends) with the fitted CDFs
        cells.values, total_factors = totals_applied(plan, cells.values, cells.periods, cells.weights)
        measured = np.array([pooled_r(cells.values[a], cells.values[b], cells.weights) for a, b in pairs])
        within = np.array([pooled_r(*_in_segment(cells, t.pair, segment_index[t.segment])) for t in scoped])
        during = np.array([pooled_r(*_in_periods(cells, t.pair, span)) for t, span in zip(regimes, spans)])
        error, scoped_error, regime_error = measured - declared, within - scoped_declared, during - regime_declared
        state = dict(targets=targets.copy(), measured=measured, scoped_measured=within, regime_measured=during,
                     ended_share=cells.ended_share, total_factors=total_factors,
                     worst=float(np.max(np.abs(np.concatenate([error, scoped_error, regime_error])), initial=0.0)))
        open_pairs = np.abs(error) > TOLERANCE  # a pair on target keeps its target: others do not move it
        open_scoped = np.abs(scoped_error) > TOLERANCE
        open_regimes = np.abs(regime_error) > TOLERANCE
        if not (open_pairs.any() or open_scoped.any() or open_regimes.any()) or round_ == ROUNDS - 1:
            break
        moved = False
        if open_pairs.any():
            trial = _damped(lambda d: _corrected(targets, error * d, open_pairs, pairs, noises, base),
                            lambda t: rebuild(t, marginals))
            if trial is not None:
                targets, moved = trial, True
        if open_scoped.any():
            trial = _damped(lambda d: _corrected(scoped_targets, scoped_error * d, open_scoped,
                                                 [t.pair for t in scoped], [t.noise for t in scoped], base),
                            rebuild_cells)
            if trial is not None:
                scoped_targets, moved = trial, True
        if open_regimes.any():
            trial = _damped(lambda d: _corrected(regime_targets, regime_error * d, open_regimes,
                                                 [t.pair for t in regimes], [t.noise for t in regimes], base),
                            lambda t: rebuild_cells(calibration.scoped_targets, t))
            if trial is not None:
                regime_targets, moved = trial, True
        if not moved:
            break
    count = len(plan.metric_names)
    state["matrix"] = np.array([[1.0 if a == b else pooled_r(cells.values[a], cells.values[b], cells.weights)
                                 for b in range(count)] for a in range(count)])
    state["cells_per_entity"] = cells.cells_per_entity
    state["trajectory_r"] = np.array([pooled_r(v, cells.positions, cells.weights) for v in cells.values])
    return state


def _span(plan, i: int) -> np.ndarray:
    """Window periods of regime declaration i (the union of the intervals it applies in)."""
    return np.concatenate([iv.columns for iv in plan.cells.intervals if i in iv.declarations])


def _in_periods(cells, pair, columns: np.ndarray):
    inside = np.isin(cells.periods, columns)
    a, b = pair
    return cells.values[a][inside], cells.values[b][inside], cells.weights[inside]


def _in_segment(cells, pair, segment: int):
    inside = cells.segments == segment
    a, b = pair
    return cells.values[a][inside], cells.values[b][inside], cells.weights[inside]


def _slope(a, b, latent: float, outliers: float, outliers_b: float) -> float:
    """d output r / d latent correlation, at `latent`."""
    h = 0.01
    low, high = max(latent - h, -1.0), min(latent + h, 1.0)
    slope = (norta.pearson(a, b, high, outliers, outliers_b) - norta.pearson(a, b, low, outliers, outliers_b)) / (high - low)
    return max(slope, 0.05)
