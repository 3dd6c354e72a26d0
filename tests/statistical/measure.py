"""What a user would measure on a generated spec, against what it declares.

Independent of the engine's internals except for the family defaults a metric resolves to (part of what the
README promises): pooled r on rows that exist, lag peaks of time-demeaned changes, values outside ranges,
KS distance per calendar bucket against the declared family (scaled by that bucket's seasonal multiplier).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

import dbt_plotsim
from dbt_plotsim.engine.marginals import resolve
from dbt_plotsim.engine.plan import plan_for
from dbt_plotsim.errors import SpecError


@dataclass
class Report:
    name: str
    accepted: bool
    error: str = ""
    r_errors: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (declared, measured)
    lag_peaks: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # key -> (declared, best, margin)
    outside_range: dict[str, int] = field(default_factory=dict)
    ks_pooled: dict[str, float] = field(default_factory=dict)
    ks_bucket: dict[str, float] = field(default_factory=dict)  # worst calendar month (or weekday)
    seasonal: set[str] = field(default_factory=set)  # metrics with seasonality
    signals: dict[str, float] = field(default_factory=dict)
    ended_share: float = 0.0
    calibration_s: float = 0.0

    @property
    def median_signal(self) -> float:
        return float(np.median(list(self.signals.values())))

    @property
    def worst_r(self) -> float:
        return max((abs(m - d) for d, m in self.r_errors.values()), default=0.0)

    def text(self) -> str:
        if not self.accepted:
            return f"  REJECTED\n{self.error}"
        lines = [f"  calibration {self.calibration_s:.2f}s  ended {self.ended_share:.1%}  "
                 f"median signal {self.median_signal:.3f}  worst |r err| {self.worst_r:.3f}"]
        for key, (d, m) in self.r_errors.items():
            lines.append(f"  r {key}: declared {d:+.2f} measured {m:+.3f} err {m - d:+.3f}")
        for key, (d, best, margin) in self.lag_peaks.items():
            lines.append(f"  lag {key}: declared {d} best {best} margin {margin:.3f}")
        for name in self.ks_pooled:
            lines.append(f"  {name}: signal {self.signals[name]:.2f} KS pooled {self.ks_pooled[name]:.3f} "
                         f"worst bucket {self.ks_bucket[name]:.3f} outside range {self.outside_range[name]}")
        return "\n".join(lines)


def load(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def measure_spec(path: Path | dict, scale: float = 1.0, seed: int | None = None, name: str | None = None) -> Report:
    """Measure a spec file (or an already loaded raw spec) against its declarations."""
    raw = dict(path) if isinstance(path, dict) else load(path)
    if seed is not None:
        raw["seed"] = seed
    report = Report(name or Path(path).stem, accepted=True)
    import time

    start = time.perf_counter()
    try:
        spec = dbt_plotsim.load_spec(raw, scale=scale)  # validation calibrates the plan (cached)
        plan = plan_for(spec)
        report.calibration_s = time.perf_counter() - start
    except SpecError as error:
        report.accepted = False
        report.error = str(error)
        return report
    tables = dbt_plotsim.generate(spec)
    measure_tables(spec, plan, tables, report)
    return report


def panel(spec, tables) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Dense (entity x period) arrays with NaN where no row or null: entity ids, period starts, metrics,
    segment per entity."""
    unit = spec.unit
    dates = tables["dim_date"].column("date_key").to_numpy()
    starts = tables["dim_date"].column("period_start").to_numpy().astype("datetime64[D]")
    dim = tables[f"dim_{unit}"]
    ids = dim.column(f"{unit}_id").to_numpy()
    segments = np.asarray(dim.column("segment").to_pylist())
    row_of = {int(i): k for k, i in enumerate(ids)}
    col_of = {int(d): k for k, d in enumerate(dates)}
    values: dict[str, np.ndarray] = {}
    for name, table in tables.items():
        if not name.startswith("fct_") or f"{unit}_id" not in table.column_names or "date_key" not in table.column_names:
            continue
        rows = np.fromiter((row_of[int(i)] for i in table.column(f"{unit}_id").to_numpy()), dtype=np.int64)
        cols = np.fromiter((col_of[int(d)] for d in table.column("date_key").to_numpy()), dtype=np.int64)
        for metric in spec.metrics:
            if metric.name in table.column_names:
                dense = np.full((len(ids), len(dates)), np.nan)
                dense[rows, cols] = table.column(metric.name).to_numpy(zero_copy_only=False).astype(float)
                values[metric.name] = dense
    return ids, starts, values, segments


def lag_profile(driver: np.ndarray, follower: np.ndarray, max_lag: int) -> list[float]:
    """|corr| of within-entity changes, follower at t vs driver at t - k, after removing each period's mean
    change across entities (a time fixed effect), as the shipped lag_coherence measures."""
    dd, df = np.diff(driver, axis=1), np.diff(follower, axis=1)
    dd = dd - np.nanmean(dd, axis=0, keepdims=True)
    df = df - np.nanmean(df, axis=0, keepdims=True)
    out = []
    for k in range(max_lag + 1):
        x, y = dd[:, : dd.shape[1] - k].ravel(), df[:, k:].ravel()
        ok = ~(np.isnan(x) | np.isnan(y))
        out.append(abs(float(np.corrcoef(x[ok], y[ok])[0, 1])) if ok.sum() > 2 else 0.0)
    return out


def chain_lag(spec, follower: str, driver: str) -> int | None:
    total, at = 0, follower
    lags = {l.metric: l for l in spec.lags}
    while at in lags and at != driver:
        total += lags[at].periods
        at = lags[at].follows
    return total if at == driver and total else None


def multipliers(spec, starts: np.ndarray) -> np.ndarray:
    season = spec.seasonality
    out = np.ones(len(starts))
    if season is None:
        return out
    if season.month_of_year is not None:
        out *= np.asarray(season.month_of_year)[starts.astype("datetime64[M]").astype(np.int64) % 12]
    if season.day_of_week is not None:
        out *= np.asarray(season.day_of_week)[(starts.astype(np.int64) + 3) % 7]
    return out


def buckets(spec, starts: np.ndarray, seasonal: bool) -> np.ndarray:
    if seasonal and spec.seasonality.day_of_week is not None:
        return (starts.astype(np.int64) + 3) % 7
    return starts.astype("datetime64[M]").astype(np.int64) % 12


def declared_cdf(metric, factor: float):
    """CDF of the declared family, its scale multiplied by `factor`, truncated to the range."""
    marginal = resolve(metric)
    p = dict(marginal.params)
    fam = marginal.family
    if fam == "normal":
        dist = stats.norm(p["mean"] * factor, p["sd"] * factor)
    elif fam == "lognormal":
        dist = stats.lognorm(s=p["sigma"], scale=p["median"] * factor)
    elif fam == "beta":
        low, high = metric.range if metric.range is not None else (0.0, 1.0)
        dist = stats.beta(p["a"], p["b"], loc=low * factor, scale=(high - low) * factor)
    elif fam == "poisson":
        dist = stats.poisson(p["mean"] * factor)
    elif fam == "negative_binomial":  # variance = mean + dispersion * mean^2
        mu, size = p["mean"] * factor, 1.0 / p["dispersion"]
        dist = stats.nbinom(size, size / (size + mu))
    elif fam == "gamma":
        dist = stats.gamma(p["shape"], scale=p["scale"] * factor)
    else:
        dist = stats.weibull_min(p["shape"], scale=p["scale"] * factor)
    if metric.range is None:
        return dist.cdf
    low, high = metric.range
    if fam in ("poisson", "negative_binomial"):
        lo, hi = dist.cdf(np.ceil(low) - 1), dist.cdf(np.floor(high))
    else:
        lo, hi = dist.cdf(low), dist.cdf(high)
    return lambda x: np.clip((dist.cdf(x) - lo) / (hi - lo), 0.0, 1.0)


def ks(values: np.ndarray, cdf, discrete: bool, cents: bool) -> float:
    x = np.sort(values[~np.isnan(values)])
    if x.size == 0:
        return 0.0
    if discrete:
        support = np.unique(x)
        emp = np.searchsorted(x, support, side="right") / x.size
        below = np.searchsorted(x, support, side="left") / x.size
        return float(max(np.abs(emp - cdf(support)).max(), np.abs(below - cdf(support - 1)).max()))
    if cents:  # values rounded to cents: compare at the rounding midpoints
        support = np.unique(x)
        emp = np.searchsorted(x, support, side="right") / x.size
        return float(np.abs(emp - cdf(support + 0.005)).max())
    n = x.size
    f = cdf(x)
    return float(max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max()))


def measure_tables(spec, plan, tables, report: Report) -> None:
    ids, starts, values, segments = panel(spec, tables)
    factors = multipliers(spec, starts)
    season = spec.seasonality
    applies = set(season.applies_to or ()) if season is not None else set()
    for metric in spec.metrics:
        m = plan.metric_names.index(metric.name)
        report.signals[metric.name] = float(plan.model.loads[m].signal)
    days = starts.astype("datetime64[D]")
    for corr in spec.correlations:
        rows = np.ones(len(ids), dtype=bool)
        columns = np.ones(len(starts), dtype=bool)
        if corr.during is not None:
            following = np.append(days[1:], days[-1] + 31)
            columns = (days <= np.datetime64(corr.during.until)) & (following > np.datetime64(corr.during.start))
        groups = ([None] if corr.scope == "pooled" else
                  sorted(set(segments)) if corr.scope == "each_segment" else [corr.scope])
        worst = None
        for group in groups:
            inside = rows if group is None else segments == group
            a = values[corr.between[0]][inside][:, columns].ravel()
            b = values[corr.between[1]][inside][:, columns].ravel()
            ok = ~(np.isnan(a) | np.isnan(b))
            r = float(np.corrcoef(a[ok], b[ok])[0, 1])
            if worst is None or abs(r - corr.r) > abs(worst - corr.r):
                worst = r
        report.r_errors[corr.key] = (corr.r, worst)
    for lag in spec.lags:
        pairs = [(lag.metric, lag.follows)]
        for follower, driver in pairs:
            k = chain_lag(spec, follower, driver)
            profile = lag_profile(values[driver], values[follower], max(12, k))
            best = int(np.argmax(profile))
            others = [r for j, r in enumerate(profile) if j != k]
            report.lag_peaks[f"{follower}<-{driver}"] = (k, best, profile[k] - max(others))
    for metric in spec.metrics:
        x = values[metric.name]
        if metric.range is not None:
            low, high = metric.range
            report.outside_range[metric.name] = int(((x < low) | (x > high)).sum())
        else:
            report.outside_range[metric.name] = 0
        seasonal = metric.name in applies
        if seasonal:
            report.seasonal.add(metric.name)
        discrete = metric.type == "count"
        cents = metric.type == "amount"
        keys = buckets(spec, starts, seasonal)
        if not seasonal:
            report.ks_pooled[metric.name] = ks(x.ravel(), declared_cdf(metric, 1.0), discrete, cents)
        else:  # against the mixture of each period's scaled family, weighted by the cells there
            parts = []
            for key in np.unique(keys):
                columns = keys == key
                parts.append((float(np.isfinite(x[:, columns]).sum()),
                              declared_cdf(metric, float(np.unique(factors[columns])[0]))))
            total = sum(n for n, _ in parts)
            mixture = lambda v, parts=parts, total=total: sum(n * cdf(v) for n, cdf in parts) / total
            report.ks_pooled[metric.name] = ks(x.ravel(), mixture, discrete, cents)
        worst = 0.0
        for key in np.unique(keys):
            columns = keys == key
            factor = float(np.unique(factors[columns])[0]) if seasonal else 1.0
            worst = max(worst, ks(x[:, columns].ravel(), declared_cdf(metric, factor), discrete, cents))
        report.ks_bucket[metric.name] = worst
    dim = tables[f"dim_{spec.unit}"]
    if "ended_date_key" in dim.column_names:
        report.ended_share = 1.0 - dim.column("ended_date_key").null_count / dim.num_rows
