"""Exact declared rates (`events[].rate` or `transactions[].per_period`: `{mean, exact: true}`): in every
period, the rate's table has as many rows as its draw expects, rounded half up.

A rate's count in a cell (an active entity-period) is Poisson around its intensity (fanout.rate_for):
mean x the followed series over its pooled level x the seasonal multiplier of the event (transaction). The target of period p
is N_p = round(sum of the intensities of p's active cells): mean x active entities x multiplier x the
followed series' mean over its level that period (1 where the series sits at its level), the expected
count of the draw itself, so exact moves each period's count by its Poisson noise and nothing else.
The solver draws every unit's counts (a block, or a part of a split block: parts.py) before the first chunk,
exactly as generation will, and splits each period's difference N_p - D_p over the units: rows added in
proportion to a unit's intensity, rows removed in proportion to what it drew (so a cell keeps, on average,
the same share of its intensity either way). As a unit is generated, its quota goes to its cells the same
way (exact_cents.systematic, offsets from named streams); ids, timestamps, payloads (a transaction's amount
and lines) are then drawn from the moved counts as before, so they are the same whatever the chunk size or
workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import Problem
from .exact_cents import systematic
from .fanout import block_stream
from .rng import stream

LEAST_EXPECTED = 1.0  # rows a period with active entities must expect for its count to be held


@dataclass(frozen=True)
class Source:
    """One exact rate: an event's `rate` or a transaction's `per_period`."""

    path: str  # events.<name>.rate or transactions.<name>.per_period
    declared: object  # the spec's event or transaction
    rate: object  # its spec Rate
    table: str
    event: str | None  # the event's name, None for a transaction
    typed: bool = False  # the table holds several events, told apart by event_type


@dataclass(frozen=True)
class SolvedRate:
    source: Source
    expected: np.ndarray  # (P,) the sum of the active cells' intensities
    target: np.ndarray  # (P,) rows held: expected rounded half up
    drawn: np.ndarray  # (P,) rows the Poisson draw gave
    active: np.ndarray  # (P,) active entities
    units: np.ndarray  # (U,) first entity id of each unit, ascending
    quota: np.ndarray  # (U, P) rows each unit adds (removes, negative) in each period

    @property
    def path(self) -> str:
        return self.source.path


@dataclass(frozen=True)
class ExactRates:
    solved: dict[str, SolvedRate]  # by path


def sources(spec) -> list[Source]:
    from ..spec.schema import event_tables

    tables = {e: (t, declared is not None) for t, events, declared in event_tables(spec) for e in events}
    out = [Source(f"events.{e.name}.rate", e, e.rate, tables[e.name][0], e.name, tables[e.name][1])
           for e in spec.events if e.rate is not None and e.rate.exact]
    return out + [Source(f"transactions.{t.name}.per_period", t, t.per_period, f"fct_{t.name}", None)
                  for t in getattr(spec, "transactions", ()) or () if t.per_period.exact]


def unit_draws(plan, piece, source: Source) -> tuple[np.ndarray, np.ndarray]:
    """(intensity, counts), (n, P) each, of an exact rate in one unit, as generation draws them."""
    if source.event is not None:
        from .block import event_counts

        return event_counts(plan, piece, source.declared)
    from .transactions import transaction_counts

    return transaction_counts(plan, source.declared, piece)


def solve(plan) -> tuple[ExactRates | None, list[Problem]]:
    """Targets and unit quotas of every exact rate, or the problems of those too sparse to hold."""
    found = sources(plan.spec)
    if not found:
        return None, []
    from .block import block_base
    from .parts import pieces_of
    from .tables import schemas

    drawn_schemas = schemas(plan)
    firsts, active = [], []
    intensity = {s.path: [] for s in found}
    drawn = {s.path: [] for s in found}
    for seg in plan.segments:
        for b in range(seg.blocks):
            for piece in pieces_of(plan, drawn_schemas, block_base(plan, seg, b)):
                firsts.append(int(piece.ids[0]))
                active.append(piece.active.sum(axis=0))
                for source in found:
                    rate, counts = unit_draws(plan, piece, source)
                    intensity[source.path].append(rate.sum(axis=0))
                    drawn[source.path].append(counts.sum(axis=0))
    periods = plan.periods
    active_p = np.array(active, dtype=np.int64).reshape(-1, periods).sum(axis=0)
    units = np.asarray(firsts, dtype=np.int64)
    solved, problems = {}, []
    for source in found:
        lam = np.array(intensity[source.path]).reshape(-1, periods)
        got = np.array(drawn[source.path], dtype=np.int64).reshape(-1, periods)
        one = _solved(plan, source, lam, got, active_p, units)
        problem = _too_sparse(plan, one)
        if problem is not None:
            problems.append(problem)
        solved[source.path] = one
    return (None, problems) if problems else (ExactRates(solved), [])


def _solved(plan, source: Source, lam: np.ndarray, got: np.ndarray, active: np.ndarray,
            units: np.ndarray) -> SolvedRate:
    expected = lam.sum(axis=0)
    target = np.floor(expected + 0.5).astype(np.int64)
    drawn = got.sum(axis=0)
    offsets = stream(plan.spec.seed, "exact-rate", source.path).random(plan.periods)
    quota = _moves(target - drawn, lam, got, offsets)
    return SolvedRate(source, expected, target, drawn, active, units, quota)


def _moves(difference: np.ndarray, intensity: np.ndarray, counts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(rows, P) signed moves adding up to `difference` (P,): added in proportion to intensity, removed in
    proportion to the counts (never more than a row holds)."""
    added = systematic(np.maximum(difference, 0), intensity, offsets)
    removed = systematic(np.maximum(-difference, 0), counts, offsets)
    return added - removed


def exact_counts(plan, block, path: str, counts: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """A unit's drawn (n, P) counts of the rate at `path`, moved by the unit's quota where the rate is exact."""
    rates = getattr(plan, "exact_rates", None)
    if rates is None or path not in rates.solved or not len(block.ids):
        return counts
    solved = rates.solved[path]
    u = int(np.searchsorted(solved.units, block.ids[0]))
    if u >= solved.units.size or solved.units[u] != block.ids[0]:
        raise AssertionError(f"bug: {path}: a unit starting at {block.ids[0]} the solver did not see")
    quota = solved.quota[u]
    if not quota.any():
        return counts
    offsets = block_stream(plan, block, "exact-rate", path).random(quota.size)
    return counts + _moves(quota, intensity, counts, offsets)


def _too_sparse(plan, solved: SolvedRate) -> Problem | None:
    mean = solved.source.rate.mean
    sparse = np.flatnonzero((solved.active > 0) & (solved.expected < LEAST_EXPECTED))
    if not sparse.size:
        return None
    p = int(sparse[0])
    unit = plan.spec.unit
    more = f" (and {sparse.size - 1} more periods)" if sparse.size > 1 else ""
    least = mean * LEAST_EXPECTED / max(float(solved.expected[sparse].min()), 1e-12)
    return Problem(f"{solved.path}.exact", f"an exact rate needs at least {LEAST_EXPECTED:g} expected row in every "
                                           f"period with active {unit}s, but mean {mean:g} gives "
                                           f"{solved.expected[p]:.3g} in period {plan.starts[p]} "
                                           f"({int(solved.active[p]):,} active {unit}s){more}: raise mean to "
                                           f"{least:.3g} or more, or drop exact")
