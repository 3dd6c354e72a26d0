"""Which cells are null: completely at random (mcar), or through a threshold on a driver's normal score.

A null under mar or mnar is the event  s q + sqrt(1 - s^2) e < c,  where q is the driver's normal score
(the normal quantile of its pooled rank among the rows that exist: metric latents, trajectory positions,
or a number attribute's draw), e a standard normal of the metric's own `missing` stream, c the intercept
and s the slope. The pilot tabulates the driver's CDF on the rows that exist and solves c and s on it, so
that the rate and the point-biserial r between the null indicator and q are the declared ones there;
generation reads the same CDF, intercept and slope, so the pilot sees the very cells the output nulls.
mcar draws `u < rate` from the same stream, as it always did.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from ..spec.missing import TRAJECTORY, driver_of, strength_of
from .rng import ENTITY_BLOCK, stream

SCORE_EDGES = np.linspace(-6.0, 6.0, 1201)  # histogram of driver scores the intercept and slope are solved on
STEPS = 40  # bisection steps (each halves the interval: far below any tolerance)
CDF_KNOTS = 4096  # knots of a driver's tabulated CDF


@dataclass(frozen=True)
class NullFit:
    """A metric's fitted null model: the driver's CDF, intercept, slope and what the pilot delivered."""
    driver: str
    cdf: tuple[np.ndarray, np.ndarray]
    intercept: float
    slope: float
    reached: float  # the largest |r| this driver's scores allow at the rate (below the declared: a problem)


def declared(plan, m: int):
    """The metric's `missing` block (spec.missing.Missing)."""
    return plan.spec.noise_of(plan.spec.metrics[m]).missing_block


def mechanisms(plan) -> dict[int, str]:
    """metric index -> driver, for metrics whose nulls have a mechanism (mar or mnar with a rate)."""
    out = {}
    for m, name in enumerate(plan.metric_names):
        missing = declared(plan, m)
        if missing.mechanism != "mcar" and missing.rate > 0:
            out[m] = driver_of(missing, name)
    return out


def driver_series(plan, driver: str, segment: str, block: int, n: int, windows, positions) -> np.ndarray:
    """The driver's raw values for n entities of a block: (n, P), or (n, 1) for an attribute."""
    if driver == TRAJECTORY:
        return positions
    if driver in plan.metric_names:
        return windows[plan.metric_names.index(driver)]
    draws = stream(plan.spec.seed, "attribute", driver, segment, block).standard_normal(ENTITY_BLOCK)[:n]
    return draws[:, None]  # the attribute's own normal draw (attributes.py), the same in every period


def scores(cdf: tuple[np.ndarray, np.ndarray], raw: np.ndarray) -> np.ndarray:
    knots, levels = cdf
    return ndtri(np.interp(raw, knots, levels))


def tabulate(raw: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mid-rank CDF of a driver on the rows that exist (ties share the middle of their mass),
    kept at about CDF_KNOTS knots evenly spaced in level (and both ends), interpolated in between."""
    values, inverse = np.unique(raw, return_inverse=True)
    mass = np.bincount(inverse, weights=weights)
    levels = (np.cumsum(mass) - mass / 2) / mass.sum()
    if values.size > CDF_KNOTS:
        keep = np.unique(np.concatenate([[0, values.size - 1],
                                         np.searchsorted(levels, np.linspace(0.0, 1.0, CDF_KNOTS))]))
        keep = keep[keep < values.size]
        values, levels = values[keep], levels[keep]
    return values, levels


def _chance(q: np.ndarray, intercept: float, slope: float) -> np.ndarray:
    spread = np.sqrt(max(1.0 - slope * slope, 1e-12))
    return ndtr((intercept - slope * q) / spread)


def _bisect(f, low: float, high: float) -> float:
    """The root of an increasing f on [low, high] (an end when f keeps its sign)."""
    for _ in range(STEPS):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if f(mid) < 0 else (low, mid)
    return 0.5 * (low + high)


def solve(q: np.ndarray, w: np.ndarray, rate: float, strength: float) -> tuple[float, float, float]:
    """(intercept, slope, reachable |r|) so that the weighted chance of a null is `rate` and its point-biserial
    r with q is `strength`, on the histogram of the scores q."""
    mass, _ = np.histogram(np.clip(q, SCORE_EDGES[0], SCORE_EDGES[-1]), SCORE_EDGES, weights=w)
    sums, _ = np.histogram(np.clip(q, SCORE_EDGES[0], SCORE_EDGES[-1]), SCORE_EDGES, weights=w * q)
    keep = mass > 0
    mass, x = mass[keep] / mass.sum(), sums[keep] / mass[keep]
    centred = x - (mass * x).sum()
    scale = np.sqrt((mass * centred**2).sum() * rate * (1.0 - rate))

    def intercept(slope: float) -> float:
        return _bisect(lambda c: (mass * _chance(x, c, slope)).sum() - rate, -12.0, 12.0)

    def r(slope: float) -> float:
        return float((mass * _chance(x, intercept(slope), slope) * centred).sum() / scale)

    if not scale > 0:  # a driver with one value on every row: nothing but the rate can hold
        return intercept(0.0), 0.0, 0.0
    reached = max(-r(1.0), r(-1.0))
    slope = _bisect(lambda s: strength - r(s), -1.0, 1.0)  # r falls as the slope rises
    return intercept(slope), slope, reached


def fit(plan, raws: dict[str, np.ndarray], weights: dict[str, np.ndarray]) -> dict[int, NullFit]:
    """Each mechanism's fit from its driver's raw values and weights on the pilot's rows that exist."""
    out = {}
    for m, driver in mechanisms(plan).items():
        missing = declared(plan, m)
        cdf = tabulate(raws[driver], weights[driver])
        q = scores(cdf, raws[driver])
        intercept, slope, reached = solve(q, weights[driver], missing.rate, strength_of(missing))
        out[m] = NullFit(driver, cdf, intercept, slope, reached)
    return out


def null_cells(plan, m: int, segment: str, block: int, n: int, periods: int, windows, positions) -> np.ndarray | None:
    """(n, P) null indicator of metric m, or None when nothing is null."""
    missing = declared(plan, m)
    if missing.rate <= 0:
        return None
    name = plan.metric_names[m]
    u = stream(plan.spec.seed, "missing", name, segment, block).random((ENTITY_BLOCK, periods))[:n]
    if missing.mechanism == "mcar":
        return u < missing.rate
    null = plan.null_fits[m]  # fitted by the pilot (pilot_nulls) before any cell is drawn
    q = scores(null.cdf, driver_series(plan, null.driver, segment, block, n, windows, positions))
    spread = np.sqrt(max(1.0 - null.slope**2, 0.0))
    return null.slope * q + spread * ndtri(u) < null.intercept


def point_biserial(indicator: np.ndarray, q: np.ndarray, w: np.ndarray) -> float:
    """Weighted r between a 0/1 indicator and a score."""
    total = w.sum()
    rate = (w * indicator).sum() / total
    mq = (w * q).sum() / total
    cov = (w * (indicator - rate) * (q - mq)).sum() / total
    sd = np.sqrt(rate * (1 - rate) * (w * (q - mq) ** 2).sum() / total)
    return float(cov / sd) if sd > 0 else float("nan")


def pilot_nulls(plan, units: list[tuple], actives: list[np.ndarray]) -> list[list]:
    """Fits every mechanism on the pilot's rows that exist (plan.null_fits), then draws each unit's null
    cells with it, and records the rate (and r) the pilot delivers (plan.null_delivered)."""
    drivers = sorted(set(mechanisms(plan).values()))
    raws = {d: [] for d in drivers}
    weights = {d: [] for d in drivers}
    for (seg, block, weight, _, window, z), active in zip(units, actives):
        for d in drivers:
            series = driver_series(plan, d, seg.name, block, ENTITY_BLOCK, z, window)
            raws[d].append(np.broadcast_to(series, active.shape)[active])
            weights[d].append(np.full(int(active.sum()), weight))
    raws = {d: np.concatenate(v) for d, v in raws.items()}
    weights = {d: np.concatenate(v) for d, v in weights.items()}
    plan.null_fits = fit(plan, raws, weights)
    masks = [[null_cells(plan, m, seg.name, block, ENTITY_BLOCK, plan.periods, z, window) for m in range(len(z))]
             for seg, block, _, _, window, z in units]
    cell_weights = np.concatenate([np.full(int(a.sum()), unit[2]) for unit, a in zip(units, actives)])
    delivered = {}
    for m in range(len(plan.metric_names)):
        if not masks or masks[0][m] is None:
            continue
        indicator = np.concatenate([mask[m][active] for mask, active in zip(masks, actives)])
        null = plan.null_fits.get(m)
        r = None if null is None else point_biserial(indicator, scores(null.cdf, raws[null.driver]), cell_weights)
        delivered[m] = (float((cell_weights * indicator).sum() / cell_weights.sum()), r)
    plan.null_delivered = delivered
    return masks


def problems(plan) -> list:
    """Strengths the drivers' scores cannot reach at the declared rate (ties in the driver, e.g. many entities
    at one position, lower the bound below the normal one the spec checks), with the nearest that holds."""
    from ..errors import Problem

    out = []
    for m, null in plan.null_fits.items():
        missing = declared(plan, m)
        strength = strength_of(missing)
        if abs(strength) > null.reached + 1e-3:
            metric = plan.spec.metrics[m]
            own = metric.noise is not None and metric.noise.missing is not None
            path = f"metrics.{metric.name}.noise.missing" if own else "noise.missing"
            nearest = float(np.copysign(np.floor(null.reached * 1000) / 1000, strength)) + 0.0  # no -0
            out.append(Problem(f"{path}.strength", (
                f"{strength:g} cannot hold for {metric.name} at rate {missing.rate:g}: the scores of {null.driver} "
                f"on the rows that exist reach at most {null.reached:.3f}; the nearest value that holds is {nearest:g}")))
    return out


def describe_nulls(spec, metric: str, missing) -> list[str]:
    """The clause of a metric column's description that says how its nulls arise."""
    if missing.rate <= 0:
        return []
    if missing.mechanism == "mcar":
        return [f"about {missing.rate:.1%} nulls at random"]
    driver = driver_of(missing, metric)
    what = ("the trajectory position" if driver == TRAJECTORY else "its own value" if driver == metric else driver)
    strength = strength_of(missing)
    side = "low" if strength < 0 else "high"
    return [f"about {missing.rate:.1%} nulls, {missing.mechanism}: more likely at {side} {what} "
            f"(r {strength:+.2g} between null and the normal score of {what}; see _plotsim_relations)"]


def null_relations(plan) -> list[dict]:
    """`_plotsim_relations` rows of every metric with nulls: kind `missing_rate` (value: the rate) and, under
    mar or mnar, `missing_strength` (value: the point-biserial r with the driver's normal score); `other` is
    the driver, `scope` the mechanism, `delivered` what the calibration pilot measured on the rows that exist."""
    rows = []
    for m, name in enumerate(plan.metric_names):
        missing = declared(plan, m)
        if missing.rate <= 0:
            continue
        rate, r = plan.null_delivered.get(m, (None, None))
        driver = driver_of(missing, name)
        common = {"metric": name, "other": driver, "weight": None, "scope": missing.mechanism}
        rows.append({**common, "kind": "missing_rate", "value": missing.rate, "declared": missing.rate,
                     "delivered": None if rate is None else round(rate, 4)})
        if missing.mechanism != "mcar":
            strength = strength_of(missing)
            rows.append({**common, "kind": "missing_strength", "value": strength, "declared": strength,
                         "delivered": None if r is None else round(r, 4)})
    return rows


def null_lines(plan) -> list[str]:
    """What `validate` and `info` show of the mechanisms: declared and delivered rate and strength."""
    rows = null_relations(plan)
    if not any(r["scope"] != "mcar" for r in rows):
        return []
    lines = ["nulls                              declared  delivered"]
    for row in rows:
        rate = row["kind"] == "missing_rate"
        label = f"{row['metric']} {row['scope']} " + ("rate" if rate else f"r~{row['other']}")
        delivered = float("nan") if row["delivered"] is None else row["delivered"]
        sign = "" if rate else "+"
        lines.append(f"  {label:<33}{row['value']:>{sign}8.3f}  {delivered:>{sign}8.3f}")
    return lines
