"""Progress of a generation: what to expect up front, then rows as the writers take them, chunk by chunk.

The writers tell an observer three things: `begin(expected)` (rows per table they expect), `chunk(rows)` (rows
per table of one written chunk: one call per chunk, never per row) and `finish()` once everything is in place.
`Progress` counts and throttles, handing a `Snapshot` to a `report` function (the CLI prints it, the dbt plugin
fires it as a dbt event); `Bar` draws a tqdm bar for a terminal. Each run makes its own observer: no globals.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol


class Observer(Protocol):
    def begin(self, expected: Mapping[str, int]) -> None: ...

    def chunk(self, rows: Mapping[str, int]) -> None: ...

    def finish(self) -> None: ...


@dataclass(frozen=True)
class Snapshot:
    """How far a generation is: rows so far against the expected rows (an estimate: the actual may differ)."""

    rows: int
    expected: int
    tables: int  # tables with rows so far
    total_tables: int
    elapsed: float
    final: bool = False

    @property
    def percent(self) -> float | None:
        return None if self.expected <= 0 else min(100.0, 100.0 * self.rows / self.expected)

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None before the first row, 0 once the estimate is reached."""
        if self.rows <= 0 or self.expected <= 0:
            return None
        return max(0.0, self.elapsed * (self.expected - self.rows) / self.rows)

    def line(self) -> str:
        if self.final:
            return (f"{self.rows:,} rows in {self.total_tables} tables, elapsed {duration(self.elapsed)} "
                    f"(estimated {self.expected:,})")
        percent = "?" if self.percent is None else f"{self.percent:.0f}%"
        eta = "?" if self.eta is None else duration(self.eta)
        return (f"{self.rows:,} / {self.expected:,} rows ({percent}), {self.tables} of {self.total_tables} tables, "
                f"elapsed {duration(self.elapsed)}, ETA {eta}")


class Progress:
    """Counts the rows the writer reports and calls `report(snapshot)` at most every `every` seconds (0: each
    chunk), and once more at `finish()`."""

    def __init__(self, report: Callable[[Snapshot], None], *, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.report, self.every, self.clock = report, every, clock
        self.expected: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        self.began = self.last = clock()

    def begin(self, expected: Mapping[str, int]) -> None:
        self.expected = {name: int(rows) for name, rows in expected.items()}
        self.rows = {}
        self.began = self.last = self.clock()

    def chunk(self, rows: Mapping[str, int]) -> None:
        for name, count in rows.items():
            if count:
                self.rows[name] = self.rows.get(name, 0) + int(count)
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.report(self.snapshot())

    def finish(self) -> None:
        self.report(self.snapshot(final=True))

    def snapshot(self, final: bool = False) -> Snapshot:
        total_tables = len(set(self.expected) | set(self.rows))
        return Snapshot(sum(self.rows.values()), sum(self.expected.values()), len(self.rows), total_tables,
                        self.clock() - self.began, final)

    def close(self) -> None:
        pass

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Bar:
    """A tqdm bar on `stream` (a terminal): rows against the estimate, tables with rows, rate and ETA."""

    def __init__(self, stream):
        self.stream = stream
        self.bar = None
        self.tables: set[str] = set()
        self.total_tables = 0

    def begin(self, expected: Mapping[str, int]) -> None:
        from tqdm import tqdm

        self.close()
        self.tables, self.total_tables = set(), len(expected)
        self.bar = tqdm(total=max(1, sum(expected.values())), unit=" rows", unit_scale=True, file=self.stream,
                        desc="generating", dynamic_ncols=True, leave=True)

    def chunk(self, rows: Mapping[str, int]) -> None:
        if self.bar is None:
            return
        self.tables.update(name for name, count in rows.items() if count)
        self.bar.set_postfix_str(f"{len(self.tables)}/{self.total_tables} tables", refresh=False)
        self.bar.update(sum(rows.values()))

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.total = self.bar.n  # the estimate was an estimate: end at 100%
            self.bar.refresh()
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def expected_rows(generation) -> dict[str, int]:
    """Rows a writer should expect from `generation` (its row estimate): for an append (`append_after`), the
    growing tables' share of the new periods and the rewritten tables whole; the unchanged ones are not written."""
    counts = generation.row_counts()
    if generation.since is None:
        return counts
    from .engine.clock import last_period

    last = last_period(generation.plan)
    share = (last - generation.since) / (last + 1)
    grown, replaced = generation.layout()
    return {**{name: int(round(counts.get(name, 0) * share)) for name in grown},
            **{name: counts.get(name, 0) for name in replaced}}


def reported_chunks(generation, progress: Observer | None, chunks=None):
    """`chunks` (default generation.chunks()), each told to `progress` once the caller has written it (begin
    before the first, finish after the last): the hook of writers that only loop over chunks."""
    chunks = generation.chunks() if chunks is None else chunks
    if progress is None:
        yield from chunks
        return
    progress.begin(expected_rows(generation))
    for chunk in chunks:
        yield chunk
        progress.chunk({name: table.num_rows for name, table in chunk.items()})
    progress.finish()


@dataclass(frozen=True)
class Estimate:
    """Per table: expected rows, columns, uncompressed bytes (what `dbt-plotsim info` lists)."""

    rows: dict[str, int]
    columns: dict[str, int]
    sizes: dict[str, float]

    def line(self) -> str:
        return (f"estimate: {len(self.rows)} tables, ~{sum(self.rows.values()):,} rows, "
                f"~{human_bytes(sum(self.sizes.values()))} uncompressed")


def estimate(generation) -> Estimate:
    from .engine.estimates import row_width

    counts = generation.row_counts()
    schemas = generation.schemas
    return Estimate({name: counts[name] for name in schemas}, {name: len(s) for name, s in schemas.items()},
                    {name: counts[name] * row_width(s) for name, s in schemas.items()})


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size} B"


def duration(seconds: float) -> str:
    """12.3s, 4m05s, 1h02m: short enough for a progress line."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"
