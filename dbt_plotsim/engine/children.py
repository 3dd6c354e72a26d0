"""Sub-entities (component): `dim_<child>` and the rate-driven events of each one, `evt_<child>_<event>`.

Count of a parent's sub-entities in period t, on its active periods: round(min + (max - min) x position),
or the followed count metric's value clipped to [min, max]; before arrival it is 0, after a terminal event
it holds (nobody is created once the parent has ended, and every sub-entity still alive is removed in the
period after its parent's end). With `removals: false` it is the running maximum. Sub-entities sit in numbered slots 1..count: when the count rises, the new slots are
filled by new sub-entities (created_date_key); when it falls, the highest slots empty first, so the most
recently created leave first (removed_date_key, the first period without them). A slot emptied and filled
again gets a new sub-entity. So in every active period exactly `count` sub-entities are alive.

All of it is vectorized over the block: creations come from np.repeat over the positive steps of the
count, removals from its negative steps, and the k-th removal from slot s of a parent pairs with the k-th
creation into that slot (they alternate in time).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .block import BlockValues
from .calendar import date_keys
from .clock import TableClock
from .components import Component
from .estimates import mean_position
from .fanout import (
    block_stream,
    cell_rates,
    field,
    moments,
    next_ids,
    pooled_mean,
    timed_cells,
    uses_lifetime,
)


@dataclass(frozen=True)
class ChildRows:
    """One block's sub-entities in output order (parent, creation period, slot)."""

    parent: np.ndarray  # local index of the parent in the block
    created: np.ndarray  # period index
    removed: np.ndarray  # period index, -1 while never removed
    last: np.ndarray  # last period alive (inclusive)


def parent_counts(plan, per, block: BlockValues) -> np.ndarray:
    """(n, P) count per parent and period under a per-parent rule (min, max, follows, removals): 0 before
    arrival, held after the end. Serves sub-entities and bridge members."""
    if per.follows == "trajectory":
        position = 1.0 - block.positions if getattr(per, "polarity", "positive") == "negative" else block.positions
        raw = np.floor(per.min + (per.max - per.min) * position + 0.5)
    else:
        value = block.values[plan.metric_names.index(per.follows)]
        raw = np.clip(np.floor(value + 0.5), per.min, np.inf if per.max is None else per.max)
    raw = raw.astype(np.int64)
    t = np.arange(plan.periods)
    last_active = np.maximum.accumulate(np.where(block.active, t, -1), axis=1)
    held = np.where(last_active >= 0, np.take_along_axis(raw, np.maximum(last_active, 0), axis=1), 0)
    if not per.removals:
        held = np.maximum.accumulate(held, axis=1)
    return held


def _steps(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For cells where `after` > `before`: one (cell, slot) per slot from before + 1 to after, in cell order."""
    size = np.maximum(after - before, 0)
    cell = np.repeat(np.arange(size.size), size)
    offset = np.arange(cell.size) - np.repeat(np.cumsum(size) - size, size)
    return cell, before[cell] + 1 + offset


def _ranked_keys(group: np.ndarray, period: np.ndarray, periods: int) -> tuple[np.ndarray, np.ndarray]:
    """A key per item, group * (periods + 1) + its rank in time within its group; and the sort order."""
    order = np.lexsort((period, group))
    sorted_group = group[order]
    index = np.arange(order.size)
    starts = np.maximum.accumulate(np.where(np.r_[True, sorted_group[1:] != sorted_group[:-1]], index, 0))
    return sorted_group * (periods + 1) + (index - starts), order


def block_children(plan, child, block: BlockValues) -> ChildRows:
    periods = plan.periods
    count = parent_counts(plan, child.per_parent, block)
    before = np.zeros_like(count)
    before[:, 1:] = count[:, :-1]
    flat_before, flat_after = before.ravel(), count.ravel()
    cell, slot = _steps(flat_before, flat_after)
    parent, created = np.divmod(cell, periods)
    removed = np.full(cell.size, -1, dtype=np.int64)
    gone_cell, gone_slot = _steps(flat_after, flat_before)  # slots after + 1 .. before empty at that cell
    if gone_cell.size:
        width = int(count.max()) + 1
        gone_parent, gone_period = np.divmod(gone_cell, periods)
        made, made_order = _ranked_keys(parent * width + slot, created, periods)
        left, left_order = _ranked_keys(gone_parent * width + gone_slot, gone_period, periods)
        removed[made_order[np.searchsorted(made, left)]] = gone_period[left_order]
    t = np.arange(periods)
    final = np.where(block.active, t, -1).max(axis=1)  # each parent's last active period
    ended = (final >= 0) & (final < periods - 1)  # activity stops before the window's end only at a terminal event
    closed = (removed < 0) & ended[parent]
    removed = np.where(closed, final[parent] + 1, removed)  # its parent's end closes it: the next period is without
    last = np.where(removed >= 0, removed - 1, final[parent])
    return ChildRows(parent, created, removed, last)


def child_events(plan, child, event, block: BlockValues, rows: ChildRows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(child index, period, seconds) of the event: Poisson per alive child-period at the parent's rate."""
    span = rows.last - rows.created + 1
    owner = np.repeat(np.arange(span.size), span)
    period = rows.created[owner] + np.arange(owner.size) - np.repeat(np.cumsum(span) - span, span)
    rate = cell_rates(plan, block, event.rate, f"{child.name}_{event.name}")[rows.parent[owner], period]
    counts = block_stream(plan, block, "children", child.name, event.name, "count").poisson(rate)
    rng = block_stream(plan, block, "children", child.name, event.name, "time")
    cell, seconds = timed_cells(counts, period, plan.period_days, rng)
    return owner[cell], period[cell], seconds


def closes(plan, child) -> bool:
    """Whether sub-entities can leave: by a falling count, or with their parent at its terminal event."""
    return bool(child.per_parent.removals or plan.spec.terminal_event is not None)


class ChildrenComponent(Component):
    fans_out = True

    def active(self, plan) -> bool:
        return bool(getattr(plan.spec, "children", ()))

    def clock(self, plan) -> dict:
        out = {}
        for child in plan.spec.children:
            out[f"dim_{child.name}"] = TableClock(period="created_date_key", reveals=(
                ("removed_date_key",) if closes(plan, child) else ()))
            for event in child.events:
                out[f"evt_{child.name}_{event.name}"] = TableClock(period="date_key")
        return out

    def fanout_rows(self, plan, block) -> dict[str, np.ndarray]:
        out = {}
        for child in plan.spec.children:
            count = parent_counts(plan, child.per_parent, block)
            rises = np.diff(count, axis=1, prepend=0)
            out[f"dim_{child.name}"] = np.maximum(rises, 0).sum(axis=1).astype(np.float64)
            alive = np.where(block.active, count, 0)
            for event in child.events:
                rate = cell_rates(plan, block, event.rate, f"{child.name}_{event.name}")
                out[f"evt_{child.name}_{event.name}"] = (alive * rate).sum(axis=1)
        return out

    def schemas(self, plan) -> dict[str, pa.Schema]:
        spec = plan.spec
        unit, grain = spec.unit, spec.window.grain
        out: dict[str, pa.Schema] = {}
        for child in spec.children:
            name, per = child.name, child.per_parent
            if per.follows == "trajectory":
                rule = f"round({per.min} + {per.max - per.min} x trajectory position), from {per.min} to {per.max}"
            else:
                cap = f", at most {per.max}" if per.max is not None else ""
                rule = f"the {unit}'s {per.follows} (at least {per.min}{cap})"
            fields = [
                field(f"{name}_id", pa.int64(), f"Primary key of the {name}."),
                field(f"{unit}_id", pa.int64(), f"Foreign key to dim_{unit}: the {unit} the {name} belongs to."),
                field("created_date_key", pa.int32(), f"Foreign key to dim_date: the {grain} the {name} appeared; "
                      f"never before its {unit} arrived nor after its {unit} ended."),
            ]
            if closes(plan, child):
                fell = (f"when the count fell, the most recently created left first; when the {unit} ended, every "
                        f"{name} left with it" if per.removals else f"its {unit} ended")
                fields.append(field("removed_date_key", pa.int32(), (
                    f"Foreign key to dim_date: the first {grain} without the {name} ({fell}); null while it "
                    "remains."), nullable=True))
            shrink = ("when it falls, the most recent leave first" if per.removals else
                      "it never falls (the highest count so far)")
            out[f"dim_{name}"] = pa.schema(fields, metadata={"description": child.description or (
                f"One row per {name}, each under one {unit}. {name.capitalize()}s per {unit} in each active {grain}: "
                f"{rule}; {shrink}.")})
            for event in child.events:
                follows = event.rate.follows
                more = "the trajectory" if follows == "trajectory" else f"the {unit}'s {follows}"
                out[f"evt_{name}_{event.name}"] = pa.schema([
                    field(f"{name}_{event.name}_id", pa.int64(), "Primary key of the event."),
                    field(f"{name}_id", pa.int64(), f"Foreign key to dim_{name}."),
                    field(f"{unit}_id", pa.int64(), f"Foreign key to dim_{unit}: the {name}'s {unit}."),
                    field("date_key", pa.int32(), "Foreign key to dim_date: the period of the event."),
                    field("occurred_at", pa.timestamp("s"), "When it happened, inside its period."),
                ], metadata={"description": event.description or (
                    f"One row per {event.name} of a {name}: about {event.rate.mean:g} per {name} and {grain} "
                    f"(Poisson), more when {more} is higher; only while the {name} exists.")})
        return out

    def chunk_tables(self, plan, blocks, schemas, counters) -> dict[str, pa.Table]:
        keys = date_keys(plan.starts)
        out: dict[str, pa.Table] = {}
        for child in plan.spec.children:
            rows = [block_children(plan, child, b) for b in blocks]
            table = f"dim_{child.name}"
            sizes = np.array([r.parent.size for r in rows], dtype=np.int64)
            ids = next_ids(counters, table, int(sizes.sum()))
            firsts = ids[0] + np.cumsum(sizes) - sizes if ids.size else sizes
            columns = [
                pa.array(ids),
                pa.array(np.concatenate([b.ids[r.parent] for b, r in zip(blocks, rows)])),
                pa.array(keys[np.concatenate([r.created for r in rows])]),
            ]
            if closes(plan, child):
                removed = np.concatenate([r.removed for r in rows])
                columns.append(pa.array(keys[np.maximum(removed, 0)], mask=removed < 0))
            out[table] = pa.Table.from_arrays(columns, schema=schemas[table])
            for event in child.events:
                found = [child_events(plan, child, event, b, r) for b, r in zip(blocks, rows)]
                who = np.concatenate([first + f[0] for first, f in zip(firsts, found)])
                parent = np.concatenate([b.ids[r.parent[f[0]]] for b, r, f in zip(blocks, rows, found)])
                period = np.concatenate([f[1] for f in found])
                seconds = np.concatenate([f[2] for f in found])
                name = f"evt_{child.name}_{event.name}"
                out[name] = pa.Table.from_arrays([
                    pa.array(next_ids(counters, name, who.size)), pa.array(who), pa.array(parent),
                    pa.array(keys[period]), pa.array(moments(plan, period, seconds)),
                ], schema=schemas[name])
        return out

    def row_estimate(self, plan, cells):
        out = {}
        for child in plan.spec.children:
            per = child.per_parent
            if per.follows == "trajectory":
                alive = per.min + (per.max - per.min) * mean_position(plan)
            else:
                alive = min(max(pooled_mean(plan, per.follows), per.min), per.max if per.max is not None else np.inf)
            out[f"dim_{child.name}"] = plan.entity_count * alive
            for event in child.events:
                out[f"evt_{child.name}_{event.name}"] = cells * alive * event.rate.mean
        return out

    def tests(self, plan, ref) -> dict[str, dict[str, list]]:
        spec = plan.spec
        key, dim = f"{spec.unit}_id", f"dim_{spec.unit}"
        window_end = str(plan.starts[-1] + (plan.period_days[-1] - 1))
        lifetime = uses_lifetime(plan)
        date_fk = [("relationships", {"to": ref("dim_date"), "field": "date_key"})]
        out: dict[str, dict[str, list]] = {}
        for child in spec.children:
            table, child_key = f"dim_{child.name}", f"{child.name}_id"
            columns = {
                child_key: [("unique", None), ("not_null", None)],
                key: [("not_null", None), ("relationships", {"to": ref(dim), "field": key})],
                "created_date_key": [("not_null", None), *date_fk],
            }
            if closes(plan, child):
                columns["removed_date_key"] = list(date_fk)
            if lifetime:
                columns[""] = [("dbt_plotsim.within_lifetime", {"entity": key, "entity_model": ref(dim), **lifetime,
                                                                "period": period})
                               # not removed_date_key: a parent's end removes its sub-entities in the next period
                               for period in ["created_date_key"]]
            out[table] = columns
            bounds = {"first_column": "created_date_key"}
            if closes(plan, child):
                bounds["ended_column"] = "removed_date_key"
            for event in child.events:
                events = {
                    f"{child.name}_{event.name}_id": [("unique", None), ("not_null", None)],
                    child_key: [("not_null", None), ("relationships", {"to": ref(table), "field": child_key})],
                    key: [("not_null", None), ("relationships", {"to": ref(dim), "field": key})],
                    "date_key": [("not_null", None), *date_fk],
                    "occurred_at": [("dbt_plotsim.within_window", {"start": str(spec.window.start), "end": window_end})],
                    # a lower and (one period loose: the removal period itself passes) upper bound per sub-entity
                    "": [("dbt_plotsim.within_lifetime", {"entity": child_key, "entity_model": ref(table), **bounds})],
                }
                out[f"evt_{child.name}_{event.name}"] = events
        return out
