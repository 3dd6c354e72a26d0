"""Blocks whose fan-out would pass the memory budget are generated in parts.

A block's own tables (dim_<unit>, facts, history) are bounded by its 1,024 entities and its periods, but
the rows that fan out of it (rate events, sub-entities and their events, transactions and their lines) grow
with the declared rates. Before drawing them, the block's expected fan-out bytes per entity are summed from
its values; when they pass PART_BUDGET the block is cut into consecutive entity ranges of at most that much
(one entity at least) and each range draws its fan-out from its own streams, named by the range's first
entity (fanout.block_stream), then is written and dropped before the next. The cut depends only on the
block's values, so the bytes are the same whatever the chunk size or workers; blocks that fit keep their
whole-block streams, so nothing changes for them.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

import numpy as np
import pyarrow as pa

from ..spec.schema import event_tables
from .block import BlockValues, with_rate_events
from .components import components
from .estimates import row_width
from .events import EventRows
from .fanout import rate_for
from .plan import MEMORY_BUDGET
from .tables import ENTITY, FANOUT, chunk_tables

PART_BUDGET = MEMORY_BUDGET // 4  # bytes the fan-out rows of one part may use while generating
WORKING_COPIES = 3  # a part's rows exist as numpy arrays, Arrow tables and the writer's buffer


def fanout_tables(plan) -> list[str]:
    """The tables whose rows fan out of entity-periods (generated per part when a block is split)."""
    names = [table for table, _, _ in event_tables(plan.spec)]
    for component in components(plan):
        if component.fans_out:
            names.extend(component.schemas(plan))
    return names


def fanout_bytes(plan, schemas: dict[str, pa.Schema], block: BlockValues) -> np.ndarray:
    """(n,) expected bytes, while generating, of the rows that fan out of each entity of the block."""
    total = np.zeros(len(block.ids))
    values = dict(zip(plan.metric_names, block.values))
    by_name = {event.name: event for event in plan.spec.events}
    for table, events, _ in event_tables(plan.spec):
        width = row_width(schemas[table])
        for name in events:
            event = by_name[name]
            if event.rate is None:  # threshold events: one row per entity at most
                total += width
                continue
            series = block.positions if event.rate.follows == "trajectory" else values[event.rate.follows]
            rate = rate_for(plan, event.rate, series, block.segment.name, name)
            total += np.where(block.active, rate, 0.0).sum(axis=1) * width
    for component in components(plan):
        if component.fans_out:
            for table, rows in component.fanout_rows(plan, block).items():
                total += rows * row_width(schemas[table])
    return total * WORKING_COPIES


def spans(plan, schemas: dict[str, pa.Schema], block: BlockValues) -> list[tuple[int, int]] | None:
    """Consecutive entity ranges of the block, each expected under PART_BUDGET (a single entity may pass
    it alone), or None when the whole block fits."""
    need = fanout_bytes(plan, schemas, block)
    if need.sum() <= PART_BUDGET:
        return None
    before = np.cumsum(need) - need
    label = np.floor(before / PART_BUDGET)
    starts = np.flatnonzero(np.r_[True, label[1:] != label[:-1]])
    stops = np.r_[starts[1:], len(need)]
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def pieces_of(plan, schemas: dict[str, pa.Schema], block: BlockValues) -> list[BlockValues]:
    """The units a block's fan-out is drawn in: the whole block, or each of its parts."""
    ranges = spans(plan, schemas, block)
    return [block] if ranges is None else [entity_slice(block, a, z) for a, z in ranges]


def entity_slice(block: BlockValues, start: int, stop: int) -> BlockValues:
    """Entities start..stop of a block (its threshold events with them), as a part named by `start`."""
    ids = block.ids[start:stop]
    events = {}
    for name, rows in block.events.items():
        inside = (rows.entity >= ids[0]) & (rows.entity <= ids[-1])
        events[name] = EventRows(rows.entity[inside], rows.period[inside], rows.seconds[inside])
    return BlockValues(block.segment, ids, block.positions[start:stop], [v[start:stop] for v in block.values],
                       [None if m is None else m[start:stop] for m in block.missing], block.arrival[start:stop],
                       block.active[start:stop], events, part=start)


def parted_chunks(plan, schemas: dict[str, pa.Schema], block: BlockValues, ranges: list[tuple[int, int]],
                  counters: dict[str, int]) -> Iterator[dict[str, pa.Table]]:
    """The fan-out tables part by part, then the block's own tables. Those read rate events only as
    'fired in this period' (history), so each part's events are kept as their distinct entity-periods."""
    periods = plan.periods
    rated = [event.name for event in plan.spec.events if event.rate is not None]
    fired: dict[str, list[np.ndarray]] = {name: [] for name in rated}
    for start, stop in ranges:
        piece = with_rate_events(plan, entity_slice(block, start, stop))
        yield chunk_tables(plan, schemas, [piece], counters, FANOUT)
        for name in rated:
            rows = piece.events[name]
            fired[name].append(np.unique((rows.entity - block.ids[0]) * periods + rows.period))
        del piece
    events = dict(block.events)
    for name, cells in fired.items():
        local, period = np.divmod(np.concatenate(cells), periods)
        events[name] = EventRows(block.ids[local], period, np.zeros(local.size, dtype=np.int64))
    yield chunk_tables(plan, schemas, [replace(block, events=events)], counters, ENTITY)
