"""features_<unit>: one row per entity active at the cutoff, each metric summed up over the periods before it
(mean, last value, OLS slope over the period index, values observed) and a label: did the declared event
happen within `within` periods from the cutoff on.

Written through the derived-table hook: each chunk's clean rows add to per-entity sufficient statistics
(count, sums of t, t², y, t·y, the last value), so nothing is kept per row and no loop runs per entity.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .calendar import date_keys
from .tables import _field, unit_key, unit_table
from ..spec.features import cutoff_period
from ..spec.schema import event_tables

STATS = ("n", "t", "tt", "y", "ty")


def feature_table(plan) -> str:
    return f"features_{plan.spec.unit}"


def feature_tables(plan, loaded: dict[str, pa.Schema]):
    """The derived-table factory (derived.py): None without `features`."""
    return FeatureTable(plan) if plan.spec.features is not None else None


def _period_of(keys: np.ndarray, column) -> np.ndarray:
    return np.searchsorted(keys, column.to_numpy()).astype(np.int64)


class FeatureTable:
    def __init__(self, plan):
        self.plan = plan
        self.keys = date_keys(plan.starts)
        self.cutoff = cutoff_period(plan.spec)
        self.within = plan.spec.features.label.within
        size = max(seg.first_id + seg.count for seg in plan.segments) + 1
        count = len(plan.metric_names)
        self.stats = np.zeros((count, len(STATS), size))
        self.last_period = np.full((count, size), -1, dtype=np.int64)
        self.last_value = np.full((count, size), np.nan)
        self.kept = np.zeros(size, dtype=bool)  # active at the cutoff (arrived before it, not ended before it)
        self.label = np.zeros(size, dtype=bool)
        self.fact_of = {plan.metric_names[m]: fact.name for fact in plan.facts for m in fact.metrics}
        self.event = next((table, len(events) > 1) for table, events, _ in event_tables(plan.spec)
                          if plan.spec.features.label.event in events)

    def schemas(self) -> dict[str, pa.Schema]:
        plan = self.plan
        spec, key = plan.spec, unit_key(plan)
        grain, day = spec.window.grain, plan.starts[self.cutoff]
        fields = [_field(key, pa.int64(), f"Primary key; foreign key to {unit_table(plan)}.", nullable=False),
                  _field("segment", pa.string(), "Segment the entity was generated in.", nullable=False)]
        for name in plan.metric_names:
            before = f"its {name} values before {day} (nulls left out)"
            fields += [
                _field(f"{name}_mean", pa.float64(), f"Mean of {before}; null without any."),
                _field(f"{name}_last", pa.float64(), f"The latest of {before}."),
                _field(f"{name}_slope", pa.float64(), f"OLS slope of {before} on the {grain} index (change per "
                       f"{grain}); null with fewer than 2."),
                _field(f"{name}_periods", pa.int64(), f"How many {grain}s have a value: the count of {before}.",
                       nullable=False),
            ]
        label = spec.features.label
        fields.append(_field("label", pa.bool_(), f"True when {label.event} happened within {label.within} "
                             f"{grain}(s) from {day} on (up to window.as_of).", nullable=False))
        return {feature_table(plan): pa.schema(fields, metadata={"description": (
            f"One row per {spec.unit} active at the cutoff {day} (arrived before it, not ended before it): its "
            f"metrics before the cutoff as features, and whether {label.event} followed as the label.")})}

    def tests(self, ref) -> dict[str, dict[str, list[tuple[str, dict | None]]]]:
        """Data tests sync-sources registers: (test, arguments) per table and column."""
        key = unit_key(self.plan)
        return {feature_table(self.plan): {key: [
            ("unique", None), ("not_null", None), ("relationships", {"to": ref(unit_table(self.plan)), "field": key})]}}

    def observe(self, chunk: dict[str, pa.Table]) -> dict[str, pa.Table]:
        plan = self.plan
        key = unit_key(plan)
        if unit_table(plan) in chunk:
            self._entities(chunk[unit_table(plan)])
        for m, name in enumerate(plan.metric_names):
            fact = self.fact_of[name]
            if fact in chunk:
                self._metric(m, chunk[fact].column(key).to_numpy(), _period_of(self.keys, chunk[fact].column("date_key")),
                             chunk[fact].column(name))
        table, shared = self.event
        if table in chunk:
            rows = chunk[table]
            if shared:
                rows = rows.filter(pc.equal(rows.column("event_type"), plan.spec.features.label.event))
            period = _period_of(self.keys, rows.column("date_key"))
            inside = (period >= self.cutoff) & (period < self.cutoff + self.within)
            self.label[rows.column(key).to_numpy()[inside]] = True
        return {}

    def _entities(self, units: pa.Table) -> None:
        ids = units.column(unit_key(self.plan)).to_numpy()
        kept = np.ones(len(ids), dtype=bool)
        if "first_date_key" in units.column_names:
            kept &= _period_of(self.keys, units.column("first_date_key")) < self.cutoff
        if "ended_date_key" in units.column_names:
            ended = units.column("ended_date_key")
            known = pc.fill_null(ended, int(self.keys[-1])).to_numpy()
            kept &= pc.is_null(ended).to_numpy(zero_copy_only=False) | (np.searchsorted(self.keys, known) >= self.cutoff)
        self.kept[ids] = kept

    def _metric(self, m: int, ids: np.ndarray, period: np.ndarray, column) -> None:
        """Add a chunk's values of metric m before the cutoff to the entities' statistics."""
        use = pc.is_valid(column).to_numpy(zero_copy_only=False) & (period < self.cutoff)
        if not use.any():
            return
        y = column.to_numpy(zero_copy_only=False)[use].astype(np.float64)
        ids, t = ids[use], period[use].astype(np.float64)
        low = int(ids.min())
        span = int(ids.max()) - low + 1
        for s, weights in enumerate((None, t, t * t, y, t * y)):
            self.stats[m, s, low:low + span] += np.bincount(ids - low, weights, minlength=span)
        order = np.lexsort((t, ids))  # the latest value per entity: the last of its rows by period
        ids, t, y = ids[order], period[use][order], y[order]
        last = np.append(ids[1:] != ids[:-1], True)
        ids, t, y = ids[last], t[last], y[last]
        newer = t > self.last_period[m, ids]
        self.last_period[m, ids[newer]] = t[newer]
        self.last_value[m, ids[newer]] = y[newer]

    def finish(self) -> dict[str, pa.Table]:
        plan = self.plan
        ids = np.nonzero(self.kept)[0]
        firsts = np.array([seg.first_id for seg in plan.segments])
        names = np.array([seg.name for seg in plan.segments], dtype=object)
        columns = {unit_key(plan): ids.astype(np.int64), "segment": names[np.searchsorted(firsts, ids, side="right") - 1]}
        for m, name in enumerate(plan.metric_names):
            n, st, stt, sy, sty = (self.stats[m, s, ids] for s in range(len(STATS)))
            spread = n * stt - st * st
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = sy / n
                slope = (n * sty - st * sy) / spread
            columns[f"{name}_mean"] = pa.array(mean, mask=n == 0)
            columns[f"{name}_last"] = pa.array(self.last_value[m, ids], mask=n == 0)
            columns[f"{name}_slope"] = pa.array(slope, mask=(n < 2) | (spread <= 0))
            columns[f"{name}_periods"] = n.astype(np.int64)
        columns["label"] = self.label[ids]
        schema = self.schemas()[feature_table(plan)]
        return {feature_table(plan): pa.Table.from_pydict(columns, schema=schema)}
