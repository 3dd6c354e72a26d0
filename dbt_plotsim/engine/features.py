"""features_<unit>: one row per entity active at the cutoff, each metric summed up over the periods before it
(mean, last value, OLS slope over the period index, values observed) and a label: did the declared event
happen within `within` periods from the cutoff on.

Written through the derived-table hook, chunk by chunk: an entity's dim row and fact rows come in one chunk
(its fan-out, events included, in that chunk or the ones before it, when its block is generated in parts), so
each chunk's entities get their rows from per-entity sufficient statistics of its fact rows (count, sums of t,
t², y, t·y, the last value), vectorized; only the label events of entities still to come are kept between
chunks.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .calendar import date_keys
from .row_index import Periods, positions
from .tables import _field, unit_key, unit_table
from ..spec.features import cutoff_period
from ..spec.schema import event_tables

STATS = ("n", "t", "tt", "y", "ty")


def feature_table(plan) -> str:
    return f"features_{plan.spec.unit}"


def feature_tables(plan, loaded: dict[str, pa.Schema]):
    """The derived-table factory (derived.py): None without `features`."""
    return FeatureTable(plan) if plan.spec.features is not None else None


class FeatureTable:
    def __init__(self, plan):
        self.plan = plan
        self.keys = date_keys(plan.starts)
        self.periods = Periods(self.keys)
        self.cutoff = cutoff_period(plan.spec)
        self.within = plan.spec.features.label.within
        self.fact_of = {plan.metric_names[m]: fact.name for fact in plan.facts for m in fact.metrics}
        self.event = next((table, len(events) > 1) for table, events, _ in event_tables(plan.spec)
                          if plan.spec.features.label.event in events)
        self.labelled = np.zeros(0, dtype=np.int64)  # entities with a label event whose dim row is still to come

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

    def row_estimate(self) -> dict[str, int]:
        return {feature_table(self.plan): self.plan.entity_count}  # at most: every entity

    def tests(self, ref) -> dict[str, dict[str, list[tuple[str, dict | None]]]]:
        """Data tests sync-sources registers: (test, arguments) per table and column."""
        key = unit_key(self.plan)
        return {feature_table(self.plan): {key: [
            ("unique", None), ("not_null", None), ("relationships", {"to": ref(unit_table(self.plan)), "field": key})]}}

    def observe(self, chunk: dict[str, pa.Table]) -> dict[str, pa.Table]:
        plan = self.plan
        key = unit_key(plan)
        table, shared = self.event
        if table in chunk:
            rows = chunk[table]
            if shared:
                rows = rows.filter(pc.equal(rows.column("event_type"), plan.spec.features.label.event))
            period = self.periods.of(rows.column("date_key"))
            inside = (period >= self.cutoff) & (period < self.cutoff + self.within)
            self.labelled = np.union1d(self.labelled, rows.column(key).to_numpy()[inside])
        if unit_table(plan) not in chunk:
            return {}
        units = chunk[unit_table(plan)]
        ids = units.column(key).to_numpy()
        columns = {key: ids, "segment": units.column("segment")}
        for name in plan.metric_names:
            fact = chunk[self.fact_of[name]]
            columns.update(self._metric(name, ids, fact.column(key).to_numpy(),
                                        self.periods.of(fact.column("date_key")), fact.column(name)))
        columns["label"] = np.isin(ids, self.labelled)
        self.labelled = self.labelled[~np.isin(self.labelled, ids)]
        out = pa.Table.from_pydict(columns, schema=self.schemas()[feature_table(plan)])
        return {feature_table(plan): out.filter(self._active(units))}

    def _active(self, units: pa.Table) -> np.ndarray:
        """Entities active at the cutoff: arrived before it, not ended before it."""
        kept = np.ones(units.num_rows, dtype=bool)
        if "first_date_key" in units.column_names:
            kept &= self.periods.of(units.column("first_date_key")) < self.cutoff
        if "ended_date_key" in units.column_names:
            ended = units.column("ended_date_key")
            known = pc.fill_null(ended, int(self.keys[-1])).to_numpy()
            kept &= pc.is_null(ended).to_numpy(zero_copy_only=False) | (np.searchsorted(self.keys, known) >= self.cutoff)
        return kept

    def _metric(self, name: str, ids: np.ndarray, rows: np.ndarray, period: np.ndarray, column) -> dict:
        """One metric's feature columns for the chunk's entities `ids` from its fact rows before the cutoff."""
        use = pc.is_valid(column).to_numpy(zero_copy_only=False) & (period < self.cutoff)
        y = column.to_numpy(zero_copy_only=False)[use].astype(np.float64)
        at = positions(ids, rows[use], f"fact rows of {name}")
        t = period[use].astype(np.float64)
        size = len(ids)
        n, st, stt, sy, sty = (np.bincount(at, weights, minlength=size) for weights in (None, t, t * t, y, t * y))
        last = np.full(size, np.nan)
        if at.size:  # the latest value per entity: the last of its rows by period (rows come in that order)
            cell = at * self.plan.periods + period[use]
            if not np.all(cell[1:] > cell[:-1]):
                order = np.argsort(cell, kind="stable")
                at, y = at[order], y[order]
            final = np.append(at[1:] != at[:-1], True)
            last[at[final]] = y[final]
        spread = n * stt - st * st
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = sy / n
            slope = (n * sty - st * sy) / spread
        return {f"{name}_mean": pa.array(mean, mask=n == 0), f"{name}_last": pa.array(last, mask=n == 0),
                f"{name}_slope": pa.array(slope, mask=(n < 2) | (spread <= 0)), f"{name}_periods": n.astype(np.int64)}

    def finish(self) -> dict[str, pa.Table]:
        return {}
