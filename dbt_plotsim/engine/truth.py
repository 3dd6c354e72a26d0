"""Truth tables: the figures of the rows a generation keeps, so a mart has known answers to be tested against.

`_plotsim_truth` holds, per period and segment (and over all segments), the active, arriving and ending
entities, every table's rows, each numeric column's sum, mean and non-null cells, and the entities in each
lifecycle stage; `truth_relations.py` adds the delivered correlations and lags. The figures are of the clean
rows as the clock shows them at `as_of` (before source systems and defects), accumulated chunk by chunk
(derived.py), so memory holds one figure grid, not the rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .block_sums import BlockOrder, add_by_block
from .calendar import date_keys
from .clock import last_period
from .exact_cents import SCALE
from .tables import static_names, unit_key, unit_table
from .truth_relations import RelationStats

TRUTH_TABLE = "_plotsim_truth"
ENTITY_MEASURES = ("active_entities", "arriving_entities", "ending_entities")

_DESCRIPTIONS = {
    "date_key": "Period (yyyymmdd of its start, as in dim_date); null: the whole window, for a table without date_key.",
    "segment": "Segment of the entities the figure is of; null: all segments.",
    "table_name": "Table the figure is of (dim_<unit> for entity counts).",
    "column_name": "Column the figure is of; null for counts of rows and entities.",
    "category": "Lifecycle stage of a stage count (measure entities); null otherwise.",
    "measure": ("active_entities, arriving_entities, ending_entities (of dim_<unit>), rows, sum, mean, "
                "non_null (non-null cells of the column), entities (in a stage) or total_factor (a declared "
                "total's factor on the period's values; for a normal metric, the offset added)."),
    "value": "The figure, computed from the rows written (sums of decimal amounts to the cent).",
}
_TYPES = {"date_key": pa.int32(), "value": pa.float64()}


TABLE_DESCRIPTION = (
    "Known answers: figures of the rows written (clean, as of the source's as_of date), per period and segment "
    "and over all segments, for testing marts against (dbt_plotsim.matches_truth).")


def truth_schema() -> pa.Schema:
    return pa.schema([pa.field(name, _TYPES.get(name, pa.string()), metadata={"description": text})
                      for name, text in _DESCRIPTIONS.items()], metadata={"description": TABLE_DESCRIPTION})


def truth_for(plan, loaded: dict[str, pa.Schema]):
    """The truth table set of a plan (derived.FACTORIES), or None with `tables: {truth: false}`."""
    return TruthTables(plan, loaded) if plan.spec.tables.truth else None


@dataclass(frozen=True)
class Measured:
    """What is counted of one table: its period and entity columns, numeric columns, stage column."""

    period: str | None
    entity: str | None
    numeric: tuple[str, ...]
    decimal: frozenset[str]
    stage: str | None


def measured_layout(name: str, schema: pa.Schema, entity: str, is_unit: bool, is_stage: bool) -> Measured:
    """Float columns are summed only in tables keyed by the entity (block_sums.py keeps those sums the same
    for any chunk size); integers and decimals are summed exactly everywhere."""
    names = schema.names
    keyed = entity in names
    numeric = tuple(f.name for f in schema if not is_unit and _is_measure(f)
                    and (keyed or not pa.types.is_floating(f.type)))
    decimal = frozenset(f.name for f in schema if f.name in numeric and pa.types.is_decimal(f.type))
    return Measured("date_key" if "date_key" in names else None, entity if entity in names else None, numeric,
                    decimal, "stage" if is_stage and "stage" in names else None)


def _is_measure(f: pa.Field) -> bool:
    """Numeric columns that carry a value, not a key, an ordinal or a bookkeeping column."""
    numeric = pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
    return numeric and not f.name.startswith("_") and not f.name.endswith(("_id", "_key", "_number"))


class Grid:
    """Figures on (period or whole window, segment or none): rows 0..P-1 the periods, P the whole window;
    columns 0..S-1 the segments, S rows whose entity is not known (a table without the entity key)."""

    def __init__(self, periods: int, segments: int):
        self.shape = (periods + 1, segments + 1)
        self.figures: dict[tuple, np.ndarray] = {}

    def add(self, key: tuple, cells: np.ndarray, weights: np.ndarray | None = None, exact: bool = True,
            blocks: np.ndarray | None = None) -> None:
        """Count (or sum `weights`) per cell: exactly as integers, or as floats added block by block."""
        size = self.shape[0] * self.shape[1]
        if exact:  # integer counts and cents: each chunk's sums are exact in float64, kept as integers
            counted = np.rint(np.bincount(cells, weights=weights, minlength=size)).astype(np.int64).reshape(self.shape)
            self.figures[key] = self.figures[key] + counted if key in self.figures else counted
            return
        total = self.figures.get(key, np.zeros(self.shape)).reshape(-1)
        self.figures[key] = add_by_block(total, blocks, cells, weights).reshape(self.shape)

    def get(self, key: tuple) -> np.ndarray:
        return self.figures.get(key, np.zeros(self.shape, dtype=np.int64))


class TruthTables:
    """The derived set writing `_plotsim_truth` and the delivered relations (truth_relations.py)."""

    def __init__(self, plan, loaded: dict[str, pa.Schema]):
        spec = plan.spec
        self.periods = last_period(plan) + 1
        self.keys = date_keys(plan.starts)[: self.periods]
        self.segments = [s.name for s in plan.segments]
        self.order = BlockOrder(plan)
        self.unit, entity = unit_table(plan), unit_key(plan)
        stage = spec.stages.table(spec.unit) if spec.stages is not None else None
        self.stages = list(spec.stages.states) if spec.stages is not None else []
        skipped = set(static_names(plan, loaded)) | {"dim_date"}
        self.ends = "ended_date_key" in loaded[self.unit].names  # ending_entities: only with an ending
        self.layouts = {name: measured_layout(name, schema, entity, name == self.unit, name == stage)
                        for name, schema in loaded.items() if name not in skipped}
        self.grid = Grid(self.periods, len(self.segments))
        self.seen: dict[str, bool] = {}  # table -> whether some rows had no date_key
        self.relations = RelationStats(plan, loaded, self.periods)
        self.factors = _total_factors(plan, self.layouts, self.periods)

    def schemas(self) -> dict[str, pa.Schema]:
        return {TRUTH_TABLE: truth_schema(), **self.relations.schemas()}

    def row_estimate(self) -> dict[str, int]:
        segments = len(self.segments) + 1
        rows = (len(ENTITY_MEASURES) - (0 if self.ends else 1)) * self.periods * segments
        for layout in self.layouts.values():
            figures = 1 + 3 * len(layout.numeric) + (len(self.stages) if layout.stage else 0)
            rows += figures * (self.periods if layout.period else 1) * (segments if layout.entity else 1)
        rows += len(self.factors) * self.periods
        return {TRUTH_TABLE: rows, **self.relations.row_estimate()}

    def observe(self, chunk: dict[str, pa.Table]) -> dict[str, pa.Table]:
        for name, table in chunk.items():
            layout = self.layouts.get(name)
            if layout is not None and table.num_rows:
                self._count(name, table, layout)
        self.relations.observe(chunk)
        return {}

    def _period_index(self, table: pa.Table, column: str | None) -> np.ndarray:
        """Each row's period (P for a null or absent date key)."""
        if column is None:
            return np.full(table.num_rows, self.periods, dtype=np.int64)
        keys = table.column(column).to_numpy(zero_copy_only=False)
        keys = np.where(np.isnan(keys), -1, keys).astype(np.int64) if keys.dtype.kind == "f" else keys.astype(np.int64)
        low, slots = self._key_slots
        offset = keys - low
        inside = (offset >= 0) & (offset < slots.size)
        found = slots[np.where(inside, offset, 0)]  # a gather, not a bisection per row
        known = inside & (found >= 0)
        if not np.array_equal(known, keys >= 0):
            raise ValueError(f"bug: {column} values outside the periods up to as_of reached the truth tables")
        return np.where(known, found, self.periods)

    @cached_property
    def _key_slots(self) -> tuple[int, np.ndarray]:
        """(first date key, each key from it to the last: its period, or -1 between periods)."""
        if self.periods == 0:
            return 0, np.full(1, -1, dtype=np.int64)
        low = int(self.keys[0])
        slots = np.full(int(self.keys[-1]) - low + 1, -1, dtype=np.int64)
        slots[self.keys.astype(np.int64) - low] = np.arange(self.periods)
        return low, slots

    def _segment_index(self, table: pa.Table, column: str | None) -> np.ndarray:
        if column is None:
            return np.full(table.num_rows, len(self.segments), dtype=np.int64)
        return self.order.segment(table.column(column).to_numpy(zero_copy_only=False).astype(np.int64))

    def _count(self, name: str, table: pa.Table, layout: Measured) -> None:
        period = self._period_index(table, layout.period)
        cells = period * self.grid.shape[1] + self._segment_index(table, layout.entity)
        self.seen[name] = self.seen.get(name, False) or bool((period == self.periods).any())
        self.grid.add((name, None, "rows", None), cells)
        if name == self.unit:
            self._entities(table, cells - period * self.grid.shape[1])
        blocks_of_rows = None  # each row's entity block, for float sums: found once per table
        for column in layout.numeric:
            values = table.column(column)
            valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
            exact = pa.types.is_integer(values.type) or column in layout.decimal
            numbers = pc.cast(values, pa.float64()).fill_null(0).to_numpy(zero_copy_only=False)
            if column in layout.decimal:  # in cents: sums exact to the cent
                numbers = np.rint(numbers * 100)
            self.grid.add((name, column, "non_null", None), cells[valid])
            if not exact and blocks_of_rows is None:
                blocks_of_rows = self.order.block(table.column(layout.entity).to_numpy(zero_copy_only=False)
                                                  .astype(np.int64))
            blocks = None if exact else blocks_of_rows[valid]
            self.grid.add((name, column, "sum", None), cells[valid], numbers[valid], exact=exact, blocks=blocks)
        if layout.stage is not None:
            stage = table.column(layout.stage).to_numpy(zero_copy_only=False)
            for index, state in enumerate(self.stages):
                self.grid.add((name, layout.stage, "entities", state), cells[stage == state])

    def _entities(self, table: pa.Table, segment: np.ndarray) -> None:
        """Arrivals and endings per period; active entities follow from them at the end."""
        width = self.grid.shape[1]
        first = (self._period_index(table, "first_date_key") if "first_date_key" in table.column_names
                 else np.zeros(table.num_rows, dtype=np.int64))
        self.grid.add((self.unit, None, "arriving_entities", None), first * width + segment)
        if "ended_date_key" in table.column_names:
            ended = self._period_index(table, "ended_date_key")
            self.grid.add((self.unit, None, "ending_entities", None), ended * width + segment)

    def finish(self) -> dict[str, pa.Table]:
        return {TRUTH_TABLE: self._truth_rows(), **self.relations.tables()}

    def _truth_rows(self) -> pa.Table:
        parts: list[pa.Table] = []
        arriving = self.grid.get((self.unit, None, "arriving_entities", None))
        ended = self.grid.get((self.unit, None, "ending_entities", None))
        active = np.cumsum(arriving, axis=0) - np.cumsum(ended, axis=0) + ended  # ended in p: still active in p
        figures = {"active_entities": active, "arriving_entities": arriving}
        if (self.unit, None, "ending_entities", None) in self.grid.figures:
            figures["ending_entities"] = ended
        for measure, figure in figures.items():
            parts.append(self._rows((self.unit, None, measure, None), figure, periods=True, segments=True,
                                    whole=False))
        for (table, column, measure, category), figure in self.grid.figures.items():
            if table == self.unit and measure != "rows":
                continue
            layout = self.layouts[table]
            shape = {"periods": layout.period is not None, "segments": layout.entity is not None}
            overall = figure.sum(axis=1)
            if measure == "sum" and column in layout.decimal:  # cents to units once, after summing
                figure, overall = figure / 100, overall / 100
            parts.append(self._rows((table, column, measure, category), figure, overall=overall, **shape))
            if measure == "sum":
                counted = self.grid.get((table, column, "non_null", None))
                mean = _ratio(figure, counted)
                overall = _ratio(figure.sum(axis=1), counted.sum(axis=1))
                parts.append(self._rows((table, column, "mean", None), mean, overall=overall, **shape))
        for (table, column), theta in self.factors.items():
            parts.append(self._rows((table, column, "total_factor", None), theta[:, None], periods=True,
                                    segments=False, whole=False))
        return pa.concat_tables(parts) if parts else truth_schema().empty_table()

    def _rows(self, key: tuple, figure: np.ndarray, periods: bool, segments: bool,
              overall: np.ndarray | None = None, whole: bool = True) -> pa.Table:
        """One figure's rows: per period (or the whole window: rows without a date key), over all segments,
        then per segment."""
        table, column, measure, category = key
        slots = list(range(self.periods)) if periods else []
        if whole and (not periods or self.seen.get(table)):
            slots.append(self.periods)
        slots = np.array(slots, dtype=np.int64)
        overall = figure.sum(axis=1) if overall is None else overall
        values = [overall[slots]]
        names: list = [None]
        if segments:
            values += [figure[slots, s] for s in range(len(self.segments))]
            names += self.segments
        count = len(slots)
        keys = np.append(self.keys, 0)[slots]
        date_key = pa.array(np.tile(keys, len(names)), pa.int32(), mask=np.tile(slots == self.periods, len(names)))
        value = np.concatenate(values).astype(np.float64)
        return pa.table({
            "date_key": date_key,
            "segment": pa.array(np.repeat(np.array(names, dtype=object), count), pa.string()),
            "table_name": pa.array([table] * len(value), pa.string()),
            "column_name": pa.array([column] * len(value), pa.string()),
            "category": pa.array([category] * len(value), pa.string()),
            "measure": pa.array([measure] * len(value), pa.string()),
            "value": pa.array(value, pa.float64(), mask=np.isnan(value)),
        }, schema=truth_schema())


def _total_factors(plan, layouts: dict, periods: int) -> dict[tuple[str, str], np.ndarray]:
    """(table, column) -> per period, the factor (offset, in units) a declared metric total applied: what
    the values were scaled by to add up to it (the fidelity report reads the declared family through it)."""
    out = {}
    for solved in (plan.totals.solved if getattr(plan, "totals", None) is not None else []):
        t = solved.target
        if t.metric is None or t.table not in layouts:
            continue
        theta = solved.theta[:periods] if t.mode == SCALE else solved.theta[:periods] / 100.0
        out[(t.table, t.column)] = np.where(solved.rows[:periods] > 0, theta, np.nan)
    return out


def _ratio(total: np.ndarray, counted: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, total / np.maximum(counted, 1), np.nan)
