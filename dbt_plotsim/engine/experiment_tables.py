"""The tables of the A/B experiments: each taking-part entity's variant, and the known answer (the declared
lift beside the difference-in-differences the clean rows deliver), written through the derived-table hook."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .block_sums import BlockOrder, add_by_block
from .calendar import date_keys
from .clock import last_period
from .experiments import start_period, treated
from .row_index import Periods, positions
from .tables import _field, unit_key, unit_table

TRUTH_TABLE = "_plotsim_truth_experiments"


def experiment_table(plan) -> str:
    return f"dim_{plan.spec.unit}_experiment"


def experiment_tables(plan, loaded: dict[str, pa.Schema]):
    """The derived-table factory (derived.py): None without experiments."""
    return ExperimentTables(plan) if plan.spec.experiments else None


class ExperimentTables:
    """dim_<unit>_experiment (each taking-part entity's variant) with every chunk, and the truth table (the
    difference-in-differences measured on the clean rows) once all chunks have passed.

    An entity's dim row and fact rows come in one chunk, so each chunk's fact rows find their group there;
    the sums are added block by block in block order (block_sums.py), so the truth is the same to the bit
    whatever the chunking."""

    def __init__(self, plan):
        self.plan = plan
        self.keys = date_keys(plan.starts)
        self.periods = Periods(self.keys)
        self.blocks = BlockOrder(plan)
        count = len(plan.spec.experiments)
        self.sums = np.zeros((count, 4))  # treated pre, treated post, control pre, post: added block by block
        self.counts = np.zeros((count, 4), dtype=np.int64)
        self.entities = np.zeros((count, 2), dtype=np.int64)  # treated, control

    def schemas(self) -> dict[str, pa.Schema]:
        plan = self.plan
        unit, key, grain = plan.spec.unit, unit_key(plan), plan.spec.window.grain
        names = ", ".join(e.name for e in plan.spec.experiments)
        return {
            experiment_table(plan): pa.schema([
                _field(key, pa.int64(), f"Foreign key to {unit_table(plan)}.", nullable=False),
                _field("experiment", pa.string(), f"The experiment: {names}.", nullable=False),
                _field("variant", pa.string(), "treatment (its metric lifted from the start on) or control.",
                       nullable=False),
                _field("assigned_date_key", pa.int32(), f"Foreign key to dim_date: the {grain} the {unit} entered "
                       "the experiment (its start, or the arrival of a later one).", nullable=False),
            ], metadata={"description": f"One row per {unit} taking part in an experiment and experiment, once it "
                                        "has been assigned: which variant it is in."}),
            TRUTH_TABLE: pa.schema([
                _field("experiment", pa.string(), "The experiment.", nullable=False),
                _field("metric", pa.string(), "The metric the treatment lifts.", nullable=False),
                _field("lift_kind", pa.string(), "relative (values x (1 + lift)) or absolute (values + lift).",
                       nullable=False),
                _field("declared_lift", pa.float64(), "The lift the spec declares.", nullable=False),
                _field("start_date_key", pa.int32(), "Foreign key to dim_date: the first treated period.",
                       nullable=False),
                _field("treated_entities", pa.int64(), "Entities in the treatment group.", nullable=False),
                _field("control_entities", pa.int64(), "Entities in the control group.", nullable=False),
                _field("treated_pre_mean", pa.float64(), "Mean of the metric over the treated rows before the start."),
                _field("treated_post_mean", pa.float64(), "Mean of the metric over the treated rows from the start on."),
                _field("control_pre_mean", pa.float64(), "Mean of the metric over the control rows before the start."),
                _field("control_post_mean", pa.float64(), "Mean of the metric over the control rows from the start on."),
                _field("delivered_lift", pa.float64(), "The difference-in-differences of those means: relative "
                       "(post_t / pre_t) / (post_c / pre_c) - 1, absolute (post_t - pre_t) - (post_c - pre_c); "
                       "null until both groups have rows before and after the start."),
            ], metadata={"description": "Known answer of every experiment: the declared lift and the one the "
                                        "clean rows deliver (rows as generated, before defects)."}),
        }

    def row_estimate(self) -> dict[str, int]:
        """Rows at most: every entity of a taking-part segment, per experiment."""
        plan = self.plan
        taking = sum(seg.count for e in plan.spec.experiments for seg in plan.segments
                     if e.segments is None or seg.name in e.segments)
        return {experiment_table(plan): taking, TRUTH_TABLE: len(plan.spec.experiments)}

    def tests(self, ref) -> dict[str, dict[str, list[tuple[str, dict | None]]]]:
        """Data tests sync-sources registers: (test, arguments) per table and column."""
        plan = self.plan
        key, names = unit_key(plan), [e.name for e in plan.spec.experiments]
        return {
            experiment_table(plan): {
                key: [("not_null", None), ("relationships", {"to": ref(unit_table(plan)), "field": key})],
                "experiment": [("accepted_values", {"values": names})],
                "variant": [("accepted_values", {"values": ["treatment", "control"]})],
                "assigned_date_key": [("relationships", {"to": ref("dim_date"), "field": "date_key"})],
            },
            TRUTH_TABLE: {"experiment": [("unique", None), ("not_null", None)]},
        }

    def observe(self, chunk: dict[str, pa.Table]) -> dict[str, pa.Table]:
        plan = self.plan
        if unit_table(plan) not in chunk:
            return {}
        table, ids, groups = self._assign(chunk[unit_table(plan)])
        for e, experiment in enumerate(plan.spec.experiments):
            m = plan.metric_names.index(experiment.metric)
            fact = next(f.name for f in plan.facts if m in f.metrics)
            if fact in chunk:
                self._accumulate(e, chunk[fact], experiment.metric, start_period(plan, experiment), ids, groups[e])
        return {experiment_table(plan): table}

    def _assign(self, units: pa.Table):
        """The variants of a chunk's entities, ordered by entity then experiment (so chunking changes nothing),
        with the entities' ids and, per experiment, their group (0 not taking part, 1 treated, 2 control)."""
        plan = self.plan
        ids = units.column(unit_key(plan)).to_numpy()
        segments = units.column("segment").to_numpy(zero_copy_only=False)
        arrival = np.zeros(len(ids), dtype=np.int64)
        if "first_date_key" in units.column_names:
            arrival = np.searchsorted(self.keys, units.column("first_date_key").to_numpy())
        ended = np.full(len(ids), plan.periods, dtype=np.int64)
        if "ended_date_key" in units.column_names:
            column = units.column("ended_date_key")
            known = pc.fill_null(column, int(self.keys[-1]) + 1).to_numpy()
            ended = np.where(pc.is_null(column).to_numpy(zero_copy_only=False), plan.periods,
                             np.searchsorted(self.keys, known))
        parts, groups = [], np.zeros((len(plan.spec.experiments), len(ids)), dtype=np.int8)
        for e, experiment in enumerate(plan.spec.experiments):
            start = start_period(plan, experiment)
            assigned = np.maximum(arrival, start)
            taking = (ended >= start) & (assigned <= last_period(plan))  # alive at the start, assigned by as_of
            if experiment.segments is not None:
                taking &= np.isin(segments, list(experiment.segments))
            rows = np.nonzero(taking)[0]
            chosen = treated(plan, experiment, ids[rows])
            groups[e, rows] = np.where(chosen, 1, 2)
            self.entities[e] += (int(chosen.sum()), int((~chosen).sum()))
            parts.append((rows, np.full(len(rows), e), chosen, assigned[rows]))
        rows, kind, chosen, assigned = (np.concatenate(p) for p in zip(*parts))
        order = np.lexsort((kind, rows))
        names = np.array([x.name for x in plan.spec.experiments], dtype=object)
        table = pa.Table.from_pydict({
            unit_key(plan): ids[rows[order]],
            "experiment": names[kind[order]],
            "variant": np.where(chosen[order], "treatment", "control").astype(object),
            "assigned_date_key": self.keys[assigned[order]],
        }, schema=self.schemas()[experiment_table(plan)])
        return table, ids, groups

    def _accumulate(self, e: int, fact: pa.Table, metric: str, start: int, ids: np.ndarray,
                    groups: np.ndarray) -> None:
        """Per block of entities, the sums of the metric's non-null values in the 4 cells (group x side)."""
        values = fact.column(metric)
        present = pc.is_valid(values).to_numpy(zero_copy_only=False)
        rows = fact.column(unit_key(self.plan)).to_numpy()[present]
        if rows.size == 0:
            return
        at = positions(ids, rows, f"fact rows of {metric}")
        group = groups[at].astype(np.int64)
        post = self.periods.of(fact.column("date_key"))[present] >= start
        mine = group > 0
        cell = ((group - 1) * 2 + post)[mine]
        x = values.filter(pc.is_valid(values)).to_numpy().astype(np.float64)[mine]
        if not mine.any():
            return
        block = self.blocks.block(ids)[at[mine]]  # per entity, then per row
        self.sums[e] = add_by_block(self.sums[e], block, cell, x)
        self.counts[e] += np.bincount(cell, minlength=4)

    def finish(self) -> dict[str, pa.Table]:
        plan = self.plan
        rows = {name: [] for name in self.schemas()[TRUTH_TABLE].names}
        names = ("treated_pre", "treated_post", "control_pre", "control_post")
        for e, experiment in enumerate(plan.spec.experiments):
            means = {name: float(self.sums[e, c]) / self.counts[e, c] if self.counts[e, c] else None
                     for c, name in enumerate(names)}
            rows["experiment"].append(experiment.name)
            rows["metric"].append(experiment.metric)
            rows["lift_kind"].append(experiment.lift_kind)
            rows["declared_lift"].append(float(experiment.lift))
            rows["start_date_key"].append(int(self.keys[start_period(plan, experiment)]))
            rows["treated_entities"].append(int(self.entities[e, 0]))
            rows["control_entities"].append(int(self.entities[e, 1]))
            for name, value in means.items():
                rows[f"{name}_mean"].append(value)
            rows["delivered_lift"].append(difference_in_differences(experiment.lift_kind, **means))
        return {TRUTH_TABLE: pa.Table.from_pydict(rows, schema=self.schemas()[TRUTH_TABLE])}


def difference_in_differences(kind: str, treated_pre, treated_post, control_pre, control_post) -> float | None:
    if None in (treated_pre, treated_post, control_pre, control_post):
        return None
    if kind == "absolute":
        return (treated_post - treated_pre) - (control_post - control_pre)
    if treated_pre == 0 or control_pre == 0 or control_post == 0:
        return None
    return (treated_post / treated_pre) / (control_post / control_pre) - 1.0
