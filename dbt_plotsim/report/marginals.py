"""Each metric's output values against its declared distribution: a histogram, the density and the KS statistic.

The declared distribution is the engine's own (engine/marginals.resolve: the family with its defaults,
truncated to the range). A metric that seasonality scales is held to the mixture of its scaled distributions,
weighted by the rows of each segment and period.
"""
from __future__ import annotations

import numpy as np

from ..engine.marginals import Marginal, resolve
from ..engine.seasonality import base_multipliers
from ..writers.duckdb import quote
from .source import Opened

KS_WARN = 0.05  # a KS statistic above this is a warn
BINS = 40
MAX_DISCRETE_BINS = 80  # counts with a wider spread are binned like a continuous metric
CURVE_POINTS = 200


def marginals(opened: Opened, tables: dict[str, str]) -> list[dict]:
    if opened.spec is None:
        return []
    out = []
    for metric in opened.spec.metrics:
        table = tables.get(metric.name)
        if table is None:
            continue
        values = _values(opened, table, metric.name)
        if values.size == 0:
            continue
        mixture = _mixture(opened, table, metric)
        out.append(_figure(metric, table, values, mixture))
    return out


def _values(opened: Opened, table: str, column: str) -> np.ndarray:
    found = opened.conn.execute(f"select {quote(column)}::double as v from {opened.relation(table)} "
                                f"where {quote(column)} is not null").fetchnumpy()["v"]
    return np.asarray(found, dtype=float)


def _mixture(opened: Opened, table: str, metric) -> list[tuple[Marginal, float]]:
    """(distribution, weight) pairs: one for an unseasonal metric, one per seasonal multiplier otherwise."""
    base = resolve(metric)
    season = opened.spec.seasonality
    if season is None or season.applies_to is None or metric.name not in season.applies_to:
        return [(base, 1.0)]
    unit = opened.spec.unit
    key = f"{unit}_id"
    rows = opened.conn.execute(
        f"select d.segment, t.date_key, count(*) from {opened.relation(table)} t "
        f"join {opened.relation('dim_' + unit)} d using ({key}) where t.{metric.name} is not null group by 1, 2"
    ).fetchall()
    if not rows:
        return [(base, 1.0)]
    starts = np.array([np.datetime64(f"{str(k)[:4]}-{str(k)[4:6]}-{str(k)[6:]}", "D") for _, k, _ in rows])
    calendar = base_multipliers(season, starts)
    weights: dict[float, float] = {}
    for (segment, _, n), m in zip(rows, calendar):
        factor = round(1.0 + season.sensitivity.get(segment, 1.0) * (float(m) - 1.0), 12)
        weights[factor] = weights.get(factor, 0.0) + n
    total = sum(weights.values())
    return [(base.scaled(f), w / total) for f, w in sorted(weights.items())]


def _cdf(mixture, x: np.ndarray, integer_values: bool) -> np.ndarray:
    out = np.zeros_like(x, dtype=float)
    for marginal, weight in mixture:
        lo, hi = marginal.u_bounds
        at = x if marginal.discrete or not integer_values else x + 0.5  # rounded output: the mass up to k + 0.5
        out += weight * np.clip((marginal.dist.cdf(at) - lo) / (hi - lo), 0.0, 1.0)
    return out


def _density(mixture, x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x, dtype=float)
    for marginal, weight in mixture:
        lo, hi = marginal.u_bounds
        dist = marginal.dist
        d = dist.pmf(x) if marginal.discrete else dist.pdf(x)
        if marginal.low is not None:
            d = np.where((x >= marginal.low) & (x <= marginal.high), d, 0.0)
        out += weight * d / (hi - lo)
    return out


def ks_statistic(values: np.ndarray, mixture, integer_values: bool) -> float:
    """sup |empirical CDF - declared CDF|; on whole numbers for counts (both CDFs step there)."""
    values = np.sort(values)
    n = values.size
    if integer_values:
        ks = np.arange(np.floor(values[0]) - 1, np.ceil(values[-1]) + 1)
        empirical = np.searchsorted(values, ks, side="right") / n
        return float(np.max(np.abs(empirical - _cdf(mixture, ks, True))))
    declared = _cdf(mixture, values, False)
    above = np.arange(1, n + 1) / n - declared
    below = declared - np.arange(0, n) / n
    return float(max(above.max(), below.max()))


def _figure(metric, table: str, values: np.ndarray, mixture) -> dict:
    base = mixture[0][0]
    integer_values = base.integer or base.discrete
    ks = ks_statistic(values, mixture, integer_values)
    low, high = np.quantile(values, [0.001, 0.999])
    if integer_values and high - low <= MAX_DISCRETE_BINS:
        edges = np.arange(np.floor(low) - 0.5, np.ceil(high) + 1.0)
        x = np.arange(np.floor(low), np.ceil(high) + 1.0)
        density = _density(mixture, x) if base.discrete else np.diff(_cdf(mixture, edges - 0.5, True))
    else:
        edges = np.linspace(low, high, BINS + 1) if high > low else np.array([low - 0.5, low + 0.5])
        x = np.linspace(edges[0], edges[-1], CURVE_POINTS)
        density = (_density(mixture, x) if not base.discrete
                   else np.interp(x, np.arange(np.floor(low), np.ceil(high) + 1),
                                  _density(mixture, np.arange(np.floor(low), np.ceil(high) + 1))))
    counts, _ = np.histogram(values, bins=edges)
    histogram = counts / (values.size * np.diff(edges))  # density: comparable with the declared curve
    return {
        "metric": metric.name, "table": table, "type": metric.type, "family": base.family,
        "params": {k: float(v) for k, v in base.params.items()},
        "range": None if base.low is None else [base.low, base.high], "declared_mean": metric.mean,
        "seasonal_factors": len(mixture), "n": int(values.size), "mean": float(values.mean()),
        "ks": ks, "ks_warn_above": KS_WARN, "status": "pass" if ks <= KS_WARN else "warn",
        "histogram": {"edges": edges.tolist(), "density": histogram.tolist()},
        "declared": {"x": x.tolist(), "density": [float(d) for d in density]},
    }
