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
    """Per pilot unit: (segment, block, weight, arrival, window positions, jittered window latents, missing);
    the part of a round that does not depend on the marginals."""
    from .block import block_latent
    from .values import jittered, missing_cells

    lead = plan.timeline.lead
    out = []
    for seg, block, weight in pilot_units(plan):
        arrival, pos, latent = block_latent(plan, seg, block, ENTITY_BLOCK)
        z = [jittered(plan, m, seg.name, block, ENTITY_BLOCK, l[:, lead:]) for m, l in enumerate(latent)]
        missing = [missing_cells(plan, m, seg.name, block, ENTITY_BLOCK, plan.periods) for m in range(len(z))]
        out.append((seg, block, weight, arrival, pos[:, lead:], z, missing))
    return out


def simulate(plan, units: list[tuple]) -> PilotCells:
    """The cells that exist, with their latents and values, under the plan's current marginals."""
    from .block import terminal_active
    from .positions import active_mask
    from .values import metric_values

    names = plan.metric_names
    latents = [[] for _ in names]
    values = [[] for _ in names]
    weights, positions, ended, entities = [], [], 0.0, 0.0
    for seg, block, weight, arrival, window, z, missing in units:
        x = [metric_values(plan, m, seg.name, block, ENTITY_BLOCK, zm) for m, zm in enumerate(z)]
        active = active_mask(arrival, plan.periods)
        active, fired = terminal_active(plan, window, dict(zip(names, x)), active)
        if fired is not None:
            ended += weight * float((fired >= 0).sum())
        entities += weight * ENTITY_BLOCK
        weights.append(np.full(int(active.sum()), weight))
        positions.append(window[active])
        for m in range(len(names)):
            latents[m].append(z[m][active])
            v = x[m].copy()
            if missing[m] is not None:
                v[missing[m]] = np.nan
            values[m].append(v[active])
    return PilotCells([np.concatenate(l) for l in latents], np.concatenate(weights),
                      [np.concatenate(v) for v in values], ended / max(entities, 1e-300),
                      np.concatenate(positions))


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


def refine(plan, rebuild) -> dict:
    """Pilot rounds on `plan` (changed in place through `rebuild(targets, marginals)`, which re-fits and
    returns False when the corrected targets cannot be fitted). Returns what the pilot measured."""
    calibration = plan.calibration
    pairs = list(calibration.problem.pairs)
    declared = np.array([c.r for c in calibration.declared])
    targets = calibration.problem.targets.copy()
    base = list(plan.marginals)
    jitter = 1.0 + plan.spec.noise.gaussian**2
    outliers = plan.spec.noise.outliers
    state = {}
    for round_ in range(ROUNDS):
        units = pilot_latents(plan)
        cells = simulate(plan, units)
        marginals = [b.with_latent(*latent_cdf(z, cells.weights)) for b, z in zip(base, cells.latents)]
        plan.marginals = marginals
        plan._scaled.clear()
        cells = simulate(plan, units)  # values (and who ends) with the fitted CDFs
        measured = np.array([pooled_r(cells.values[a], cells.values[b], cells.weights) for a, b in pairs])
        error = measured - declared
        state = dict(targets=targets.copy(), measured=measured, ended_share=cells.ended_share,
                     worst=float(np.max(np.abs(error), initial=0.0)))
        open_pairs = np.abs(error) > TOLERANCE  # a pair on target keeps its target: others do not move it
        if not open_pairs.any() or round_ == ROUNDS - 1:
            break
        slopes = np.array([_slope(base[a], base[b], t / jitter, outliers) for (a, b), t in zip(pairs, targets)])
        step = np.where(open_pairs, error * jitter / slopes, 0.0)
        trial = np.clip(targets - step, -0.999 * jitter, 0.999 * jitter)
        if not rebuild(trial, marginals):
            break
        targets = trial
    count = len(plan.metric_names)
    state["matrix"] = np.array([[1.0 if a == b else pooled_r(cells.values[a], cells.values[b], cells.weights)
                                 for b in range(count)] for a in range(count)])
    state["cells_per_entity"] = cells.cells_per_entity
    state["trajectory_r"] = np.array([pooled_r(v, cells.positions, cells.weights) for v in cells.values])
    return state


def _slope(a, b, latent: float, outliers: float) -> float:
    """d output r / d latent correlation, at `latent`."""
    h = 0.01
    low, high = max(latent - h, -1.0), min(latent + h, 1.0)
    slope = (norta.pearson(a, b, high, outliers) - norta.pearson(a, b, low, outliers)) / (high - low)
    return max(slope, 0.05)
