"""Bridge tables (component): many-to-many rows between the unit and a reference table.

An entity's member count follows its trajectory like a sub-entity count that never falls
(`children.parent_counts`); its final value k picks k distinct rows of the reference table, weighted, by
the Gumbel top-k trick (one vectorized argsort per block). The r-th member is added in the first period
the count exceeded r, and each member carries allocation 1/k, the weighting factor that spreads an
entity's measure over its members without double counting.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..spec.attributes import label_weights
from .block import BlockValues
from .calendar import date_keys
from .children import parent_counts
from .components import Component
from .estimates import mean_position
from .clock import TableClock
from .fanout import block_stream, field


def block_members(plan, bridge, table, block: BlockValues) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(entity index, reference row index, added period, members of the entity) per row, in output order."""
    held = parent_counts(plan, bridge.per_entity, block)  # (n, P), never falling
    final = held[:, -1]
    n, periods = held.shape
    with np.errstate(divide="ignore"):
        log_weight = np.log(label_weights(bridge.weights, table))
    gumbel = block_stream(plan, block, "bridges", bridge.table(plan.spec.unit), "members").gumbel(size=(n, log_weight.size))
    ranked = np.argsort(-(log_weight[None, :] + gumbel), axis=1, kind="stable")
    entity = np.repeat(np.arange(n), final)
    rank = np.arange(entity.size) - np.repeat(np.cumsum(final) - final, final)
    member = ranked[entity, rank]
    # periods with a count <= rank come before the member's addition; held rows are sorted, so count them
    # on one flat sorted key (entity offsets keep rows apart)
    stride = int(final.max(initial=0)) + 1
    flat = (np.arange(n)[:, None] * stride + held).ravel()
    added = np.searchsorted(flat, entity * stride + rank, side="right") - entity * periods
    return entity, member, added, final


class BridgesComponent(Component):
    def active(self, plan) -> bool:
        return bool(getattr(plan.spec.tables, "bridges", ()))

    def clock(self, plan) -> dict:
        return {bridge.table(plan.spec.unit): TableClock(period="added_date_key") for bridge in plan.spec.tables.bridges}

    def _tables(self, plan):
        reference = {t.name: t for t in plan.spec.reference}
        return [(bridge, reference[bridge.reference]) for bridge in plan.spec.tables.bridges]

    def schemas(self, plan) -> dict[str, pa.Schema]:
        unit, grain = plan.spec.unit, plan.spec.window.grain
        out = {}
        for bridge, table in self._tables(plan):
            low, high = bridge.per_entity.min, bridge.per_entity.max
            chosen = "weighted by the declared weights" if bridge.weights is not None else "equally likely"
            where = "higher" if bridge.per_entity.polarity == "positive" else "lower"
            out[bridge.table(unit)] = pa.schema([
                field(f"{unit}_id", pa.int64(), f"Foreign key to dim_{unit}."),
                field(table.key, pa.int64(), f"Foreign key to dim_{table.name}."),
                field("allocation", pa.float64(), (f"1 / the {unit}'s number of {table.name} members: the weighting "
                                                   f"factor that spreads a {unit}'s measure over its members; "
                                                   f"adds up to 1 per {unit}.")),
                field("added_date_key", pa.int32(), (f"Foreign key to dim_date: the {grain} the {table.name} was "
                                                     f"added, within the {unit}'s life.")),
            ], metadata={"description": bridge.description or (
                f"Bridge between dim_{unit} and dim_{table.name}: one row per {unit} and {table.name}. "
                f"Each {unit} has {low} to {high} distinct {table.name}s ({chosen}), more where its trajectory is "
                f"{where}; members are added over time and never removed.")})
        return out

    def chunk_tables(self, plan, blocks, schemas, counters) -> dict[str, pa.Table]:
        keys = date_keys(plan.starts)
        out = {}
        for bridge, table in self._tables(plan):
            parts = [(b, block_members(plan, bridge, table, b)) for b in blocks]
            name = bridge.table(plan.spec.unit)
            out[name] = pa.Table.from_arrays([
                pa.array(np.concatenate([b.ids[e] for b, (e, _, _, _) in parts])),
                pa.array(np.concatenate([m + 1 for _, (_, m, _, _) in parts]).astype(np.int64)),
                pa.array(np.concatenate([1.0 / k[e] for _, (e, _, _, k) in parts])),
                pa.array(keys[np.concatenate([a for _, (_, _, a, _) in parts])]),
            ], schema=schemas[name])
        return out

    def row_estimate(self, plan, cells):
        out = {}
        for bridge in plan.spec.tables.bridges:
            members = bridge.per_entity
            position = mean_position(plan) if members.polarity == "positive" else 1.0 - mean_position(plan)
            out[bridge.table(plan.spec.unit)] = plan.entity_count * (members.min + (members.max - members.min) * position)
        return out

    def tests(self, plan, ref) -> dict[str, dict[str, list]]:
        from .fanout import uses_lifetime

        unit = plan.spec.unit
        key, dim = f"{unit}_id", f"dim_{unit}"
        lifetime = uses_lifetime(plan)
        out = {}
        for bridge, table in self._tables(plan):
            columns = {
                key: [("not_null", None), ("relationships", {"to": ref(dim), "field": key})],
                table.key: [("not_null", None), ("relationships", {"to": ref(f"dim_{table.name}"), "field": table.key})],
                "allocation": [("not_null", None), ("dbt_plotsim.sums_to", {"group_by": key, "total": 1,
                                                                            "tolerance": 1e-9})],
                "added_date_key": [("not_null", None), ("relationships", {"to": ref("dim_date"), "field": "date_key"})],
                "": [("dbt_plotsim.unique_combination", {"columns": [key, table.key]})],
            }
            if lifetime:
                columns[""].append(("dbt_plotsim.within_lifetime", {"entity": key, "entity_model": ref(dim),
                                                                    **lifetime, "period": "added_date_key"}))
            out[bridge.table(unit)] = columns
        return out
