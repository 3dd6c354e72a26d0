"""Each metric's output values against its declared distribution: a histogram, the density and the KS statistic.

The declared distribution is the engine's own (engine/marginals.resolve: the family with its defaults,
truncated to the range). A metric that seasonality scales, or whose declared total scales each period's values
(by the factor the truth table records), is held to the mixture of its scaled distributions, weighted by the
rows of each segment and period.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.marginals import Marginal, resolve
from ..engine.seasonality import base_multipliers
from ..writers.duckdb import quote
from .collect import TRUTH
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


@dataclass(frozen=True)
class Component:
    """One part of the declared mixture: the family (seasonally scaled), then a declared total's factor
    (offset) on its values, clipped to the range as the engine clips them."""

    marginal: Marginal
    weight: float
    theta: float = 1.0  # 1.0 (scale) or 0.0 (shift): no declared total
    shift: bool = False

    def before(self, x: np.ndarray) -> np.ndarray:
        return x - self.theta if self.shift else x / self.theta

    def cdf(self, x: np.ndarray, integer_values: bool, left: bool = False) -> np.ndarray:
        """P(value <= x), or P(value < x) with `left` (they differ on the range's ends, where the values a
        total's factor pushed past them pile up)."""
        m = self.marginal
        lo, hi = m.u_bounds
        at = x if m.discrete or not integer_values else x + 0.5  # rounded output: the mass up to k + 0.5
        out = np.clip((m.dist.cdf(self.before(at)) - lo) / (hi - lo), 0.0, 1.0)
        if m.low is not None and self.theta != (0.0 if self.shift else 1.0):
            out = np.where(at > m.high if left else at >= m.high, 1.0, out)
            out = np.where(at <= m.low, 0.0, out) if left else out
        return out

    def density(self, x: np.ndarray) -> np.ndarray:
        m = self.marginal
        lo, hi = m.u_bounds
        y = self.before(x)
        d = m.dist.pmf(y) if m.discrete else m.dist.pdf(y) / (1.0 if self.shift else self.theta)
        if m.low is not None:
            d = np.where((y >= m.low) & (y <= m.high) & (x >= m.low) & (x <= m.high), d, 0.0)
        return d / (hi - lo)


def _mixture(opened: Opened, table: str, metric) -> list[Component]:
    """One component for a metric neither seasonality nor a declared total scales; otherwise one per
    seasonal multiplier and total factor, weighted by the rows of each segment and period."""
    base = resolve(metric)
    season = opened.spec.seasonality
    seasonal = season is not None and season.applies_to is not None and metric.name in season.applies_to
    factors = _total_factors(opened, table, metric) if metric.total is not None else {}
    if not seasonal and not factors:
        return [Component(base, 1.0)]
    unit = opened.spec.unit
    key = f"{unit}_id"
    rows = opened.conn.execute(
        f"select d.segment, t.date_key, count(*) from {opened.relation(table)} t "
        f"join {opened.relation('dim_' + unit)} d using ({key}) where t.{metric.name} is not null group by 1, 2"
    ).fetchall()
    if not rows:
        return [Component(base, 1.0)]
    if seasonal:
        starts = np.array([np.datetime64(f"{str(k)[:4]}-{str(k)[4:6]}-{str(k)[6:]}", "D") for _, k, _ in rows])
        calendar = base_multipliers(season, starts)
    else:
        calendar = np.ones(len(rows))
    shift = base.family == "normal"
    weights: dict[tuple[float, float], float] = {}
    for (segment, date_key, n), m in zip(rows, calendar):
        factor = round(1.0 + season.sensitivity.get(segment, 1.0) * (float(m) - 1.0), 12) if seasonal else 1.0
        theta = factors.get(date_key, 0.0 if shift else 1.0)
        weights[(factor, theta)] = weights.get((factor, theta), 0.0) + n
    total = sum(weights.values())
    return [Component(base.scaled(f), w / total, theta, shift) for (f, theta), w in sorted(weights.items())]


def _total_factors(opened: Opened, table: str, metric) -> dict[int, float]:
    """date_key -> the factor (offset) the metric's declared total applied, from the truth table."""
    if TRUTH not in opened.tables:
        opened.notes.append(f"No truth table in this output: {metric.name}'s values are compared with its "
                            "declared family without the factors its declared total applied.")
        return {}
    found = opened.conn.execute(
        f"select date_key, value::double from {opened.relation(TRUTH)} where table_name = ? and column_name = ? "
        "and measure = 'total_factor' and date_key is not null and value is not null", [table, metric.name]
    ).fetchall()
    return {int(k): float(v) for k, v in found}


def _cdf(mixture: list[Component], x: np.ndarray, integer_values: bool, left: bool = False) -> np.ndarray:
    return sum(c.weight * c.cdf(x, integer_values, left) for c in mixture)


def _density(mixture: list[Component], x: np.ndarray) -> np.ndarray:
    return sum(c.weight * c.density(x) for c in mixture)


def ks_statistic(values: np.ndarray, mixture, integer_values: bool) -> float:
    """sup |empirical CDF - declared CDF|; on whole numbers for counts (both CDFs step there)."""
    values = np.sort(values)
    n = values.size
    if integer_values:
        ks = np.arange(np.floor(values[0]) - 1, np.ceil(values[-1]) + 1)
        empirical = np.searchsorted(values, ks, side="right") / n
        return float(np.max(np.abs(empirical - _cdf(mixture, ks, True))))
    at, count = np.unique(values, return_counts=True)  # ties: the values piled on a bound of the range
    upto = np.cumsum(count) / n
    right = _cdf(mixture, at, False)
    piled = any(c.theta != (0.0 if c.shift else 1.0) for c in mixture)  # only a total's factor piles values
    left = _cdf(mixture, at, False, left=True) if piled else right
    return float(max(np.abs(upto - right).max(), np.abs(upto - count / n - left).max()))


def _figure(metric, table: str, values: np.ndarray, mixture) -> dict:
    base = mixture[0].marginal
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
