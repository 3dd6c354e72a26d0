"""Transaction facts with fan-out (component): `fct_<name>` and its lines `fct_<name>_line`.

Per block of entities, in this order and each from its own stream (so an entity's rows never depend on
the entities after it, and ids run in output order whatever the chunking):
1. rows: Poisson(per_period.mean x followed / its pooled mean) per active entity-period;
2. timestamps: uniform inside the period; rows sorted by entity, period, time;
3. amounts: latent z = signal x score(followed cell) + sqrt(1 - signal^2) x e, through the amount's
   truncated distribution, in cents;
4. lines: a count per transaction, a quantity per line, and a Dirichlet(quantities) split of the cents
   with one cent per line first and the rounding remainder on the last line, so lines sum exactly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from ..spec.attributes import label_weights
from .block import BlockValues
from .calendar import date_keys
from .clock import TableClock
from .components import Component
from .exact_rates import exact_counts
from .fanout import (
    MONEY,
    block_stream,
    cell_rates,
    field,
    followed_score,
    moments,
    money,
    next_ids,
    timed_cells,
    uses_lifetime,
)
from .marginals import Marginal, resolve

# ------------------------------------------------------------------ transactions

@lru_cache(maxsize=32)
def _amount_marginal(amount_json: str) -> Marginal:
    from types import SimpleNamespace

    raw = json.loads(amount_json)
    return resolve(SimpleNamespace(family=raw["distribution"], params=raw["params"], range=tuple(raw["range"]),
                                   mean=raw["mean"], type="amount"))


def amount_marginal(tx) -> Marginal:
    return _amount_marginal(tx.amount.model_dump_json())


@dataclass(frozen=True)
class TransactionRows:
    """One block's transactions (local entity index) and their lines, in output order."""

    entity: np.ndarray
    period: np.ndarray
    seconds: np.ndarray
    cents: np.ndarray
    lines: np.ndarray  # lines per transaction
    quantity: np.ndarray  # per line
    line_cents: np.ndarray  # per line
    picks: dict[str, np.ndarray]  # reference row index (0-based) per transaction, by reference table
    line_picks: dict[str, np.ndarray]  # the same per line


def transaction_counts(plan, tx, block: BlockValues) -> tuple[np.ndarray, np.ndarray]:
    """(intensity, Poisson counts), (n, P) each, of a transaction in a block or part."""
    rate = np.where(block.active, cell_rates(plan, block, tx.per_period, tx.name), 0.0)
    return rate, block_stream(plan, block, "transactions", tx.name, "count").poisson(rate)


def block_transactions(plan, tx, block: BlockValues) -> TransactionRows:
    def rng(purpose: str) -> np.random.Generator:
        return block_stream(plan, block, "transactions", tx.name, purpose)

    periods = plan.periods
    rate, counts = transaction_counts(plan, tx, block)
    counts = exact_counts(plan, block, f"transactions.{tx.name}.per_period", counts, rate).ravel()
    cell, seconds = timed_cells(counts, np.arange(counts.size) % periods, plan.period_days, rng("time"))
    entity, period = np.divmod(cell, periods)

    amount = tx.amount
    noise = rng("amount").standard_normal(cell.size)
    if amount.follows is not None:
        score = followed_score(plan, block, amount.follows).ravel()[cell]
        noise = amount.signal * score + np.sqrt(1.0 - amount.signal**2) * noise
    cents = np.rint(amount_marginal(tx).values_z(noise) * 100).astype(np.int64)

    picks = pick_rows(plan, tx.references, cell.size, rng)
    empty = np.zeros(0, dtype=np.int64)
    if tx.lines is None:
        return TransactionRows(entity, period, seconds, cents, empty, empty, empty, picks, {})
    lines, quantity, line_cents = split_lines(tx.lines, cents, rng("lines"), rng("quantity"), rng("split"))
    line_picks = pick_rows(plan, tx.lines.references, int(lines.sum()), lambda purpose: rng(f"line-{purpose}"))
    return TransactionRows(entity, period, seconds, cents, lines, quantity, line_cents, picks, line_picks)


def pick_rows(plan, picks, size: int, rng) -> dict[str, np.ndarray]:
    """Per pick, `size` reference row indices drawn by the pick's weights (each pick from its own stream)."""
    tables = {t.name: t for t in plan.spec.reference}
    out = {}
    for pick in picks:
        weights = np.asarray(label_weights(pick.weights, tables[pick.table]))
        out[pick.table] = rng(f"reference-{pick.table}").choice(weights.size, size=size, p=weights / weights.sum())
    return out


def split_lines(spec_lines, cents: np.ndarray, lines_rng, quantity_rng, split_rng):
    """Lines per transaction, quantity per line, and line cents that add up to each transaction's cents."""
    span = spec_lines.max - spec_lines.min
    if span == 0:
        lines = np.full(cents.size, spec_lines.min, dtype=np.int64)
    elif spec_lines.mean is None:
        lines = spec_lines.min + lines_rng.integers(0, span + 1, size=cents.size)
    else:
        lines = spec_lines.min + lines_rng.binomial(span, (spec_lines.mean - spec_lines.min) / span, size=cents.size)
    total = int(lines.sum())
    owner = np.repeat(np.arange(cents.size), lines)
    first = np.cumsum(lines) - lines  # index of each transaction's first line
    low, high = spec_lines.quantity
    quantity = quantity_rng.integers(low, high + 1, size=total)
    weight = split_rng.standard_gamma(quantity.astype(np.float64))  # Dirichlet(quantities) once normalized
    if total == 0:
        return lines, quantity, np.zeros(0, dtype=np.int64)
    share = weight / np.add.reduceat(weight, first)[owner]
    spare = cents - lines  # one cent per line first: no line is 0.00
    line_cents = 1 + np.floor(spare[owner] * share).astype(np.int64)
    last = first + lines - 1
    line_cents[last] += cents - np.add.reduceat(line_cents, first)  # the rounding remainder
    return lines, quantity, line_cents


def _mean_lines(lines) -> float:
    return lines.mean if lines.mean is not None else (lines.min + lines.max) / 2


def pick_fields(picks) -> list[pa.Field]:
    return [field(p.column, pa.int64(), f"Foreign key to dim_{p.table}" + (
        ", drawn by the declared weights." if p.weights is not None else ", every row equally likely.")) for p in picks]


def pick_tests(picks, ref) -> dict[str, list]:
    return {p.column: [("not_null", None), ("relationships", {"to": ref(f"dim_{p.table}"), "field": p.column})]
            for p in picks}


class TransactionsComponent(Component):
    fans_out = True

    def active(self, plan) -> bool:
        return bool(getattr(plan.spec, "transactions", ()))

    def clock(self, plan) -> dict:
        out = {}
        for tx in plan.spec.transactions:
            out[f"fct_{tx.name}"] = TableClock(period="date_key")
            if tx.lines is not None:
                out[f"fct_{tx.name}_line"] = TableClock(parent=(f"fct_{tx.name}", f"{tx.name}_id"))
        return out

    def fanout_rows(self, plan, block) -> dict[str, np.ndarray]:
        out = {}
        for tx in plan.spec.transactions:
            rows = np.where(block.active, cell_rates(plan, block, tx.per_period, tx.name), 0.0).sum(axis=1)
            out[f"fct_{tx.name}"] = rows
            if tx.lines is not None:
                out[f"fct_{tx.name}_line"] = rows * _mean_lines(tx.lines)
        return out

    def schemas(self, plan) -> dict[str, pa.Schema]:
        spec = plan.spec
        unit, grain = spec.unit, spec.window.grain
        out: dict[str, pa.Schema] = {}
        for tx in spec.transactions:
            name = tx.name
            low, high = tx.amount.range
            follows = tx.amount.follows
            amount_text = (f"Amount of the {name}, {tx.amount.distribution} within [{low:g}, {high:g}], to the cent"
                           + (f"; larger where {follows} is higher (signal {tx.amount.signal:g})." if follows else ".")
                           + (" The amounts of each period add up exactly to the declared total."
                              if tx.amount.total is not None else ""))
            rate = tx.per_period
            out[f"fct_{name}"] = pa.schema([
                field(f"{name}_id", pa.int64(), f"Primary key of the {name}."),
                field(f"{unit}_id", pa.int64(), f"Foreign key to dim_{unit}."),
                *pick_fields(tx.references),
                field("date_key", pa.int32(), f"Foreign key to dim_date: the {grain} of the {name}."),
                field("occurred_at", pa.timestamp("s"), "When it happened, inside its period."),
                field("amount", MONEY, amount_text + (f" Equals the sum of its lines in fct_{name}_line."
                                                      if tx.lines else "")),
            ], metadata={"description": tx.description or (
                f"One row per {name}: about {rate.mean:g} per {unit} and {grain} (Poisson)"
                + (", more where the trajectory is higher" if rate.follows == "trajectory" else
                   f", more when {rate.follows} is higher")
                + f"; only while the {unit} is active."
                + (f" Each {grain} has exactly its expected count of rows, rounded." if rate.exact else ""))})
            if tx.lines is None:
                continue
            lines = tx.lines
            count = (f"{lines.min}" if lines.min == lines.max else
                     f"{lines.min} to {lines.max}" + (f" (mean {lines.mean:g})" if lines.mean is not None else ""))
            out[f"fct_{name}_line"] = pa.schema([
                field(f"{name}_line_id", pa.int64(), f"Primary key of the {name} line."),
                field(f"{name}_id", pa.int64(), f"Foreign key to fct_{name}."),
                field("line_number", pa.int32(), f"1, 2, ... within the {name}."),
                *pick_fields(lines.references),
                field("quantity", pa.int32(), f"Units on the line, {lines.quantity[0]} to {lines.quantity[1]}."),
                field("amount", MONEY, f"Amount of the line, at least 0.01; the lines of a {name} add up exactly to "
                                       f"its amount (the rounding remainder is on the last line)."),
            ], metadata={"description": f"One row per line of a {name}: {count} lines each, the {name}'s amount "
                                        "split in proportion to a Dirichlet draw weighted by quantity."})
        return out

    def chunk_tables(self, plan, blocks, schemas, counters) -> dict[str, pa.Table]:
        def picked(key: str, pick) -> pa.Array:
            return pa.array(np.concatenate([getattr(p, key)[pick.table] for p in parts]).astype(np.int64) + 1)

        spec = plan.spec
        keys = date_keys(plan.starts)
        out: dict[str, pa.Table] = {}
        for tx in spec.transactions:
            parts = [block_transactions(plan, tx, b) for b in blocks]
            entity = np.concatenate([b.ids[p.entity] for b, p in zip(blocks, parts)])
            period = np.concatenate([p.period for p in parts])
            seconds = np.concatenate([p.seconds for p in parts])
            cents = np.concatenate([p.cents for p in parts])
            table = f"fct_{tx.name}"
            ids = next_ids(counters, table, entity.size)
            out[table] = pa.Table.from_arrays([
                pa.array(ids), pa.array(entity), *(picked("picks", pick) for pick in tx.references),
                pa.array(keys[period]), pa.array(moments(plan, period, seconds)), money(cents),
            ], schema=schemas[table])
            if tx.lines is None:
                continue
            lines = np.concatenate([p.lines for p in parts])
            line_table = f"fct_{tx.name}_line"
            first = np.cumsum(lines) - lines
            out[line_table] = pa.Table.from_arrays([
                pa.array(next_ids(counters, line_table, int(lines.sum()))),
                pa.array(np.repeat(ids, lines)),
                pa.array((np.arange(lines.sum()) - np.repeat(first, lines) + 1).astype(np.int32)),
                *(picked("line_picks", pick) for pick in tx.lines.references),
                pa.array(np.concatenate([p.quantity for p in parts]).astype(np.int32)),
                money(np.concatenate([p.line_cents for p in parts])),
            ], schema=schemas[line_table])
        return out

    def row_estimate(self, plan, cells):
        out = {}
        for tx in plan.spec.transactions:
            out[f"fct_{tx.name}"] = cells * tx.per_period.mean
            if tx.lines is not None:
                out[f"fct_{tx.name}_line"] = cells * tx.per_period.mean * _mean_lines(tx.lines)
        return out

    def tests(self, plan, ref) -> dict[str, dict[str, list]]:
        spec = plan.spec
        key, dim = f"{spec.unit}_id", f"dim_{spec.unit}"
        window_end = str(plan.starts[-1] + (plan.period_days[-1] - 1))
        lifetime = uses_lifetime(plan)
        out: dict[str, dict[str, list]] = {}
        for tx in spec.transactions:
            table = f"fct_{tx.name}"
            out[table] = {
                f"{tx.name}_id": [("unique", None), ("not_null", None)],
                key: [("not_null", None), ("relationships", {"to": ref(dim), "field": key})],
                "date_key": [("not_null", None), ("relationships", {"to": ref("dim_date"), "field": "date_key"})],
                "occurred_at": [("dbt_plotsim.within_window", {"start": str(spec.window.start), "end": window_end})],
                "amount": [("not_null", None)],
                **pick_tests(tx.references, ref),
            }
            if lifetime:
                out[table][""] = [("dbt_plotsim.within_lifetime", {"entity": key, "entity_model": ref(dim), **lifetime})]
            if tx.lines is None:
                continue
            out[f"{table}_line"] = {
                f"{tx.name}_line_id": [("unique", None), ("not_null", None)],
                f"{tx.name}_id": [("not_null", None), ("relationships", {"to": ref(table), "field": f"{tx.name}_id"})],
                "amount": [("not_null", None), ("dbt_plotsim.sums_match", {
                    "key": f"{tx.name}_id", "to": ref(table), "field": "amount"})],
                **pick_tests(tx.lines.references, ref),
            }
        return out
