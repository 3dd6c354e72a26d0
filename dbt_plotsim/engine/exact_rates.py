"""Exact declared rates (`events[].rate: {mean, exact: true}`): in every period, an exact event has as many
rows as its draw expects, rounded half up.

A rate event's count in a cell (an active entity-period) is Poisson around its intensity (fanout.rate_for):
mean x the followed series over its pooled level x the event's seasonal multiplier. The target of period p
is N_p = round(sum of the intensities of p's active cells): mean x active entities x multiplier x the
followed series' mean over its level that period (1 where the series sits at its level), the expected
count of the draw itself, so exact moves each period's count by its Poisson noise and nothing else.
The solver draws every unit's counts (a block, or a part of a split block: parts.py) before the first chunk,
exactly as generation will, and splits each period's difference N_p - D_p over the units: rows added in
proportion to a unit's intensity, rows removed in proportion to what it drew (so a cell keeps, on average,
the same share of its intensity either way). As a unit is generated, its quota goes to its cells the same
way (exact_cents.systematic, offsets from named streams); ids, timestamps and payloads are then drawn from
the moved counts as for any event, so they are the same whatever the chunk size or workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import Problem
from .exact_cents import systematic
from .fanout import block_stream, cell_rates
from .rng import ENTITY_BLOCK, stream

LEAST_EXPECTED = 1.0  # rows a period with active entities must expect for its count to be held


@dataclass(frozen=True)
class SolvedRate:
    event: str
    path: str  # events.<name>.rate
    expected: np.ndarray  # (P,) the sum of the active cells' intensities
    target: np.ndarray  # (P,) rows held: expected rounded half up
    drawn: np.ndarray  # (P,) rows the Poisson draw gave
    active: np.ndarray  # (P,) active entities
    units: np.ndarray  # (U,) first entity id of each unit, ascending
    quota: np.ndarray  # (U, P) rows each unit adds (removes, negative) in each period


@dataclass(frozen=True)
class ExactRates:
    solved: dict[str, SolvedRate]  # by event name


def exact_events(spec) -> list:
    return [e for e in spec.events if e.rate is not None and e.rate.exact]


def unit_draws(plan, piece, event) -> tuple[np.ndarray, np.ndarray]:
    """(intensity, counts), (n, P) each, of a rate event in one unit, as generation draws them."""
    from .events import rate_counts

    rate = np.where(piece.active, cell_rates(plan, piece, event.rate, event.name), 0.0)
    pad = ENTITY_BLOCK if piece.part is None else len(piece.ids)
    return rate, rate_counts(rate, piece.active, block_stream(plan, piece, "event", event.name), pad)


def solve(plan) -> tuple[ExactRates | None, list[Problem]]:
    """Targets and unit quotas of every exact rate, or the problems of those too sparse to hold."""
    events = exact_events(plan.spec)
    if not events:
        return None, []
    from .block import block_base
    from .parts import pieces_of
    from .tables import schemas

    drawn_schemas = schemas(plan)
    firsts, active = [], []
    intensity = {e.name: [] for e in events}
    drawn = {e.name: [] for e in events}
    for seg in plan.segments:
        for b in range(seg.blocks):
            for piece in pieces_of(plan, drawn_schemas, block_base(plan, seg, b)):
                firsts.append(int(piece.ids[0]))
                active.append(piece.active.sum(axis=0))
                for event in events:
                    rate, counts = unit_draws(plan, piece, event)
                    intensity[event.name].append(rate.sum(axis=0))
                    drawn[event.name].append(counts.sum(axis=0))
    periods = plan.periods
    active_p = np.array(active, dtype=np.int64).reshape(-1, periods).sum(axis=0)
    units = np.asarray(firsts, dtype=np.int64)
    solved, problems = {}, []
    for event in events:
        lam = np.array(intensity[event.name]).reshape(-1, periods)
        got = np.array(drawn[event.name], dtype=np.int64).reshape(-1, periods)
        one = _solved(plan, event, lam, got, active_p, units)
        problem = _too_sparse(plan, one, event.rate.mean)
        if problem is not None:
            problems.append(problem)
        solved[event.name] = one
    return (None, problems) if problems else (ExactRates(solved), [])


def _solved(plan, event, lam: np.ndarray, got: np.ndarray, active: np.ndarray, units: np.ndarray) -> SolvedRate:
    expected = lam.sum(axis=0)
    target = np.floor(expected + 0.5).astype(np.int64)
    drawn = got.sum(axis=0)
    offsets = stream(plan.spec.seed, "event-exact", event.name).random(plan.periods)
    quota = _moves(target - drawn, lam, got, offsets)
    return SolvedRate(event.name, f"events.{event.name}.rate", expected, target, drawn, active, units, quota)


def _moves(difference: np.ndarray, intensity: np.ndarray, counts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(rows, P) signed moves adding up to `difference` (P,): added in proportion to intensity, removed in
    proportion to the counts (never more than a row holds)."""
    added = systematic(np.maximum(difference, 0), intensity, offsets)
    removed = systematic(np.maximum(-difference, 0), counts, offsets)
    return added - removed


def adjuster(plan, block, event_name: str):
    """For an exact event, `adjust(counts, intensity)` moving a unit's drawn counts by its quota (events.rate_rows);
    None otherwise."""
    rates = getattr(plan, "exact_rates", None)
    if rates is None or event_name not in rates.solved or not len(block.ids):
        return None
    solved = rates.solved[event_name]
    u = int(np.searchsorted(solved.units, block.ids[0]))
    if u >= solved.units.size or solved.units[u] != block.ids[0]:
        raise AssertionError(f"bug: {solved.path}: a unit starting at {block.ids[0]} the solver did not see")
    quota = solved.quota[u]
    offsets = block_stream(plan, block, "event-exact", event_name).random(quota.size)

    def adjust(counts: np.ndarray, intensity: np.ndarray) -> np.ndarray:
        if not quota.any():
            return counts
        return counts + _moves(quota, intensity, counts, offsets)

    return adjust


def _too_sparse(plan, solved: SolvedRate, mean: float) -> Problem | None:
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
