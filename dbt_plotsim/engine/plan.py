"""From a validated spec to a generation plan: periods, marginals, calibrated latent model, table layout.

Calibration runs once per spec on a fixed prefix of each segment's entities, so the plan (and with it
every value) is the same whatever the chunk size. Problems found here (unreachable correlations, a
curve leaving [0, 1], a spec too large for memory) are reported like any other spec mistake.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from ..errors import Problem
from .calendar import period_starts
from .calibrate import calibrate, refit
from .conflicts import unreachable
from .cells import CellNoise
from .regimes import intervals, regime_targets
from .missingness import problems as null_problems
from .pilot import refine
from .totals import solve as solve_totals
from .exact_rates import solve as solve_rates
from .copula import LatentModel, trajectory_moments
from .marginals import Marginal, resolve
from .arrivals import draw_arrivals
from .positions import PositionScale, Timeline, active_mask, block_positions, fit_scale, sample_sizes
from .rng import ENTITY_BLOCK

MEMORY_BUDGET = 2 * 1024**3  # bytes one chunk of generation may use
DEFAULT_CHUNK_BLOCKS = 16  # entity blocks per chunk (16 x 1024 entities)


@dataclass(frozen=True)
class SegmentPlan:
    name: str
    archetype: str
    pieces: tuple
    variation: float
    count: int
    first_id: int  # id of the segment's first entity
    arrivals: object  # spec Arrivals

    @property
    def blocks(self) -> int:
        return math.ceil(self.count / ENTITY_BLOCK)


@dataclass(frozen=True)
class FactPlan:
    name: str
    metrics: tuple[int, ...]
    description: str | None


@dataclass
class Plan:
    spec: object
    starts: np.ndarray
    timeline: Timeline
    segments: list[SegmentPlan]
    metric_names: list[str]
    marginals: list[Marginal]
    order: list[int]  # dependency order: drivers before followers
    lags: dict[int, tuple[int, int, float]]
    model: LatentModel
    noise_corr: np.ndarray
    noise_factor: np.ndarray  # lower-triangular: e = factor @ g
    scale: PositionScale
    facts: list[FactPlan]
    chunk_blocks: int
    calibration: object = None  # calibrate.Calibration: fitted values and what the pilot measured
    cells: object = None  # cells.CellNoise: matrices of segments and regimes, when any are declared
    season_latents: dict = field(default_factory=dict, repr=False)  # (metric, calendar bucket) -> latent CDF
    null_fits: dict = field(default_factory=dict, repr=False)  # metric -> missingness.NullFit (mar, mnar)
    null_delivered: dict = field(default_factory=dict, repr=False)  # metric -> (rate, r) the pilot delivered
    totals: object = field(default=None, repr=False)  # totals.Totals: factors and cents of declared totals
    exact_rates: object = field(default=None, repr=False)  # exact_rates.ExactRates: targets and quotas
    _scaled: dict = field(default_factory=dict, repr=False)

    def noise_groups(self, segment: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(window period columns, noise factor)] of a segment's cells."""
        if self.cells is None:
            return [(np.arange(self.periods), self.noise_factor)]
        return self.cells.groups(segment, self.noise_factor)

    @property
    def warnings(self) -> list[str]:
        """What the user should know before using the data: declared values replaced by nearest ones."""
        adjusted = getattr(self.calibration, "adjusted", None) or {}
        return [f"correlations.{key}.r: {declared:g} cannot hold; generating with the nearest value that does, "
                f"{used:g} (calibration.on_conflict: nearest)" for key, (declared, used) in adjusted.items()
                ] + (self.totals.warnings if self.totals is not None else [])

    def scaled_marginal(self, m: int, factor: float, bucket: int | None = None) -> Marginal:
        """Metric m's marginal in a period with seasonal multiplier `factor`, with the latent CDF of its
        calendar `bucket` when the pilot fitted one (tabulated once per plan)."""
        key = (m, factor, bucket)
        if key not in self._scaled:
            marginal = self.marginals[m].scaled(factor)
            latent = self.season_latents.get((m, bucket))
            self._scaled[key] = marginal if latent is None else marginal.with_latent(*latent)
        return self._scaled[key]

    @property
    def periods(self) -> int:
        return self.timeline.periods

    @property
    def period_days(self) -> np.ndarray:
        """Length of each period in days (for timestamps inside a period)."""
        from .calendar import period_ends

        return (period_ends(self.starts, self.spec.window.grain) - self.starts).astype(np.int64) + 1

    @property
    def entity_count(self) -> int:
        return sum(s.count for s in self.segments)


def block_bytes(metrics: int, periods: int) -> int:
    """Working memory of one entity block: positions, scores and ~6 arrays per metric, float64."""
    return ENTITY_BLOCK * periods * 8 * (5 + 6 * metrics)


def dependency_order(names: list[str], lags: dict[int, tuple[int, int, float]]) -> list[int]:
    order: list[int] = []
    placed: set[int] = set()

    def place(m: int) -> None:
        if m in placed:
            return
        if m in lags:
            place(lags[m][0])
        placed.add(m)
        order.append(m)

    for m in range(len(names)):
        place(m)
    return order


def check_feasible(spec) -> list[Problem]:
    return build_plan(spec)[1]


def plan_for(spec) -> Plan:
    plan, problems = build_plan(spec)
    if problems:
        from ..errors import SpecError

        raise SpecError(problems)
    return plan


def build_plan(spec) -> tuple[Plan | None, list[Problem]]:
    """The plan of the story: calibration never reads `window.as_of` (an append must reproduce the values),
    so one plan serves every as_of and only its spec is swapped."""
    as_of = spec.window.as_of
    if as_of is None:
        plan, problems = _build_cached(spec.model_dump_json())
    else:
        story = spec.model_copy(update={"window": spec.window.model_copy(update={"as_of": None})})
        plan, problems = _build_cached(story.model_dump_json())
        plan = None if plan is None else replace(plan, spec=spec)
    if plan is not None and spec.loads.tables:
        from .loads import checked

        problems = problems + checked(plan)
    if plan is not None and spec.systems:
        from . import systems
        from .tables import schemas

        problems = problems + systems.check(plan, schemas(plan))
    if plan is not None and spec.defects.any:
        from . import systems
        from .clock import rules_for
        from .defects import check
        from .tables import schemas

        layouts = schemas(plan)
        if spec.systems:  # defects may target the system tables too
            layouts.update(systems.schemas(plan, layouts))
        problems = problems + check(plan, layouts, rules_for(plan, layouts))
    return plan, problems


@lru_cache(maxsize=8)
def _build_cached(spec_json: str) -> tuple[Plan | None, list[Problem]]:
    from ..spec.model import Spec
    from . import plan_cache

    return plan_cache.cached(spec_json, lambda: _build(Spec.model_validate(json.loads(spec_json))))


def _build(spec) -> tuple[Plan | None, list[Problem]]:
    problems: list[Problem] = []
    starts = period_starts(spec.window.start, spec.window.end, spec.window.grain)
    names = [m.name for m in spec.metrics]
    index = {name: i for i, name in enumerate(names)}
    lags = {index[l.metric]: (index[l.follows], l.periods, None) for l in spec.lags}
    order = dependency_order(names, lags)
    offsets = LatentModel.offsets_needed(len(names), order, lags)
    lead = max(offsets)
    days = int((np.datetime64(spec.window.end) - np.datetime64(spec.window.start)).astype(int)) + 1
    timeline = Timeline(periods=len(starts), lead=lead, window_years=days / 365.25)

    need = block_bytes(len(names), timeline.periods + lead)
    if need > MEMORY_BUDGET:
        problems.append(Problem("window", (
            f"{timeline.periods} {spec.window.grain} periods x {len(names)} metrics needs "
            f"{need / 1024**3:.1f} GiB per block of {ENTITY_BLOCK} entities, over the "
            f"{MEMORY_BUDGET / 1024**3:.0f} GiB a chunk may use; use a coarser grain, a shorter window or fewer metrics"
        )))
    for name in sorted({s.archetype for s in spec.segments}):
        low, high = _nominal_extent(spec.archetype(name), timeline.window_years)
        if low < -1e-9 or high > 1 + 1e-9:
            path = f"archetypes.{name}" if name in spec.archetypes else "archetypes"
            problems.append(Problem(path, (
                f"curve '{name}' reaches {low if low < 0 else high:.3f}; positions live in [0, 1]: "
                "lower the amplitude or move the levels"
            )))
    if problems:
        return None, problems

    segments: list[SegmentPlan] = []
    next_id = 1
    for s in spec.segments:
        segments.append(SegmentPlan(s.name, s.archetype, spec.archetype(s.archetype), s.variation, s.count, next_id,
                                    spec.arrivals_of(s)))
        next_id += s.count

    scale, moments, segment_moments, over_periods = _calibrate(spec.seed, segments, timeline, offsets)
    marginals = [resolve(m) for m in spec.metrics]
    regimes, spans, regime_problems = regime_targets(spec, index, marginals, scale.knots, starts)
    if regime_problems:
        return None, regime_problems
    spans_intervals = intervals(spans, timeline.periods)

    def cells_for(scoped) -> CellNoise:
        return CellNoise(scoped, regimes, spans_intervals, segment_moments,
                         [over_periods(i.columns) for i in spans_intervals], timeline.periods)

    calibration = calibrate(spec, index, marginals, order, moments, scale.knots, cells_for)
    if calibration.problems:
        return _nearest_or(spec, calibration.problems, calibration.nearest)
    model, noise_corr, lags = calibration.model, calibration.noise_corr, calibration.lags
    factor = np.linalg.cholesky(noise_corr + 1e-10 * np.eye(len(names)))

    if spec.tables.facts is None:
        facts = [FactPlan(f"fct_{m.name}", (i,), m.description) for i, m in enumerate(spec.metrics)]
    else:
        facts = [FactPlan(f.name, tuple(index[m] for m in f.metrics), f.description) for f in spec.tables.facts]
    chunk_blocks = max(1, min(DEFAULT_CHUNK_BLOCKS, MEMORY_BUDGET // (4 * need)))
    plan = Plan(spec, starts, timeline, segments, names, marginals, order, lags, model, noise_corr, factor,
                scale, facts, chunk_blocks, calibration)

    def adopt_fit() -> None:
        plan.model, plan.noise_corr, plan.lags = calibration.model, calibration.noise_corr, calibration.lags
        plan.noise_factor = np.linalg.cholesky(plan.noise_corr + 1e-10 * np.eye(len(names)))

    plan.cells = calibration.cells

    def rebuild_cells(scoped_targets, regime_targets=None) -> bool:
        """Each segment's and regime's own C for these targets, on the current pooled model (fitted again,
        with the free parameters giving way, when that model leaves no room for the segments)."""
        scoped_targets = np.asarray(scoped_targets)
        regime_targets = calibration.regime_targets if regime_targets is None else np.asarray(regime_targets)
        if not plan.cells.build(plan.model, plan.noise_corr, scoped_targets, regime_targets):
            if not refit(calibration, calibration.problem.targets, scoped_targets, regime_targets):
                return False
            adopt_fit()
            if not plan.cells.build(plan.model, plan.noise_corr, scoped_targets, regime_targets):
                return False
        calibration.scoped_targets, calibration.regime_targets = scoped_targets, regime_targets
        return True

    if plan.cells.needed and not rebuild_cells(calibration.scoped_targets):
        raise AssertionError("the fit accepted segment and regime matrices that do not build")

    def rebuild(targets, marginals) -> bool:
        if not refit(calibration, targets):
            return False
        adopt_fit()
        plan.marginals = marginals
        plan._scaled.clear()
        if plan.cells.needed and not rebuild_cells(calibration.scoped_targets):
            return False
        return True

    calibration.measured = refine(plan, rebuild, rebuild_cells)
    missed, nearest = unreachable(spec, calibration)
    if missed:
        _, totals_missed = solve_totals(plan)  # a total out of reach is the first thing to mend
        return (None, totals_missed) if totals_missed else _nearest_or(spec, missed, nearest)
    nulls = null_problems(plan)
    if nulls:
        return None, nulls
    plan.exact_rates, missed = solve_rates(plan)
    if missed:
        return None, missed
    plan.totals, missed = solve_totals(plan)
    return (None, missed) if missed else (plan, [])


def _nearest_or(spec, problems: list[Problem], nearest: dict | None) -> tuple[Plan | None, list[Problem]]:
    """The problems, or (with `calibration.on_conflict: nearest`) the plan of the nearest values that hold,
    keeping the user's spec and a record of what was declared and what is delivered instead."""
    if spec.calibration.on_conflict != "nearest" or not nearest:
        return None, problems
    from .conflicts import with_correlations

    plan, again = _build(with_correlations(spec, nearest))
    if again:
        return None, problems
    declared = {c.key: c.r for c in spec.correlations}
    plan.calibration.adjusted = {key: (declared[key], value) for key, value in nearest.items()}
    plan.spec = spec
    return plan, []


def _nominal_extent(pieces, window_years: float) -> tuple[float, float]:
    from .trajectory import EntityCurves, nominal_breakpoints, nominal_levels, positions

    levels = np.asarray([nominal_levels(pieces)], dtype=float)
    curves = EntityCurves(
        breakpoints=np.asarray([nominal_breakpoints(pieces)], dtype=float),
        levels=levels, shift=np.zeros(1), amplitude_scale=np.ones(1), phase_shift=np.zeros(1),
        peak_offset=np.zeros(1),
    )
    raw = positions(pieces, curves, np.linspace(0, 1, 2001), window_years, clip=False)
    return float(raw.min()), float(raw.max())


def _calibrate(seed: int, segments: list[SegmentPlan], timeline: Timeline, offsets: list[int]):
    active = [s for s in segments if s.count > 0]
    sizes = sample_sizes([s.count for s in active], timeline.periods + timeline.lead)
    samples, weights, masks = [], [], []
    for seg, size in zip(active, sizes):
        blocks, block_masks = [], []
        for b in range(math.ceil(size / ENTITY_BLOCK)):
            n = min(ENTITY_BLOCK, size - b * ENTITY_BLOCK)
            arrival = draw_arrivals(seed, seg.name, seg.arrivals, b, n, timeline.periods)
            blocks.append(block_positions(seed, seg, seg.pieces, b, n, timeline, arrival))
            block_masks.append(active_mask(arrival, timeline.periods))
        samples.append(np.vstack(blocks))
        masks.append(np.vstack(block_masks))
        weights.append(seg.count / size)
    scale = fit_scale(samples, weights, timeline.lead, masks)
    scores = [scale.score(s) for s in samples]
    moments = trajectory_moments(scores, weights, timeline.lead, offsets, masks)
    within = {seg.name: trajectory_moments([score], [1.0], timeline.lead, offsets, [mask])
              for seg, score, mask in zip(active, scores, masks)}

    def over_periods(columns: np.ndarray):
        """Pooled moments over the cells of these window periods only (a regime's)."""
        inside = np.zeros(timeline.periods, dtype=bool)
        inside[columns] = True
        return trajectory_moments(scores, weights, timeline.lead, offsets, [m & inside[None, :] for m in masks])

    return scale, moments, within, over_periods
