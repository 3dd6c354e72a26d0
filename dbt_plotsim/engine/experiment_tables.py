"""The tables of the A/B experiments: each taking-part entity's variant, and the known answer (the declared
lift beside the difference-in-differences the clean rows deliver), written through the derived-table hook."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .calendar import date_keys
from .clock import last_period
from .experiments import start_period, treated
from .tables import _field, unit_key, unit_table

TRUTH_TABLE = "_plotsim_truth_experiments"


def experiment_table(plan) -> str:
    return f"dim_{plan.spec.unit}_experiment"


def experiment_tables(plan, loaded: dict[str, pa.Schema]):
    """The derived-table factory (derived.py): None without experiments."""
    return ExperimentTables(plan) if plan.spec.experiments else None


class ExperimentTables:
    """dim_<unit>_experiment (each taking-part entity's variant) with every chunk, and the truth table (the
    difference-in-differences measured on the clean rows) once all chunks have passed."""

    def __init__(self, plan):
        self.plan = plan
        self.keys = date_keys(plan.starts)
        size = max(seg.first_id + seg.count for seg in plan.segments) + 1
        # per experiment, per entity id: group (0 not taking part, 1 treated, 2 control) and metric sums
        self.group = np.zeros((len(plan.spec.experiments), size), dtype=np.int8)
        self.sums = np.zeros((len(plan.spec.experiments), 2, size))  # [pre, post]
        self.counts = np.zeros((len(plan.spec.experiments), 2, size), dtype=np.int64)

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
        out = {}
        if unit_table(plan) in chunk:
            out[experiment_table(plan)] = self._assign(chunk[unit_table(plan)])
        for e, experiment in enumerate(plan.spec.experiments):
            m = plan.metric_names.index(experiment.metric)
            fact = next(f.name for f in plan.facts if m in f.metrics)
            if fact in chunk:
                self._accumulate(e, chunk[fact], experiment.metric, start_period(plan, experiment))
        return out

    def _assign(self, units: pa.Table) -> pa.Table:
        """The variants of a chunk's entities, ordered by entity then experiment (so chunking changes nothing)."""
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
        parts = []
        for e, experiment in enumerate(plan.spec.experiments):
            start = start_period(plan, experiment)
            assigned = np.maximum(arrival, start)
            taking = (ended >= start) & (assigned <= last_period(plan))  # alive at the start, assigned by as_of
            if experiment.segments is not None:
                taking &= np.isin(segments, list(experiment.segments))
            rows = np.nonzero(taking)[0]
            chosen = treated(plan, experiment, ids[rows])
            self.group[e, ids[rows]] = np.where(chosen, 1, 2)
            parts.append((rows, np.full(len(rows), e), chosen, assigned[rows]))
        rows, kind, chosen, assigned = (np.concatenate(p) for p in zip(*parts))
        order = np.lexsort((kind, rows))
        names = np.array([x.name for x in plan.spec.experiments], dtype=object)
        return pa.Table.from_pydict({
            unit_key(plan): ids[rows[order]],
            "experiment": names[kind[order]],
            "variant": np.where(chosen[order], "treatment", "control").astype(object),
            "assigned_date_key": self.keys[assigned[order]],
        }, schema=self.schemas()[experiment_table(plan)])

    def _accumulate(self, e: int, fact: pa.Table, metric: str, start: int) -> None:
        """Per entity, the sums and counts of the metric's non-null values before and from the start."""
        values = fact.column(metric)
        present = pc.is_valid(values).to_numpy(zero_copy_only=False)
        if not present.any():
            return
        ids = fact.column(unit_key(self.plan)).to_numpy()[present]
        post = (np.searchsorted(self.keys, fact.column("date_key").to_numpy()[present]) >= start).astype(np.int64)
        x = values.filter(pc.is_valid(values)).to_numpy().astype(np.float64)
        low = int(ids.min())
        span = int(ids.max()) - low + 1
        for side in (0, 1):
            mine = post == side
            self.sums[e, side, low:low + span] += np.bincount(ids[mine] - low, x[mine], minlength=span)
            self.counts[e, side, low:low + span] += np.bincount(ids[mine] - low, minlength=span)

    def finish(self) -> dict[str, pa.Table]:
        plan = self.plan
        rows = {name: [] for name in self.schemas()[TRUTH_TABLE].names}
        for e, experiment in enumerate(plan.spec.experiments):
            means = {}
            for g, label in ((1, "treated"), (2, "control")):
                mine = self.group[e] == g
                for side, when in ((0, "pre"), (1, "post")):
                    count = int(self.counts[e, side, mine].sum())
                    means[f"{label}_{when}_mean"] = float(self.sums[e, side, mine].sum()) / count if count else None
            rows["experiment"].append(experiment.name)
            rows["metric"].append(experiment.metric)
            rows["lift_kind"].append(experiment.lift_kind)
            rows["declared_lift"].append(float(experiment.lift))
            rows["start_date_key"].append(int(self.keys[start_period(plan, experiment)]))
            rows["treated_entities"].append(int((self.group[e] == 1).sum()))
            rows["control_entities"].append(int((self.group[e] == 2).sum()))
            for name, value in means.items():
                rows[name].append(value)
            rows["delivered_lift"].append(difference_in_differences(experiment.lift_kind, **{
                k.replace("_mean", ""): v for k, v in means.items()}))
        return {TRUTH_TABLE: pa.Table.from_pydict(rows, schema=self.schemas()[TRUTH_TABLE])}


def difference_in_differences(kind: str, treated_pre, treated_post, control_pre, control_post) -> float | None:
    if None in (treated_pre, treated_post, control_pre, control_post):
        return None
    if kind == "absolute":
        return (treated_post - treated_pre) - (control_post - control_pre)
    if treated_pre == 0 or control_pre == 0 or control_post == 0:
        return None
    return (treated_post / treated_pre) / (control_post / control_pre) - 1.0
