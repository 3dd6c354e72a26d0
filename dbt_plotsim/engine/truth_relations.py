"""Declared correlations and lags as the written rows deliver them (`_plotsim_truth_relations`, `_plotsim_truth_lags`).

Measured as the package's tests measure them: a correlation is the Pearson r over the rows where both metrics
are non-null (within a segment or a regime's periods when so declared); a lag is the correlation of
period-to-period changes within each entity, follower at t against driver at t - k, after removing each
period's mean change (macros/generic_tests/test_lag_coherence.sql). Both are accumulated chunk by chunk from
sufficient statistics, so no rows are kept.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .block_sums import BlockOrder, local_blocks
from .calendar import date_keys
from .regimes import regime_columns
from .truth_lags import LagStats, max_lag
from .tables import unit_key

RELATIONS_TABLE = "_plotsim_truth_relations"
LAGS_TABLE = "_plotsim_truth_lags"


def _schema(description: str, columns: dict[str, tuple[pa.DataType, str]]) -> pa.Schema:
    return pa.schema([pa.field(n, t, metadata={"description": d}) for n, (t, d) in columns.items()],
                     metadata={"description": description})


RELATIONS_SCHEMA = _schema("Known answers: each declared correlation and lag as the rows written deliver it.", {
    "kind": (pa.string(), "correlation or lag"),
    "metric": (pa.string(), "The first metric of a correlation; the follower of a lag."),
    "other": (pa.string(), "The second metric of a correlation; the driver a lag follows."),
    "scope": (pa.string(), "pooled, or the segment the r is measured in; [from..until] for a regime."),
    "declared": (pa.float64(), "The declared r, or the declared lag in periods."),
    "delivered": (pa.float64(), "Measured on the rows written: the r, or the lag where the change correlation peaks."),
    "strength": (pa.float64(), "Lags: the r of changes at the declared lag (signed); null for correlations."),
    "n": (pa.int64(), "Pairs of non-null values (changes, for a lag) measured."),
})
LAGS_SCHEMA = _schema("Known answers: the change cross-correlation curve of each declared lag, lag 0 to 12 "
                      "(or one past the declared lag).", {
    "metric": (pa.string(), "The follower."),
    "follows": (pa.string(), "The driver."),
    "lag": (pa.int32(), "Periods the driver's change is taken before the follower's."),
    "r": (pa.float64(), "Pearson r of the time-demeaned changes at this lag."),
    "n": (pa.int64(), "Pairs of non-null changes at this lag."),
})


class Moments:
    """Per group: count, means and co-moments of (x, y), merged one entity block at a time in block order
    (Chan et al.), so the result does not depend on the chunk size (block_sums.py)."""

    def __init__(self, groups: int):
        self.n = np.zeros(groups)
        self.mean = np.zeros((2, groups))
        self.co = np.zeros((3, groups))  # sum of dx*dx, dy*dy, dx*dy

    def add(self, block: np.ndarray, group: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        local, spanned = local_blocks(block)
        groups = self.n.size
        cell = local * groups + group
        size = spanned * groups

        def per_block(weights=None):
            return np.bincount(cell, weights=weights, minlength=size).reshape(spanned, groups)

        n = per_block()
        seen = np.maximum(n, 1)
        mx, my = per_block(x) / seen, per_block(y) / seen
        dx, dy = x - mx.reshape(-1)[cell], y - my.reshape(-1)[cell]
        co = np.stack([per_block(w) for w in (dx * dx, dy * dy, dx * dy)], axis=1)  # (blocks, 3, groups)
        for b in range(spanned):
            self._merge(n[b].astype(float), mx[b], my[b], co[b])

    def _merge(self, n, mx, my, co) -> None:
        total = self.n + n
        share = np.where(total > 0, n / np.maximum(total, 1), 0.0)
        ex, ey = mx - self.mean[0], my - self.mean[1]
        cross = self.n * share  # n_a * n_b / (n_a + n_b)
        self.co = self.co + co + np.stack([ex * ex, ey * ey, ex * ey]) * cross
        self.mean = self.mean + np.stack([ex, ey]) * share
        self.n = total

    def r(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.co[2] / np.sqrt(self.co[0] * self.co[1])


class RelationStats:
    def __init__(self, plan, loaded: dict[str, pa.Schema], periods: int):
        spec = plan.spec
        self.periods = periods
        self.entity = unit_key(plan)
        self.order = BlockOrder(plan)
        self.segments = [s.name for s in plan.segments]
        self.home = {plan.metric_names[m]: fact.name for fact in plan.facts for m in fact.metrics}
        self.correlations = []  # (corr, scope labels, group of each segment or None, period mask)
        for corr in spec.correlations:
            if corr.scope == "each_segment":
                labels, groups = self.segments, np.arange(len(self.segments))
            elif corr.scope == "pooled":
                labels, groups = ["pooled"], np.zeros(len(self.segments), dtype=np.int64)
            else:
                labels = [corr.scope]
                groups = np.array([0 if name == corr.scope else -1 for name in self.segments])
            mask = np.ones(periods, dtype=bool)
            if corr.during is not None:
                columns = regime_columns(plan.starts, corr.during)
                mask[:] = False
                mask[columns[columns < periods]] = True
                labels = [f"{label}[{corr.during.label}]" for label in labels]
            self.correlations.append((corr, labels, groups, mask, Moments(len(labels))))
        self.lags = [LagStats(lag, max_lag(lag.periods), periods) for lag in spec.lags]
        self.period_keys = date_keys(plan.starts)[:periods]

    def schemas(self) -> dict[str, pa.Schema]:
        return {RELATIONS_TABLE: RELATIONS_SCHEMA, LAGS_TABLE: LAGS_SCHEMA}

    def row_estimate(self) -> dict[str, int]:
        correlations = sum(len(labels) for _, labels, *_ in self.correlations)
        return {RELATIONS_TABLE: correlations + len(self.lags),
                LAGS_TABLE: sum(stats.max_lag + 1 for stats in self.lags)}

    def observe(self, chunk: dict[str, pa.Table]) -> None:
        if not any(self.home.get(m) in chunk for m in self.home):
            return
        keyed: dict[str, tuple] = {}  # table -> its rows' (entity, period, code, order): once per chunk
        for corr, _, groups, mask, moments in self.correlations:
            series = self._series(chunk, keyed, *corr.between)
            if series is None:
                continue
            ids, period, x, y = series
            group = groups[self.order.segment(ids)]
            keep = ~np.isnan(x) & ~np.isnan(y) & (group >= 0) & mask[period]
            moments.add(self.order.block(ids[keep]), group[keep], x[keep], y[keep])
        for stats in self.lags:
            series = self._series(chunk, keyed, stats.lag.metric, stats.lag.follows)
            if series is not None:
                stats.observe(self.order.block(series[0]), *series)

    def _series(self, chunk, keyed: dict, a: str, b: str):
        """(entity, period index, a, b) of the rows holding either metric, ordered by entity and period: one
        table's rows, or two tables' joined on entity and period (a full outer join, as the tests do)."""
        home_a, home_b = self.home[a], self.home[b]
        if home_a not in chunk or home_b not in chunk:
            return None
        ids, period, code_a, order_a = self._keys(chunk, keyed, home_a)
        x = _values(chunk[home_a], a, order_a)
        if home_a == home_b:
            return ids, period, x, _values(chunk[home_a], b, order_a)
        _, _, code_b, order_b = self._keys(chunk, keyed, home_b)
        y = _values(chunk[home_b], b, order_b)
        if np.array_equal(code_a, code_b):  # the usual case: both tables hold the same entity-periods
            return ids, period, x, y
        codes = _sorted_union(code_a, code_b)
        joined_x, joined_y = np.full(codes.size, np.nan), np.full(codes.size, np.nan)
        joined_x[np.searchsorted(codes, code_a)] = x
        joined_y[np.searchsorted(codes, code_b)] = y
        return codes // self.periods, codes % self.periods, joined_x, joined_y

    def _keys(self, chunk, keyed: dict, name: str) -> tuple:
        if name not in keyed:
            table = chunk[name]
            ids = table.column(self.entity).to_numpy(zero_copy_only=False).astype(np.int64)
            period = np.searchsorted(self.period_keys, table.column("date_key").to_numpy(zero_copy_only=False))
            code = ids * self.periods + period
            order = None if code.size < 2 or bool((code[1:] >= code[:-1]).all()) else np.argsort(code, kind="stable")
            if order is not None:
                ids, period, code = ids[order], period[order], code[order]
            keyed[name] = (ids, period, code, order)
        return keyed[name]

    def tables(self) -> dict[str, pa.Table]:
        rows = {name: [] for name in RELATIONS_SCHEMA.names}
        for corr, labels, _, _, moments in self.correlations:
            for label, r, n in zip(labels, moments.r(), moments.n):
                _append(rows, "correlation", corr.between[0], corr.between[1], label, corr.r, r, None, n)
        curves = {name: [] for name in LAGS_SCHEMA.names}
        for stats in self.lags:
            r, n = stats.curve()
            lag = stats.lag
            for k in range(r.size):
                for name, value in zip(LAGS_SCHEMA.names, (lag.metric, lag.follows, k, _number(r[k]), int(n[k]))):
                    curves[name].append(value)
            magnitude = np.where(np.isnan(r), -1.0, np.abs(r))
            peak = int(np.argmax(magnitude)) if (magnitude >= 0).any() else None
            at = lag.periods if lag.periods < r.size else None
            _append(rows, "lag", lag.metric, lag.follows, "pooled", lag.periods, peak,
                    None if at is None else r[at], 0 if at is None else n[at])
        return {RELATIONS_TABLE: pa.table(rows, schema=RELATIONS_SCHEMA), LAGS_TABLE: pa.table(curves, schema=LAGS_SCHEMA)}


def _values(table: pa.Table, metric: str, order: np.ndarray | None) -> np.ndarray:
    values = np.asarray(table.column(metric).cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return values if order is None else values[order]


def _sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct values of two arrays, ascending (a sort, not numpy's hashing unique, which is slower here)."""
    both = np.concatenate([a, b])
    both.sort(kind="stable")
    return both[np.concatenate([[True], both[1:] != both[:-1]])] if both.size else both


def _number(value):
    return None if value is None or value != value else float(value)


def _append(rows: dict, *values) -> None:
    for name, value in zip(RELATIONS_SCHEMA.names, values):
        rows[name].append(int(value) if name == "n" else _number(value) if isinstance(value, (float, np.floating)) else value)
