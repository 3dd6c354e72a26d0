"""Generation as a stream of chunks: the same rows in the same order whatever the chunk size or workers."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import pyarrow as pa

from .block import block_base, with_rate_events
from ..spec.schema import event_tables
from .clock import appended, clock_for, last_period, rules_for, without_hidden
from .defect_layouts import Declared, by_table, shown_schemas
from .defects import KEY_TABLE, inject, key_schema
from .derived import Derived, derived_for, derived_schemas, merged
from .components import components
from .estimates import active_cells, row_width
from .feeds import Feeds, feed_name, feed_schemas, fed_tables
from .loads import prepare, with_load_columns
from .parts import WORKING_COPIES, parted_chunks, spans
from .plan import Plan, block_bytes, plan_for
from .rng import ENTITY_BLOCK
from . import systems
from .totals_chunks import with_totals
from .tables import TRAJECTORY_TABLE, chunk_tables, schemas, static_names, static_tables, unit_table


@dataclass
class Generation:
    """What one spec generates: the table layouts up front, the rows as a stream of chunks."""

    plan: Plan
    chunk_blocks: int
    workers: int = 1
    since: int | None = None  # an append: the last period already written (clock.Since)
    # the story's chunks given the engine's (not yet drawn): story.py replays a kept story; None draws it
    told: Callable[[Callable[[], Iterator]], Iterator] | None = None
    schemas: dict[str, pa.Schema] = field(init=False)
    drawn: dict[str, pa.Schema] = field(init=False)
    loaded: dict[str, pa.Schema] = field(init=False)
    defects: dict[str, list[Declared]] = field(init=False)  # per table, the defects injected into it
    derived: list[Derived] = field(init=False)  # truth tables, features (derived.py): made afresh per chunks()
    written: dict[str, int] = field(init=False)  # rows yielded so far, per table

    def __post_init__(self) -> None:
        self.drawn = schemas(self.plan)  # the tables as the engine draws them; loads.prepare adds _loaded_at
        layouts = with_load_columns(self.plan, self.drawn)
        self.loaded = {**layouts, **feed_schemas(self.plan, layouts)}  # as the clock gives them, before defects
        if self.plan.spec.systems:  # made from the dim rows the clock kept
            self.loaded.update(systems.schemas(self.plan, self.drawn))
        self.schemas = dict(self.loaded)
        self.defects = by_table(self.plan, self.loaded) if self.plan.spec.defects.any else {}
        if self.defects:
            self.schemas = {**shown_schemas(self.loaded, self.defects), KEY_TABLE: key_schema()}
        self.derived = derived_for(self.plan, self.loaded)
        self.schemas.update(derived_schemas(self.derived))
        self.written = {name: 0 for name in self.schemas}

    @property
    def table_names(self) -> list[str]:
        return list(self.schemas)

    def row_counts(self) -> dict[str, int]:
        """Expected rows per table (estimates/active_cells: entity-period tables count the cells from arrival
        on, an upper bound with a terminal event; fan-out tables multiply by their rates), up to the as-of
        clock: tables with periods in proportion to the periods that have happened."""
        share = (last_period(self.plan) + 1) / self.plan.periods
        fixed = {"dim_date", unit_table(self.plan)}
        counts = {name: int(round(rows if name in fixed or share == 1 else rows * share))
                  for name, rows in expected_rows(self.plan).items()}
        for derived in self.derived:  # already cut to the as-of clock
            counts.update(derived.row_estimate())
        return counts

    def append_after(self, since: int) -> "Generation":
        """The same generation as an append after period `since` (before the clock's): growing tables get the
        rows of the later periods only, the tables a later period may change are rewritten, static ones
        left out."""
        if not 0 <= since <= last_period(self.plan):
            raise ValueError(f"bug: append after period {since}, outside 0..{last_period(self.plan)}")
        return replace(self, since=since)

    def told_by(self, told: Callable[[Callable[[], Iterator]], Iterator]) -> "Generation":
        """The same generation with its story's chunks taken through `told` (story.StoryStore.through)."""
        return replace(self, told=told)

    def layout(self) -> tuple[list[str], list[str]]:
        """(growing tables: appended to, rewritten tables) of an append; the rest stay as they are."""
        rules = rules_for(self.plan, self.schemas)
        grows = appended(self.plan, rules)
        unchanged = set(static_names(self.plan, self.schemas))
        names = list(self.schemas)
        return ([n for n in names if n in grows], [n for n in names if n not in grows and n not in unchanged])

    def _units(self) -> list[tuple]:
        return [(seg, b) for seg in self.plan.segments for b in range(seg.blocks)]

    def chunks(self) -> Iterator[dict[str, pa.Table]]:
        """dim_date first, then entity tables chunk by chunk (each chunk: up to `chunk_blocks` blocks), each
        holding what exists by `window.as_of` (clock.py)."""
        self.written = {name: 0 for name in self.schemas}
        clock = clock_for(self.plan, self.loaded, self.since)
        story = self.told(self.story) if self.told is not None else self.story()
        rules = rules_for(self.plan, self.loaded) if self.defects else None
        derived = self._observers()  # fresh accumulators: chunks() may run again
        # derived tables are rewritten by an append, so they see the whole window up to as_of (story.py then
        # replays every period, and this second clock keeps what the append's own clock leaves out)
        apart = bool(derived) and self.since is not None
        whole = clock_for(self.plan, self.loaded) if apart else None  # None: no cut (as_of at the window's end)
        for drawn in story:
            chunk = self._shown(clock, drawn)
            if derived:
                emitted = merged([d.observe(self._shown(whole, drawn) if apart else chunk) for d in derived])
            if self.plan.spec.systems:  # from the dim rows the clock kept; before defects, which may target them
                chunk = systems.with_systems(self.plan, chunk, self.loaded)
            if rules is not None and any(name in chunk for name in self.defects):
                chunk = inject(self.plan, chunk, rules, self.schemas, self.defects)
            if derived and emitted:
                chunk = {**chunk, **emitted}
            for name, table in chunk.items():
                self.written[name] += table.num_rows
            yield chunk
        if derived:
            last = merged([d.finish() for d in derived])
            for name, table in last.items():
                self.written[name] += table.num_rows
            yield last

    def _observers(self) -> list[Derived]:
        """Fresh derived sets for one pass (spark/units.Run makes none: its driver replays every run)."""
        return derived_for(self.plan, self.loaded)

    def _shown(self, clock, drawn: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """A drawn chunk as `clock` shows it, load columns in their layout's types."""
        chunk = clock.apply(drawn) if clock is not None else {n: without_hidden(t) for n, t in drawn.items()}
        for name in self.plan.spec.loads.tables:  # _loaded_at enters as a plain column: the layout's field
            if name in chunk and not chunk[name].schema.equals(self.loaded[name], check_metadata=True):
                chunk[name] = chunk[name].cast(self.loaded[name])
        return chunk

    def story(self) -> Iterator[dict[str, pa.Table]]:
        """The chunks as drawn over the whole window, before the clock: the same at every `as_of` of a story
        (load times, restatements and feeds included, as hidden columns and tables for the clock to cut)."""
        loads = self.plan.spec.loads.tables
        rules = rules_for(self.plan, self.schemas) if loads else {}
        feeds = Feeds(self.plan, self.schemas, rules) if loads else None
        for chunk in with_totals(self.plan, self._chunks()):
            if loads:
                chunk = prepare(self.plan, chunk, rules)
                chunk.update(feeds.tables(chunk))
            yield chunk

    def _chunks(self) -> Iterator[dict[str, pa.Table]]:
        yield static_tables(self.plan, self.drawn)
        yield from self.unit_chunks(self._units(), {})

    def unit_chunks(self, units: list[tuple], counters: dict[str, int]) -> Iterator[dict[str, pa.Table]]:
        """The drawn entity tables of consecutive `units` (segment, block), ids continuing from `counters`
        (the last id given per table, updated in place): any run of units, so another engine can split them."""
        groups = [units[i : i + self.chunk_blocks] for i in range(0, len(units), self.chunk_blocks)]
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        try:
            for group in groups:  # blocks are independent: compute them in parallel, keep their order
                prepared = list(pool.map(self._prepare, group)) if pool else [self._prepare(u) for u in group]
                whole: list = []
                for block, ranges in prepared:
                    if ranges is None:
                        whole.append(block)
                        continue
                    if whole:  # rows keep their order per table, so a chunk may end before a split block
                        yield chunk_tables(self.plan, self.drawn, whole, counters)
                        whole = []
                    yield from parted_chunks(self.plan, self.drawn, block, ranges, counters)
                if whole:
                    yield chunk_tables(self.plan, self.drawn, whole, counters)
        finally:
            if pool is not None:
                pool.shutdown()

    def _prepare(self, unit: tuple):
        """A block with its events, or its base and the parts its fan-out is generated in (parts.py)."""
        base = block_base(self.plan, *unit)
        ranges = spans(self.plan, self.drawn, base)
        return (with_rate_events(self.plan, base), None) if ranges is None else (base, ranges)

    def tables(self) -> dict[str, pa.Table]:
        parts: dict[str, list[pa.Table]] = {name: [] for name in self.schemas}
        for chunk in self.chunks():
            for name, table in chunk.items():
                parts[name].append(table)
        return {name: pa.concat_tables(tables) if tables else self.schemas[name].empty_table()
                for name, tables in parts.items()}


def expected_rows(plan) -> dict[str, float]:
    spec = plan.spec
    cells = active_cells(plan)
    counts: dict[str, float] = {"dim_date": plan.periods, f"dim_{spec.unit}": plan.entity_count}
    for fact in plan.facts:
        counts[fact.name] = cells
    if spec.tables.trajectory:
        counts[TRAJECTORY_TABLE] = cells
    by_name = {event.name: event for event in spec.events}
    for table, events, _ in event_tables(spec):  # a threshold event fires at most once per entity
        counts[table] = sum(cells * by_name[e].rate.mean if by_name[e].rate else _fired(plan, by_name[e]) for e in events)
    for component in components(plan):
        counts.update(component.row_estimate(plan, cells))
    if spec.systems:
        counts.update(systems.row_estimate(plan))
    for name in fed_tables(plan):  # a feed: an insert per row, plus its updates and deletes (about as many again)
        counts[feed_name(name)] = 2 * counts.get(name, plan.entity_count)
    return counts


def _fired(plan, event) -> float:
    """Rows of a threshold event: at most one per entity; for the terminal event, the share the pilot saw end."""
    measured = getattr(plan.calibration, "measured", None) or {}
    if event.terminal and "ended_share" in measured:
        return plan.entity_count * measured["ended_share"]
    return plan.entity_count


# Bytes one chunk may use while generating (its blocks' latent arrays, and its rows WORKING_COPIES times).
# The chunk size never changes a byte of output, so this only trades per-chunk costs against peak RSS:
# chunks this small ran as fast as 16-block ones (the metric benchmark spec, the saas template) and keep
# the process flat whatever the entity count (MEMORY_BUDGET, 8x this, is what one block may use at most).
CHUNK_BUDGET = 256 << 20


def chunk_blocks_for(plan, schemas: dict[str, pa.Schema], workers: int = 1) -> int:
    """The plan's blocks per chunk, fewer when a chunk's latent arrays and expected rows would pass
    CHUNK_BUDGET; at least one block per worker, so that every worker has a block of each chunk."""
    entities = max(plan.entity_count, 1)
    per_block = sum(rows / entities * ENTITY_BLOCK * row_width(schemas[name])
                    for name, rows in expected_rows(plan).items() if name in schemas)
    latent = block_bytes(len(plan.metric_names), plan.timeline.periods + plan.timeline.lead)
    fits = int(CHUNK_BUDGET // max(WORKING_COPIES * per_block + latent, 1))
    return max(1, workers, min(plan.chunk_blocks, fits))


def start(spec, chunk_entities: int | None = None, workers: int = 1) -> Generation:
    """Plan a spec's generation; `chunk_entities` is rounded to whole blocks of ENTITY_BLOCK."""
    plan = plan_for(spec)
    generation = Generation(plan, chunk_blocks=1, workers=max(1, workers))
    generation.chunk_blocks = (chunk_blocks_for(plan, generation.schemas, generation.workers)
                               if chunk_entities is None else max(1, -(-chunk_entities // ENTITY_BLOCK)))
    return generation
