"""When no setting of the free parameters satisfies a spec: which declarations clash, why, and the nearest
values that hold (each checked by building the spec with them, as printed)."""
from __future__ import annotations

import math
from contextvars import ContextVar

import numpy as np

from ..errors import Problem
from . import norta
from .marginals import resolve
from .fit import fit

DELIVERY_TOLERANCE = 0.01  # a declared r the pilot cannot bring closer than this is out of reach
_CHECKING = ContextVar("checking_nearest", default=False)  # inside a candidate's build: no nested search
_CLOSEST = ContextVar("closest_seen", default=None)  # what a failing candidate's build came closest to


def with_correlations(spec, replaced: dict[str, float]):
    """The spec with these correlations' r replaced (validated again)."""
    from ..spec.model import Spec

    data = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    for corr, declared in zip(data.get("correlations", []), spec.correlations):
        if declared.key in replaced:
            corr["r"] = replaced[declared.key]
    return Spec.model_validate(data)


def _holds(spec, replaced: dict[str, float]) -> tuple[bool, dict[str, float]]:
    """Does the spec, with these correlations' r replaced, build without problems (and without falling back
    on nearest correlations itself: inside a check, _report offers none; nearest totals stay as declared)?"""
    from .plan import _build

    candidate = with_correlations(spec, replaced)
    token, seen = _CHECKING.set(True), _CLOSEST.set({})
    try:
        ok = not _build(candidate)[1]
        return ok, dict(_CLOSEST.get() or {})
    finally:
        _CHECKING.reset(token)
        _CLOSEST.reset(seen)


def _nearest(spec, start: dict[str, float]) -> dict[str, float] | None:
    """Round each candidate to two decimals on the side away from its declared value (into the region that
    holds), then step further that way until the spec, built with them as printed, holds."""
    declared = {c.key: c.r for c in spec.correlations}
    direction = {key: (1.0 if r > declared[key] else -1.0) for key, r in start.items()}

    def rounded(key: float, r: float) -> float:
        step = math.ceil if direction[key] > 0 else math.floor
        return float(np.clip(step(round(r * 100, 6)) / 100, -0.99, 0.99))

    values = {key: rounded(key, r) for key, r in start.items()}
    for _ in range(6):
        ok, closest = _holds(spec, values)
        if ok:
            return values
        # the next candidate: past what this one came closest to (the free parameters move with the values)
        values = {key: rounded(key, closest[key] + 0.01 * direction[key] if key in closest
                               else r + 0.02 * direction[key]) for key, r in values.items()}
    return None


def _why(spec, declared) -> str:
    metrics = {m.name: m for m in spec.metrics}
    reasons = []
    for corr in declared:
        a, b = (metrics[n] for n in corr.between)
        same = a.sign == b.sign
        tied = (a.signal is None or a.signal > 0) and (b.signal is None or b.signal > 0)
        if tied and ((same and corr.r < 0) or (not same and corr.r > 0)):
            set_by_user = [m.name for m in (a, b) if m.signal is not None]
            fixed = f" (signal set on {', '.join(set_by_user)})" if set_by_user else ""
            motion = "rises" if same else "falls"
            reasons.append(f"{b.name} has {b.polarity} polarity and {a.name} {a.polarity}, so {b.name} {motion} "
                           f"when {a.name} rises{fixed}; {corr.r:+g} works against that")
    grain = spec.window.grain
    for corr in declared:
        for lag in spec.lags:
            if {lag.metric, lag.follows} == set(corr.between):
                reasons.append(f"{lag.metric} follows {lag.follows} by {lag.periods} {grain}s, so its level mostly "
                               f"echoes {lag.follows} from {lag.periods} {grain}s before; a same-period r of "
                               f"{corr.r:+g} would take so much shared variation that the lag no longer shows "
                               f"(shorten the lag or lower r)")
    if len(declared) >= 2 and not reasons:
        listed = ", ".join(f"{c.key} {c.r:+g}" for c in declared)
        reasons.append(f"together ({listed}) they need a correlation matrix that is not positive semi-definite")
    return "; ".join(reasons) or "the lags and trajectories leave no room for it"


def explain(spec, problem, declared) -> tuple[list[Problem], dict[str, float] | None]:
    """Analytic conflict: the smallest set of declared correlations that cannot hold together."""
    if problem.cells is not None:
        from dataclasses import replace

        if fit(replace(problem, cells=None)) is not None:  # the pooled ones hold: segments or regimes clash
            found = cell_conflicts(spec, problem)
            if found[0]:
                return found
    keep = list(range(len(declared)))
    for i in list(keep):
        rest = [j for j in keep if j != i]
        if fit(problem.without(rest)) is None:  # still in conflict without i: i is not needed for it
            keep = rest
    clash = [declared[i] for i in keep]
    if not clash:
        clash = list(declared)
    # move the clashing targets toward the values those pairs take without the declarations, by the
    # smallest share that fits
    others = [j for j in range(len(declared)) if j not in keep]
    free_fit = fit(problem.without(others))
    if free_fit is None:
        return _report(spec, clash, None, lambda corr: _why(spec, clash), "cannot hold together")
    model, noise = free_fit.solution.model, free_fit.solution.noise_corr
    free = {i: model.covariance(model.terms[problem.pairs[i][0]], model.terms[problem.pairs[i][1]], noise)
            for i in keep}
    lo, hi = 0.0, 1.0
    for _ in range(12):
        mid = (lo + hi) / 2
        trial = problem.targets.copy()
        for i in keep:
            trial[i] = (1 - mid) * problem.targets[i] + mid * free[i]
        if fit(problem.with_targets(trial)) is not None:
            hi = mid
        else:
            lo = mid
    start = {}
    for i in keep:
        a, b = problem.pairs[i]
        factor, oa, ob = problem.pair_noise[i]
        latent = float(np.clip(((1 - hi) * problem.targets[i] + hi * free[i]) / factor, -1.0, 1.0))
        start[declared[i].key] = norta.pearson(resolve(spec.metrics[a]), resolve(spec.metrics[b]), latent, oa, ob)
    reason = _why(spec, clash)
    return _report(spec, clash, start, lambda corr: reason, "cannot hold together")


def unreachable(spec, calibration) -> tuple[list[Problem], dict[str, float] | None]:
    """Declared r that the pilot, with everything in place, could not bring within DELIVERY_TOLERANCE."""
    measured = calibration.measured.get("measured")
    if measured is None:
        return [], None
    delivered = list(zip(calibration.declared, measured))
    delivered += list(zip((t.corr for t in calibration.scoped), calibration.measured.get("scoped_measured", [])))
    delivered += list(zip((t.corr for t in calibration.regimes), calibration.measured.get("regime_measured", [])))
    worst: dict[str, tuple] = {}  # a declaration for each segment is reported at its worst segment
    for corr, r in delivered:
        if abs(r - corr.r) > DELIVERY_TOLERANCE and abs(r - corr.r) > abs(worst.get(corr.key, (corr, corr.r))[1] - corr.r):
            worst[corr.key] = (corr, float(r))
    missed = list(worst.values())
    if not missed:
        return [], None
    season = spec.seasonality
    seasonal = set(season.applies_to or ()) if season is not None else set()
    ended = calibration.measured.get("ended_share", 0)

    def why(corr) -> str:
        causes = []
        names = [n for n in corr.between if n in seasonal]
        if names:
            causes.append(f"the seasonal multipliers of {' and '.join(names)} move "
                          f"{'their' if len(names) > 1 else 'its'} values more than the trajectory does")
        if ended > 0.05:
            causes.append(f"the terminal event ends {ended:.0%} of entities")
        causes.extend(_total_causes(spec, corr, calibration.measured.get("total_factors", {})))
        return "; ".join(causes) or "on the rows that exist, the trajectories and lags tie these metrics together"

    start = {c.key: r for c, r in missed}
    return _report(spec, [c for c, _ in missed], start, why, "does not hold on the rows this spec generates",
                   delivered=start)


def _total_causes(spec, corr, factors: dict) -> list[str]:
    """Declared totals of the pair's metrics that move its periods against each other (totals_pilot.py)."""
    out = []
    names = [m.name for m in spec.metrics]
    for name in corr.between:
        theta = factors.get(names.index(name)) if name in names else None
        if theta is None or not np.isfinite(theta).any():
            continue
        shift = spec.metrics[names.index(name)].family == "normal"
        moved = (f"shift its values by {np.nanmin(theta) / 100:+.3g} to {np.nanmax(theta) / 100:+.3g}" if shift
                 else f"scale its values by {np.nanmin(theta):.3g} to {np.nanmax(theta):.3g}")
        out.append(f"the declared totals of {name} (metrics.{name}.total) {moved} from period to period, "
                   "which its trajectory does not")
    return out


def cell_conflicts(spec, problem) -> tuple[list[Problem], dict[str, float] | None]:
    """Correlations declared within segments or regimes that no valid matrix gives with the rest: each moved
    toward the value it takes without its declaration (the pooled model's) by the smallest share that fits."""
    from dataclasses import replace

    from .scope import within_correlation

    cells = problem.cells
    pooled = fit(replace(problem, cells=None))
    if pooled is None:
        return [], None
    model, noise = pooled.solution.model, pooled.solution.noise_corr
    targets = list(zip(cells.scoped, problem.scoped_targets)) + list(zip(cells.regimes, problem.regime_targets))

    def moments_of(index: int, target):
        if index < len(cells.scoped):
            return cells.segment_moments[target.segment]
        k = index - len(cells.scoped)
        return next(cells.interval_moments[j] for j, iv in enumerate(cells.intervals) if k in iv.declarations)

    free = np.array([within_correlation(model, moments_of(i, t), noise, *t.pair) * t.noise[0]
                     for i, (t, _) in enumerate(targets)])
    declared_targets = np.array([v for _, v in targets])
    split = len(cells.scoped)

    def fits(share: float) -> bool:
        moved = (1 - share) * declared_targets + share * free
        return fit(replace(problem, scoped_targets=moved[:split], regime_targets=moved[split:])) is not None

    lo, hi = 0.0, 1.0
    if not fits(1.0):
        return [], None
    for _ in range(10):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    start: dict[str, float] = {}
    clash = []
    for (t, target), value in zip(targets, free):
        latent = float(np.clip(((1 - hi) * target + hi * value) / t.noise[0], -1.0, 1.0))
        if abs(latent * t.noise[0] - target) < 1e-6:
            continue
        a, b = t.pair
        r = norta.pearson(resolve(spec.metrics[a]), resolve(spec.metrics[b]), latent, t.noise[1], t.noise[2])
        if t.corr.key not in start or abs(r - t.corr.r) > abs(start[t.corr.key] - t.corr.r):
            start[t.corr.key] = r
        if t.corr not in clash:
            clash.append(t.corr)
    return _report(spec, clash, start, lambda corr: (
        "inside its " + ("periods" if corr.during is not None else "segment")
        + ", the trajectory and the pooled relations leave no valid correlation matrix for it"), "cannot hold")


def _report(spec, clash, start, why, verb, delivered=None) -> tuple[list[Problem], dict[str, float] | None]:
    if _CHECKING.get() and start is not None and _CLOSEST.get() is not None:
        _CLOSEST.get().update(start)
    nearest = None if _CHECKING.get() or start is None else _nearest(spec, start)
    problems = []
    for corr in clash:
        closest = f" (the closest it comes is {delivered[corr.key]:+.3f})" if delivered else ""
        hint = (f"; nearest value that holds: r: {nearest[corr.key]:g}" if nearest else
                "; no nearby value holds: remove it or set `signal` lower on one of the two metrics")
        others = [c.key for c in clash if c is not corr]
        with_others = f" with {', '.join(others)}" if others else ""
        problems.append(Problem(f"correlations.{corr.key}.r",
                                f"{corr.r:g} {verb}{with_others}{closest}: {why(corr)}{hint}"))
    return problems, nearest
