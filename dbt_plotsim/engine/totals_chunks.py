"""Declared totals applied to the chunks as they stream (the solver is engine/totals.py).

Each row's value is adjusted by its period's factor (offset), floored to the cent and given one cent more
(or less) where its unit's quota says; a unit's rows always come in one chunk (a block's facts, a part's
transactions), so the cents are the same whatever the chunk size. A transaction's lines are split again
in proportion to their old amounts, one cent each at least, the remainder on the last line, so they still
add up to it exactly.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from .calendar import date_keys
from .exact_cents import adjusted, distribute, floors
from .fanout import money
from .totals import Solved
from .totals_cells import cents_of


def with_totals(plan, chunks: Iterator[dict[str, pa.Table]]) -> Iterator[dict[str, pa.Table]]:
    """The chunks with every declared total held (unchanged when the spec declares none)."""
    totals = getattr(plan, "totals", None)
    if totals is None:
        yield from chunks
        return
    keys = date_keys(plan.starts)
    unit_key = f"{plan.spec.unit}_id"
    for chunk in chunks:
        chunk = dict(chunk)
        for solved in totals.solved:
            table = chunk.get(solved.target.table)
            if table is None or table.num_rows == 0:
                continue
            if solved.target.tx is None:
                chunk[solved.target.table] = _metric(solved, table, keys, unit_key)
            else:
                chunk.update(_transactions(solved, chunk, table, keys, unit_key))
        yield chunk


def _cents(solved: Solved, entity: np.ndarray, date_key: np.ndarray, x: np.ndarray, keys: np.ndarray) -> np.ndarray:
    t = solved.target
    period = np.searchsorted(keys, date_key)
    unit = np.searchsorted(solved.units, entity, side="right") - 1
    v = adjusted(x, solved.theta[period], t.mode, t.low, t.high)
    base, frac, up, down = floors(v, t.low, t.high)
    return distribute(base, frac, up, down, unit * solved.theta.size + period, solved.quota.ravel())


def _metric(solved: Solved, table: pa.Table, keys: np.ndarray, unit_key: str) -> pa.Table:
    name = solved.target.column
    column = table.column(name).combine_chunks()
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    values = column.to_numpy(zero_copy_only=False)
    entity = table.column(unit_key).to_numpy()[valid]
    date_key = table.column("date_key").to_numpy()[valid]
    out = np.zeros(len(values))
    out[valid] = _cents(solved, entity, date_key, cents_of(values[valid], solved.target.amount), keys) / 100.0
    index = table.schema.get_field_index(name)
    return table.set_column(index, table.schema.field(index), pa.array(out, type=pa.float64(), mask=~valid))


def _as_cents(column: pa.ChunkedArray) -> np.ndarray:
    return column.combine_chunks().view(pa.decimal128(18, 0)).cast(pa.int64()).to_numpy()


def _transactions(solved: Solved, chunk: dict, table: pa.Table, keys: np.ndarray, unit_key: str) -> dict:
    name = solved.target.table
    old = _as_cents(table.column("amount"))
    new = _cents(solved, table.column(unit_key).to_numpy(), table.column("date_key").to_numpy(),
                 old.astype(np.float64), keys)
    index = table.schema.get_field_index("amount")
    out = {name: table.set_column(index, table.schema.field(index), money(new))}
    lines = chunk.get(f"{name}_line")
    if lines is not None and lines.num_rows:
        tx_ids = table.column(0).to_numpy()
        owner = lines.column(1).to_numpy() - tx_ids[0]
        if owner.min() < 0 or owner.max() >= tx_ids.size:
            raise AssertionError(f"bug: lines of {name} outside the chunk's transactions")
        split = resplit(old[owner], new[owner], owner, _as_cents(lines.column("amount")))
        at = lines.schema.get_field_index("amount")
        out[f"{name}_line"] = lines.set_column(at, lines.schema.field(at), money(split))
    return out


def resplit(old_total: np.ndarray, new_total: np.ndarray, owner: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Line cents (in order, grouped by `owner`) split again to add up to the new total of their owner, in
    proportion to what each held above its one cent."""
    first = np.r_[True, owner[1:] != owner[:-1]]
    last = np.r_[owner[1:] != owner[:-1], True]
    starts = np.flatnonzero(first)
    count = np.diff(np.r_[starts, owner.size])
    lines = np.repeat(count, count)
    position = np.arange(owner.size) - np.repeat(starts, count)  # 0-based line within its owner
    spare_old = (old_total - lines).astype(np.float64)
    spare_new = (new_total - lines).astype(np.float64)
    above = np.cumsum(line - 1)
    above -= np.repeat(above[starts] - (line[starts] - 1), count)  # cumulative within the owner
    share = np.where(spare_old > 0, above / np.where(spare_old > 0, spare_old, 1.0), (position + 1) / lines)
    cum = np.floor(spare_new * share)
    cum[last] = spare_new[last]
    previous = np.r_[0.0, cum[:-1]]
    previous[first] = 0.0
    return (1 + cum - previous).astype(np.int64)
