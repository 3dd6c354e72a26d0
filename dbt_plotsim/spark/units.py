"""The local engine's generation cut into runs of (segment, block) units, each runnable on its own.

pipeline.Generation draws a spec as: the static tables (dim_date, reference lookups), then the units in
order, then a tail of per-chunk steps (declared totals, loads and feeds, the as-of clock, source systems,
defects). Every draw is keyed by (segment, block) names (rng.py), and every tail step reads one chunk at a
time, so a run of units gives the same rows wherever it runs. Two things are not per unit:

- ids of fan-out rows (events, sub-entities, transactions and their lines) run 1, 2, ... over the whole
  population (fanout.next_ids): a run needs the ids the runs before it gave, counted first (`counted`);
- derived tables (truth tables, experiment tables, features) accumulate over every chunk and emit at the
  end: a Run makes none (it keeps each chunk as the clock shows it, `shown`, for the tables defects change),
  and the driver replays the written runs through one set of observers (replay.py).

Nothing here imports pyspark: the runner (runner.py) only ships these descriptors to its tasks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import pyarrow as pa

from ..engine.block import with_rate_events
from ..engine.parts import entity_slice, fanout_tables
from ..engine.pipeline import Generation
from ..engine.tables import FANOUT, chunk_tables, static_tables

STATIC = 0  # the run number of the static tables; unit runs are numbered from 1, in the local engine's order


@dataclass
class Run(Generation):
    """One run of a generation: its static tables (`units` None) or consecutive units as (segment index,
    block) pairs, with the ids of each counted table continuing from `offsets`. chunks() is the local
    engine's, tail included, without the derived tables (replay.py makes them from every run)."""

    units: tuple | None = None
    offsets: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(init=False, default_factory=dict)  # after the run: the last id given
    shown: dict[str, pa.Table] = field(init=False, default_factory=dict)  # the last chunk the clock showed

    def _observers(self) -> list:
        return []  # derived tables sum the whole population: the driver's replay makes them

    def _shown(self, clock, drawn: dict[str, pa.Table]) -> dict[str, pa.Table]:
        self.shown = super()._shown(clock, drawn)  # what the observers see, before systems and defects
        return self.shown

    def _chunks(self) -> Iterator[dict[str, pa.Table]]:
        if self.units is None:
            yield static_tables(self.plan, self.drawn)
            return
        self.counters = dict(self.offsets)
        yield from self.unit_chunks(self._mine(), self.counters)

    def counted(self) -> dict[str, int]:
        """The ids this run's units give per table: only the fan-out tables are made (the only ones whose
        ids run over the population; runner.py checks that no other table gave any), block by block or
        part by part as unit_chunks makes them, nothing written."""
        self.counters = {}
        for unit in self._mine():
            block, ranges = self._prepare(unit)
            pieces = [block] if ranges is None else (with_rate_events(self.plan, entity_slice(block, a, z))
                                                     for a, z in ranges)  # one part at a time, as parts.py
            for piece in pieces:
                chunk_tables(self.plan, self.drawn, [piece], self.counters, FANOUT)
        return dict(self.counters)

    def _mine(self) -> list[tuple]:
        return [(self.plan.segments[segment], block) for segment, block in self.units]


def runs_of(generation: Generation, tasks: int) -> list[tuple]:
    """The units in the local engine's order, cut into about `tasks` runs of consecutive units (no run
    longer than a local chunk, so a task's memory stays within the local engine's budget)."""
    index = {seg.name: i for i, seg in enumerate(generation.plan.segments)}
    units = [(index[seg.name], block) for seg, block in generation._units()]
    if not units:
        return []
    size = max(1, min(generation.chunk_blocks, -(-len(units) // max(1, tasks))))
    return [tuple(units[i : i + size]) for i in range(0, len(units), size)]


def needs_counting(generation: Generation) -> bool:
    """Whether some table's ids run over the whole population (then runs count their rows first)."""
    return bool(fanout_tables(generation.plan))


def offsets_of(counts: list[dict[str, int]]) -> list[dict[str, int]]:
    """Per run, the last id the runs before it gave per table (a running sum of their counts)."""
    out, total = [], {}
    for counted in counts:
        out.append(dict(total))
        for name, rows in counted.items():
            total[name] = total.get(name, 0) + rows
    return out


# the derived sets known to give the same bits whatever the chunk grouping (sums added block by block, rows
# ordered by entity), so one chunk per run, replayed on the driver, gives the local engine's tables
REPLAYED = frozenset({"TruthTables", "ExperimentTables", "FeatureTable"})


def refused(generation: Generation) -> list[str]:
    """The spec features the Spark engine cannot generate, each with what to change in the spec: a derived
    set not known to be replayable run by run (a new one is refused until it says so in REPLAYED)."""
    unknown = [derived for derived in generation.derived if type(derived).__name__ not in REPLAYED]
    if not unknown:
        return []
    names = sorted(name for derived in unknown for name in derived.schemas())
    return [f"derived tables ({', '.join(names)}): they are computed over the whole population and not known "
            "to be replayable run by run; generate them locally"]
