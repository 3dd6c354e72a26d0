"""The star schema as Arrow: table layouts (schemas with column descriptions) and chunk assembly."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .block import BlockValues
from .calendar import date_keys, period_ends
from .clock import MOVING
from .components import components
from .fanout import moments, next_ids
from .holdout import split_columns, split_fields
from .missingness import describe_nulls
from .payload import COLUMN as PAYLOAD, payload_fields, payload_values
from .plan import Plan
from ..spec.schema import event_tables

MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December"]
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TRAJECTORY_TABLE = "trajectory"


def _field(name: str, kind: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, kind, nullable=nullable, metadata={"description": description})


def unit_key(plan: Plan) -> str:
    return f"{plan.spec.unit}_id"


def unit_table(plan: Plan) -> str:
    return f"dim_{plan.spec.unit}"


def describe_metric(plan: Plan, m: int) -> str:
    spec = plan.spec
    metric = spec.metrics[m]
    marginal = plan.marginals[m]
    parts = [metric.description.rstrip(".") + "." if metric.description else ""]
    bounds = f" within [{marginal.low:g}, {marginal.high:g}]" if marginal.low is not None else ""
    parts.append(f"{metric.type.capitalize()}, {marginal.family}{bounds}; rises with the trajectory"
                 if metric.polarity == "positive" else
                 f"{metric.type.capitalize()}, {marginal.family}{bounds}; falls as the trajectory rises")
    lag = spec.lag_of(metric.name)
    if lag:
        weight = plan.lags[m][2]
        fitted = "" if lag.weight is not None else ", fitted"
        parts.append(f"follows {lag.follows} by {lag.periods} {spec.window.grain}s (weight {weight:.3g}{fitted})")
    for corr in spec.correlations:
        if metric.name in corr.between:
            other = corr.between[1] if corr.between[0] == metric.name else corr.between[0]
            parts.append(f"correlates with {other} at r = {corr.r:g}")
    noise = spec.noise_of(metric)
    parts.extend(describe_nulls(spec, metric.name, noise.missing_block))
    if metric.total is not None:
        parts.append("its non-null rows add up exactly to the declared total of each period")
    if noise.gaussian > 0 and (noise.family != "gaussian" or noise.heteroscedastic > 0):
        growing = f", spread growing with the trajectory ({noise.heteroscedastic:g})" if noise.heteroscedastic else ""
        parts.append(f"{noise.family} jitter {noise.gaussian:g}{growing}")
    return " ".join(p for p in [parts[0], "; ".join(parts[1:]) + "."] if p).strip()


def schemas(plan: Plan) -> dict[str, pa.Schema]:
    spec = plan.spec
    key = unit_key(plan)
    grain = spec.window.grain
    date_fields = [
        _field("date_key", pa.int32(), "Primary key: first day of the period as yyyymmdd.", nullable=False),
        _field("period_start", pa.date32(), f"First day of the {grain}.", nullable=False),
        _field("period_end", pa.date32(), f"Last day of the {grain}.", nullable=False),
        _field("period_index", pa.int32(), "0 for the first period of the window, then 1, 2, ...", nullable=False),
        _field("year", pa.int16(), "Calendar year of period_start.", nullable=False),
        _field("quarter", pa.int8(), "Calendar quarter (1-4) of period_start.", nullable=False),
        _field("month", pa.int8(), "Month number (1-12) of period_start.", nullable=False),
        _field("month_name", pa.string(), "Month name of period_start.", nullable=False),
        _field("year_month", pa.string(), "Year and month of period_start, as YYYY-MM.", nullable=False),
    ]
    if grain in ("week", "day"):
        date_fields += [
            _field("iso_year", pa.int16(), "ISO-8601 week-numbering year.", nullable=False),
            _field("iso_week", pa.int8(), "ISO-8601 week number (1-53).", nullable=False),
        ]
    if grain == "day":
        date_fields += [
            _field("day_of_month", pa.int8(), "Day of the month (1-31).", nullable=False),
            _field("day_of_week", pa.int8(), "ISO day of the week: 1 = Monday ... 7 = Sunday.", nullable=False),
            _field("day_name", pa.string(), "Name of the weekday.", nullable=False),
            _field("is_weekend", pa.bool_(), "True on Saturday and Sunday.", nullable=False),
            _field("day_of_year", pa.int16(), "Day of the year (1-366).", nullable=False),
        ]
    date_fields += split_fields(plan)  # a declared holdout (holdout.py)
    out: dict[str, pa.Schema] = {"dim_date": pa.schema(date_fields, metadata={"description": (
        f"Date dimension: one row per {grain} from {spec.window.start} to {spec.window.end}, no gaps.")})}
    unit_fields = [
        _field(key, pa.int64(), f"Primary key of the {spec.unit}.", nullable=False),
        _field(f"{spec.unit}_code", pa.string(), f"Readable natural key of the {spec.unit}.", nullable=False),
        _field("segment", pa.string(), "Segment the entity was generated in.", nullable=False),
        _field("archetype", pa.string(), "Behavioural archetype (curve over time) of the segment.", nullable=False),
        _field("start_position", pa.float64(), "Ground truth: trajectory position in the first period (0-1).", nullable=False),
        _field("end_position", pa.float64(), "Ground truth: trajectory position in the last period that has happened "
               "(window.as_of; 0-1).", nullable=False),
    ]
    if uses_arrivals(plan):
        unit_fields.append(_field("first_date_key", pa.int32(), f"Foreign key to dim_date: the {grain} the {spec.unit} "
                                  "arrived; it has no rows before.", nullable=False))
    terminal = spec.terminal_event
    if terminal is not None:
        unit_fields.append(_field("ended_date_key", pa.int32(), f"Foreign key to dim_date: the {grain} of its "
                                  f"{terminal.name} event, after which it has no rows; null while active."))
    for component in components(plan):
        unit_fields.extend(component.unit_fields(plan))
    out[unit_table(plan)] = pa.schema(unit_fields, metadata={
        "description": f"One row per {spec.unit}" + (f" ({spec.about})" if spec.about else "") + "."})
    for component in components(plan):  # reference lookups and other dimensions before the facts
        out.update(component.schemas(plan))
    carried = [f for component in components(plan) for f in component.period_fields(plan)]
    for fact in plan.facts:
        fields = [
            _field(key, pa.int64(), f"Foreign key to {unit_table(plan)}.", nullable=False),
            _field("date_key", pa.int32(), "Foreign key to dim_date.", nullable=False),
            *carried,
        ]
        for m in fact.metrics:
            kind = pa.int64() if spec.metrics[m].type == "count" else pa.float64()
            fields.append(_field(plan.metric_names[m], kind, describe_metric(plan, m)))
        names = ", ".join(plan.metric_names[m] for m in fact.metrics)
        description = fact.description or f"One row per {spec.unit} and {grain}: {names}."
        out[fact.name] = pa.schema(fields, metadata={"description": description})
    by_name = {event.name: event for event in spec.events}
    for table, events, declared in event_tables(spec):
        if declared is None:
            event = by_name[events[0]]
            head = [_field(f"{event.name}_id", pa.int64(), "Primary key of the event.", nullable=False),
                    _field(key, pa.int64(), f"Foreign key to {unit_table(plan)}.", nullable=False)]
            about = event.description or _describe_event(event, spec)
        else:
            head = [_field("event_id", pa.int64(), "Primary key of the event (in this table).", nullable=False),
                    _field(key, pa.int64(), f"Foreign key to {unit_table(plan)}.", nullable=False),
                    _field("event_type", pa.string(), f"Which event the row is: {', '.join(events)}.", nullable=False)]
            about = declared.description or (f"One row per event of a {spec.unit}, by event_type: " + " ".join(
                f"{name}: " + (by_name[name].description or _describe_event(by_name[name], spec)) for name in events))
        out[table] = pa.schema(head + [
            _field("date_key", pa.int32(), "Foreign key to dim_date: the period of the event.", nullable=False),
            _field("occurred_at", pa.timestamp("s"), "When it happened, inside its period.", nullable=False),
            *carried,
            *payload_fields(plan, [by_name[name] for name in events]),
        ], metadata={"description": about})
    if spec.tables.trajectory:
        out[TRAJECTORY_TABLE] = pa.schema([
            _field(key, pa.int64(), f"Foreign key to {unit_table(plan)}.", nullable=False),
            _field("date_key", pa.int32(), "Foreign key to dim_date.", nullable=False),
            _field("archetype", pa.string(), "Archetype the position comes from.", nullable=False),
            _field("position", pa.float64(), "Ground truth: trajectory position (0-1) every metric derives from.", nullable=False),
        ], metadata={"description": "Ground truth: the trajectory position of every entity and period."})
    return out


def core_clock(plan: Plan) -> dict:
    """How dim_<unit>, the facts, the trajectory and the event tables follow the as-of clock."""
    from .clock import TableClock

    spec = plan.spec
    out = {unit_table(plan): TableClock(period="first_date_key" if uses_arrivals(plan) else None,
                                        reveals=("ended_date_key",) if spec.terminal_event is not None else (),
                                        moving=("end_position",))}
    for name in [fact.name for fact in plan.facts] + [TRAJECTORY_TABLE] + [t for t, _, _ in event_tables(spec)]:
        out[name] = TableClock(period="date_key")
    return out


def uses_arrivals(plan: Plan) -> bool:
    return any(seg.arrivals.pattern != "start" for seg in plan.segments)


def _describe_event(event, spec) -> str:
    if event.rate is not None:
        text = f"One row per {event.name}: about {event.rate.mean:g} per {spec.unit} and {spec.window.grain}"
        text += f", more when {event.rate.follows} is higher." if event.rate.follows else "."
        if event.rate.exact:
            text += f" Each {spec.window.grain} has exactly its expected count of rows, rounded."
    else:
        w = event.when
        side = f"below {w.below:g}" if w.below is not None else f"above {w.above:g}"
        text = (f"One row per {spec.unit} whose {w.metric} stayed {side} for {w.periods} {spec.window.grain}(s): "
                f"the {event.name} event, in the {spec.window.grain} the condition was first met.")
    if event.terminal:
        text += f" Terminal: the {spec.unit} has no facts or events after it."
    return text


def static_tables(plan: Plan, schemas: dict[str, pa.Schema]) -> dict[str, pa.Table]:
    """dim_date and the tables that do not depend on entities (reference lookups)."""
    out = {"dim_date": date_table(plan, schemas["dim_date"])}
    for component in components(plan):
        out.update(component.static_tables(plan, schemas))
    return out


def static_names(plan: Plan, schemas: dict[str, pa.Schema]) -> list[str]:
    """Names of the tables that do not depend on entities (the same at every as_of)."""
    return list(static_tables(plan, schemas))


def date_table(plan: Plan, schema: pa.Schema) -> pa.Table:
    starts = plan.starts
    grain = plan.spec.window.grain
    ends = period_ends(starts, grain)
    years = starts.astype("datetime64[Y]").astype(np.int64) + 1970
    months = starts.astype("datetime64[M]").astype(np.int64) % 12 + 1
    columns = {
        "date_key": date_keys(starts),
        "period_start": starts,
        "period_end": ends,
        "period_index": np.arange(len(starts), dtype=np.int32),
        "year": years.astype(np.int16),
        "quarter": ((months - 1) // 3 + 1).astype(np.int8),
        "month": months.astype(np.int8),
        "month_name": [MONTH_NAMES[m - 1] for m in months],
        "year_month": [f"{y:04d}-{m:02d}" for y, m in zip(years, months)],
    }
    if grain in ("week", "day"):
        iso = [d.isocalendar() for d in starts.astype(object)]
        columns["iso_year"] = np.array([i[0] for i in iso], dtype=np.int16)
        columns["iso_week"] = np.array([i[1] for i in iso], dtype=np.int8)
    if grain == "day":
        weekday = (starts.astype(np.int64) + 3) % 7 + 1  # 1970-01-01 was a Thursday
        columns["day_of_month"] = (starts - starts.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int8) + 1
        columns["day_of_week"] = weekday.astype(np.int8)
        columns["day_name"] = [DAY_NAMES[d - 1] for d in weekday]
        columns["is_weekend"] = weekday >= 6
        columns["day_of_year"] = ((starts - starts.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int16) + 1)
    columns.update(split_columns(plan))
    return pa.Table.from_pydict(columns, schema=schema)


FANOUT, ENTITY, ALL = "fanout", "entity", "all"


def chunk_tables(plan: Plan, schemas: dict[str, pa.Schema], blocks: list[BlockValues],
                 counters: dict[str, int], rows: str = ALL) -> dict[str, pa.Table]:
    """Entity tables for a run of consecutive blocks, rows ordered by entity then period. `counters` holds
    the last id given per event table; chunks come in order, so ids run 1, 2, ... whatever the chunking.
    `rows` picks the fan-out tables (events and the components that fan out, for one part of a split
    block: parts.py), the others (ENTITY), or all of them."""
    out: dict[str, pa.Table] = {}
    if rows != FANOUT:
        out.update(_entity_tables(plan, schemas, blocks, counters))
    if rows != ENTITY:
        for component in components(plan):
            if component.fans_out:
                out.update(component.chunk_tables(plan, blocks, schemas, counters))
        out.update(_event_tables(plan, schemas, blocks, counters))
    return out


def _entity_tables(plan: Plan, schemas: dict[str, pa.Schema], blocks: list[BlockValues],
                   counters: dict[str, int]) -> dict[str, pa.Table]:
    """dim_<unit>, the facts, the trajectory and the components' tables that do not fan out."""
    spec = plan.spec
    key = unit_key(plan)
    periods = plan.periods
    keys_by_period = date_keys(plan.starts)
    ids = np.concatenate([b.ids for b in blocks])
    active = np.concatenate([b.active for b in blocks]).ravel()
    everyone = bool(active.all())
    cell_ids = np.repeat(ids, periods)
    cell_dates = np.tile(keys_by_period, len(ids))
    if not everyone:
        cell_ids, cell_dates = cell_ids[active], cell_dates[active]
    out: dict[str, pa.Table] = {}
    positions = np.concatenate([b.positions for b in blocks])
    segment_names = np.concatenate([np.full(len(b.ids), b.segment.name, dtype=object) for b in blocks])
    archetypes = np.concatenate([np.full(len(b.ids), b.segment.archetype, dtype=object) for b in blocks])
    width = len(str(plan.entity_count))
    unit_columns = {
        key: ids,
        f"{spec.unit}_code": [f"{spec.unit}_{i:0{width}d}" for i in ids],
        "segment": segment_names,
        "archetype": archetypes,
        "start_position": positions[:, 0],
        "end_position": positions[:, -1],  # at the window's end; the clock takes the as-of period's (MOVING)
    }
    names = schemas[unit_table(plan)].names
    if "first_date_key" in names:
        unit_columns["first_date_key"] = keys_by_period[np.concatenate([b.arrival for b in blocks])]
    if "ended_date_key" in names:
        ended = np.concatenate([_ended(b, spec.terminal_event.name, plan.periods) for b in blocks])
        unit_columns["ended_date_key"] = pa.array(keys_by_period[np.maximum(ended, 0)], mask=ended < 0)
    for component in components(plan):
        unit_columns.update(component.unit_columns(plan, blocks))
    units = pa.Table.from_pydict(unit_columns, schema=schemas[unit_table(plan)])
    series = pa.FixedSizeListArray.from_arrays(pa.array(positions.ravel()), positions.shape[1])
    out[unit_table(plan)] = units.append_column(MOVING + "end_position", series)
    for component in components(plan):
        if not component.fans_out:
            out.update(component.chunk_tables(plan, blocks, schemas, counters))
    carried = _period_columns(plan, blocks)
    for fact in plan.facts:
        columns = {key: cell_ids, "date_key": cell_dates}
        for name, values in carried.items():
            columns[name] = values.ravel() if everyone else values.ravel()[active]
        for m in fact.metrics:
            values = np.concatenate([b.values[m] for b in blocks]).ravel()
            masks = [b.missing[m] for b in blocks]
            mask = None if all(x is None for x in masks) else np.concatenate(masks).ravel()
            if not everyone:
                values = values[active]
                mask = None if mask is None else mask[active]
            field = schemas[fact.name].field(plan.metric_names[m])
            if pa.types.is_integer(field.type):
                values = values.astype(np.int64)
            columns[field.name] = pa.array(values, type=field.type, mask=mask)
        out[fact.name] = pa.Table.from_pydict(columns, schema=schemas[fact.name])
    if TRAJECTORY_TABLE in schemas:
        cell_archetypes = np.repeat(archetypes, periods)
        cell_positions = positions.ravel()
        if not everyone:
            cell_archetypes, cell_positions = cell_archetypes[active], cell_positions[active]
        out[TRAJECTORY_TABLE] = pa.Table.from_pydict({
            key: cell_ids,
            "date_key": cell_dates,
            "archetype": cell_archetypes,
            "position": cell_positions,
        }, schema=schemas[TRAJECTORY_TABLE])
    return out


def _event_tables(plan: Plan, schemas: dict[str, pa.Schema], blocks: list[BlockValues],
                  counters: dict[str, int]) -> dict[str, pa.Table]:
    key = unit_key(plan)
    keys_by_period = date_keys(plan.starts)
    out: dict[str, pa.Table] = {}
    by_name = {event.name: event for event in plan.spec.events}
    carried = _period_columns(plan, blocks) if event_tables(plan.spec) else {}
    ids = np.concatenate([b.ids for b in blocks])
    for table, events, declared in event_tables(plan.spec):
        rows = [(kind, b.events[name]) for kind, name in enumerate(events) for b in blocks]
        entity = np.concatenate([r.entity for _, r in rows])
        period = np.concatenate([r.period for _, r in rows]).astype(np.int64)
        seconds = np.concatenate([r.seconds for _, r in rows])
        columns = {f"{events[0]}_id" if declared is None else "event_id": next_ids(counters, table, len(entity)),
                   key: entity}
        payload = None
        if PAYLOAD in schemas[table].names:  # per event, on its rows in generation order, before any merge
            payload = pa.concat_arrays([payload_values(plan, by_name[name], blocks, *_rows_of(rows, k))
                                        for k, name in enumerate(events)])
        if declared is not None:  # several events: merge them by entity, then time, then declared order
            kind = np.concatenate([np.full(len(r.entity), k, dtype=np.int64) for k, r in rows])
            order = np.lexsort((kind, seconds, period, entity))
            entity, period, seconds, kind = entity[order], period[order], seconds[order], kind[order]
            payload = None if payload is None else payload.take(order)
            columns[key] = entity
            columns["event_type"] = pa.array(np.asarray(events, dtype=object)[kind], type=pa.string())
        columns["date_key"] = keys_by_period[period]
        columns["occurred_at"] = moments(plan, period, seconds)
        if carried:
            rows_of = np.searchsorted(ids, entity)
            for name, values in carried.items():
                columns[name] = values[rows_of, period]
        if payload is not None:
            columns[PAYLOAD] = payload
        out[table] = pa.Table.from_pydict(columns, schema=schemas[table])
    return out


def _rows_of(rows: list, kind: int) -> tuple[np.ndarray, np.ndarray]:
    """Entities and periods of one event's rows (of every block, in order)."""
    mine = [r for k, r in rows if k == kind]
    return np.concatenate([r.entity for r in mine]), np.concatenate([r.period for r in mine]).astype(np.int64)


def _period_columns(plan: Plan, blocks: list[BlockValues]) -> dict[str, np.ndarray]:
    """The components' (n, P) columns carried by every fact and unit event row (history.version_keys)."""
    out: dict[str, np.ndarray] = {}
    for component in components(plan):
        out.update(component.period_columns(plan, blocks))
    return out


def _ended(block: BlockValues, event: str, periods: int) -> np.ndarray:
    """Per entity of a block, the period of its terminal event, or -1."""
    ended = np.full(len(block.ids), -1, dtype=np.int64)
    rows = block.events[event]
    ended[np.searchsorted(block.ids, rows.entity)] = rows.period
    return ended
