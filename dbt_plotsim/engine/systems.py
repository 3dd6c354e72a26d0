"""Source systems (spec/systems.py): the unit's entities as each system holds them, and the crosswalk.

Derived from the dim_<unit> chunk after the clock (pipeline.Generation.chunks), so an entity is in a system's
table once it has arrived, and an append rewrites the system tables like dim_<unit>.

Membership: every entity has one hashed uniform u; the systems' shares are laid one after another around a
circle of circumference 1 in declared order, system i holding [c_i, c_i + s_i) mod 1 (c_i the shares before
it); an entity is in every system whose arc covers u. So each system holds its share, every entity is in
floor(S) or ceil(S) systems (S the sum of the shares, at least 1), and two systems overlap on the length of
their arcs' intersection: s_1 + s_2 - 1 for two systems.

Per (system, entity, copy) hashes decide the rest: whether the entity has a second record (`duplicates`), each
carried value's drift (engine/drift.py), the record's key (record_keys.py) and its created_at, a moment in
the entity's arrival period (a duplicate's later than its first record). Rows come block by block (1,024
entities, as the engine draws them), shuffled within the block by a hash, so their order does not depend on
the chunking and does not follow the true ids; the crosswalk comes block by block, system by system.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import Problem
from ..spec.schema import dim_of
from ..spec.systems import CREATED_AT, DRIFT_KINDS, capacity_problems, carried_columns, system_key, system_table
from .calendar import date_keys
from .drift import drifted
from .fanout import field
from .hashing import hashed_uniform, hashed_words
from .record_keys import describe_key, key_type, record_keys
from .rng import ENTITY_BLOCK

CROSSWALK = "_plotsim_crosswalk"


def active(plan) -> bool:
    return bool(plan.spec.systems)


def _source_of(plan) -> dict[str, str]:
    """carried column -> the table holding it (dim_<unit>, or a declared 1:1 dimension)."""
    placed = dim_of(plan.spec)
    out = {f"{plan.spec.unit}_code": f"dim_{plan.spec.unit}"}
    for attr in plan.spec.attributes:
        out[attr.column] = placed.get(attr.name, f"dim_{plan.spec.unit}")
    return out


def schemas(plan, layouts: dict[str, pa.Schema]) -> dict[str, pa.Schema]:
    """src_<system>_<unit> per system, then the crosswalk."""
    spec = plan.spec
    unit = spec.unit
    source = _source_of(plan)
    out: dict[str, pa.Schema] = {}
    for name, system in spec.systems.items():
        fields = [field(system_key(name, unit), key_type(system), describe_key(name, system, plan.entity_count, unit))]
        for column in system.columns:
            truth = layouts[source[column]].field(column)
            text = (truth.metadata or {}).get(b"description", b"").decode().rstrip(".")
            note = f"As {name} holds it: {source[column]}.{column}" + (f" ({text})" if text else "")
            drift = system.drift.get(column)
            if drift is not None:
                kinds = drift.kinds or DRIFT_KINDS[carried_columns(spec)[column]]
                note += (f"; about {drift.rate:.0%} of rows differ from it ({', '.join(kinds)}), the rest equal it")
            kind = pa.string() if drift is not None else truth.type
            fields.append(field(column, kind, note + ".", nullable=True))
        fields.append(field(CREATED_AT, pa.timestamp("s"), f"When the record was created in {name}: a moment in the "
                            f"{spec.window.grain} the {unit} arrived; a duplicate record's is later than the first's."))
        description = (f"The {unit}s as system {name} holds them: about {system.share:.0%} of dim_{unit}, keyed by "
                       f"{system_key(name, unit)}")
        if system.duplicates:
            description += f"; about {system.duplicates:.0%} of them have a second record (a duplicate to find)"
        out[system_table(name, unit)] = pa.schema(fields, metadata={"description": description + (
            f". No {unit}_id: _plotsim_crosswalk maps every record to its {unit}.")})
    out[CROSSWALK] = pa.schema([
        field("system", pa.string(), f"The source system of the record: {', '.join(spec.systems)}."),
        field("system_key", pa.string(), f"The record's key in its system (<system>_{unit}_id of src_<system>_{unit}), "
              "as text."),
        field(f"{unit}_id", pa.int64(), f"Ground truth: the {unit} the record is; foreign key to dim_{unit}."),
        field("is_duplicate", pa.bool_(), f"True for the second record of one {unit} in the same system (a duplicate); "
              "false for its first."),
    ], metadata={"description": (
        f"Ground truth of entity resolution: one row per record of every src_<system>_{unit} table, with the "
        f"{unit} it is. Records of the same {unit}_id are the same {unit}, across systems and within one.")})
    return out


def check(plan, layouts: dict[str, pa.Schema]) -> list[Problem]:
    """Key widths for the entity count (after `scale`) and defects declared on system tables."""
    spec = plan.spec
    problems = capacity_problems(spec, plan.entity_count)
    for name, system in spec.systems.items():
        table = system_table(name, spec.unit)
        if table in spec.defects.tables and system.key.scheme != "numeric":
            problems.append(Problem(f"defects.tables.{table}", f"defects name a row by an integer key; {table} is "
                                    f"keyed by {system.key.scheme} text: use key scheme numeric for {name}"))
    return problems


def membership(plan, ids: np.ndarray) -> np.ndarray:
    """(systems, n) bool: which systems hold each entity (the arcs of the module's docstring)."""
    u = hashed_uniform(plan.spec.seed, ("systems", "membership"), ids)
    start = 0.0
    rows = []
    for system in plan.spec.systems.values():
        rows.append(np.mod(u - start, 1.0) < system.share)
        start = (start + system.share) % 1.0
    held = np.array(rows).reshape(len(rows), len(ids))
    held[0] |= ~held.any(axis=0)  # only a rounding gap (shares adding up to 1 in floating point) leaves one out
    return held


def _blocks(plan, ids: np.ndarray) -> np.ndarray:
    """The engine's block of each entity (blocks of ENTITY_BLOCK within each segment)."""
    firsts = np.array([seg.first_id + ENTITY_BLOCK * b for seg in plan.segments for b in range(seg.blocks)])
    return np.searchsorted(firsts, ids, side="right") - 1


def _aligned(chunk: dict[str, pa.Table], table: str, key: str, ids: np.ndarray, column: str) -> pa.Array:
    """`column` of `table` in the order of `ids` (a declared 1:1 dimension may be in another order)."""
    rows = chunk[table]
    values = rows[column].combine_chunks()
    own = rows[key].to_numpy()
    if len(own) == len(ids) and np.array_equal(own, ids):
        return values
    order = np.argsort(own, kind="stable")
    where = order[np.minimum(np.searchsorted(own[order], ids), max(len(own) - 1, 0))]
    return values.take(pa.array(where))


def _created(plan, name: str, dim: pa.Table, at: np.ndarray, entity: np.ndarray, copy: np.ndarray) -> pa.Array:
    """A moment in the arrival period of each record's entity; a duplicate (copy 1) later than its first."""
    seed = plan.spec.seed
    if "first_date_key" in dim.column_names:
        period = np.searchsorted(date_keys(plan.starts), dim["first_date_key"].to_numpy()[at])
    else:
        period = np.zeros(len(at), dtype=np.int64)
    start = plan.starts[period].astype("datetime64[s]").astype(np.int64)
    length = plan.period_days[period] * 86400
    first = np.floor(hashed_uniform(seed, ("systems", name, "created"), entity, np.zeros_like(copy)) * (length - 1))
    later = np.floor(hashed_uniform(seed, ("systems", name, "created"), entity, copy) * (length - 1 - first))
    seconds = start + first.astype(np.int64) + np.where(copy == 1, 1 + later.astype(np.int64), 0)
    return pa.array(seconds.astype("datetime64[s]"), pa.timestamp("s"))


def with_systems(plan, chunk: dict[str, pa.Table], layouts: dict[str, pa.Schema]) -> dict[str, pa.Table]:
    """The chunk with its system tables and crosswalk rows, from its dim_<unit> rows (none without them)."""
    spec = plan.spec
    unit = spec.unit
    dim_name, key = f"dim_{unit}", f"{unit}_id"
    if dim_name not in chunk:
        return chunk
    out = dict(chunk)
    dim = chunk[dim_name]
    ids = dim[key].to_numpy().astype(np.int64)
    blocks = _blocks(plan, ids)
    held = membership(plan, ids)
    source = _source_of(plan)
    walk: list[tuple] = []
    for number, (name, system) in enumerate(spec.systems.items()):
        mine = np.flatnonzero(held[number])
        twice = mine[hashed_uniform(spec.seed, ("systems", name, "duplicate"), ids[mine]) < system.duplicates]
        at = np.concatenate([mine, twice])  # the dim row of each record
        copy = np.concatenate([np.zeros(len(mine), np.int64), np.ones(len(twice), np.int64)])
        shuffle = hashed_words(spec.seed, ("systems", name, "order"), ids[at], copy)
        order = np.lexsort((copy, ids[at], shuffle, blocks[at]))
        at, copy = at[order], copy[order]
        entity = ids[at]
        table = system_table(name, unit)
        schema = layouts[table]
        columns = [record_keys(spec.seed, name, system, entity, copy, plan.entity_count)]
        for column in system.columns:
            values = _aligned(chunk, source[column], key, ids, column).take(pa.array(at))
            drift = system.drift.get(column)
            if drift is not None:
                values = _drifted(spec, name, column, drift, values, entity, copy)
            columns.append(values.cast(schema.field(column).type))
        columns.append(_created(plan, name, dim, at, entity, copy))
        out[table] = pa.Table.from_arrays(columns, schema=schema)
        walk.append((number, blocks[at], name, columns[0], entity, copy))
    out[CROSSWALK] = _crosswalk(walk, layouts[CROSSWALK])
    return out


def _drifted(spec, name: str, column: str, drift, values: pa.Array, entity: np.ndarray, copy: np.ndarray) -> pa.Array:
    u = hashed_uniform(spec.seed, ("systems", name, "drift", column), entity, copy)
    hit = (u < drift.rate) & np.asarray(values.is_valid(), dtype=bool)
    text = values.cast(pa.string())
    if not hit.any():
        return text
    where = np.flatnonzero(hit)
    how = hashed_uniform(spec.seed, ("systems", name, "drift-how", column), entity[where], copy[where])
    kinds = drift.kinds or DRIFT_KINDS[carried_columns(spec)[column]]
    changed = drifted(text.take(pa.array(where)), tuple(kinds), u[where] / drift.rate, how)
    mask = np.zeros(len(text), dtype=bool)
    mask[where] = True
    return pc.replace_with_mask(text, pa.array(mask), changed)


def _crosswalk(walk: list[tuple], schema: pa.Schema) -> pa.Table:
    """Block by block, then system by system, each system's records in its table's order."""
    if not walk:
        return schema.empty_table()
    system = np.concatenate([np.full(len(w[4]), w[0]) for w in walk])
    block = np.concatenate([w[1] for w in walk])
    order = np.lexsort((np.arange(len(system)), system, block))
    table = pa.table({
        "system": pa.array(np.concatenate([np.full(len(w[4]), w[2], dtype=object) for w in walk]), pa.string()),
        "system_key": pa.concat_arrays([w[3].cast(pa.string()) for w in walk]),
        schema.names[2]: pa.array(np.concatenate([w[4] for w in walk]), pa.int64()),
        "is_duplicate": pa.array(np.concatenate([w[5] for w in walk]) == 1),
    })
    return table.take(pa.array(order)).cast(schema)


def row_estimate(plan) -> dict[str, float]:
    n = plan.entity_count
    out = {system_table(name, plan.spec.unit): n * s.share * (1 + s.duplicates)
           for name, s in plan.spec.systems.items()}
    out[CROSSWALK] = sum(out.values())
    return out


def tests(plan, ref) -> dict[str, dict[str, list[tuple[str, dict | None]]]]:
    """Data tests for sync-sources: each system key unique and not null; the crosswalk's keys unique per system
    and its entities in dim_<unit>."""
    spec = plan.spec
    unit = spec.unit
    out: dict[str, dict[str, list]] = {}
    for name in spec.systems:
        out[system_table(name, unit)] = {system_key(name, unit): [("unique", None), ("not_null", None)]}
    out[CROSSWALK] = {
        "": [("dbt_plotsim.unique_combination", {"columns": ["system", "system_key"]})],
        "system": [("not_null", None), ("accepted_values", {"values": list(spec.systems)})],
        "system_key": [("not_null", None)],
        "is_duplicate": [("not_null", None)],
        f"{unit}_id": [("not_null", None), ("relationships", {"to": ref(f"dim_{unit}"), "field": f"{unit}_id"})],
    }
    return out
