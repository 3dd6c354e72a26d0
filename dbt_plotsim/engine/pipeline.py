"""Generation as a stream of chunks: the same rows in the same order whatever the chunk size or workers."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator

import pyarrow as pa

from .block import generate_block
from .plan import Plan, plan_for
from .tables import chunk_tables, schemas, static_tables
from .rng import ENTITY_BLOCK


@dataclass
class Generation:
    """What one spec generates: the table layouts up front, the rows as a stream of chunks."""

    plan: Plan
    chunk_blocks: int
    workers: int = 1
    schemas: dict[str, pa.Schema] = field(init=False)
    written: dict[str, int] = field(init=False)  # rows yielded so far, per table

    def __post_init__(self) -> None:
        self.schemas = schemas(self.plan)
        self.written = {name: 0 for name in self.schemas}

    @property
    def table_names(self) -> list[str]:
        return list(self.schemas)

    def row_counts(self) -> dict[str, int]:
        """Rows per table; entity-period tables count every period (an upper bound with arrivals or
        terminal events), event tables are estimated from their rates."""
        plan = self.plan
        entities, periods = plan.entity_count, plan.periods
        counts = {name: entities * periods for name in self.schemas}
        counts["dim_date"] = periods
        counts[f"dim_{plan.spec.unit}"] = entities
        for event in plan.spec.events:
            counts[f"evt_{event.name}"] = int(entities * periods * event.rate.mean) if event.rate else entities
        for table in plan.spec.reference:
            counts[f"dim_{table.name}"] = len(table.rows)
        return counts

    def _units(self) -> list[tuple]:
        return [(seg, b) for seg in self.plan.segments for b in range(seg.blocks)]

    def chunks(self) -> Iterator[dict[str, pa.Table]]:
        """dim_date first, then entity tables chunk by chunk (each chunk: up to `chunk_blocks` blocks)."""
        self.written = {name: 0 for name in self.schemas}
        for chunk in self._chunks():
            for name, table in chunk.items():
                self.written[name] += table.num_rows
            yield chunk

    def _chunks(self) -> Iterator[dict[str, pa.Table]]:
        yield static_tables(self.plan, self.schemas)
        units = self._units()
        groups = [units[i : i + self.chunk_blocks] for i in range(0, len(units), self.chunk_blocks)]
        counters: dict[str, int] = {}
        if self.workers <= 1:
            for group in groups:
                blocks = [generate_block(self.plan, s, b) for s, b in group]
                yield chunk_tables(self.plan, self.schemas, blocks, counters)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            for group in groups:  # blocks are independent: compute them in parallel, keep their order
                blocks = list(pool.map(lambda unit: generate_block(self.plan, *unit), group))
                yield chunk_tables(self.plan, self.schemas, blocks, counters)

    def tables(self) -> dict[str, pa.Table]:
        parts: dict[str, list[pa.Table]] = {name: [] for name in self.schemas}
        for chunk in self.chunks():
            for name, table in chunk.items():
                parts[name].append(table)
        return {name: pa.concat_tables(tables) if tables else self.schemas[name].empty_table()
                for name, tables in parts.items()}


def start(spec, chunk_entities: int | None = None, workers: int = 1) -> Generation:
    """Plan a spec's generation; `chunk_entities` is rounded to whole blocks of ENTITY_BLOCK."""
    plan = plan_for(spec)
    blocks = plan.chunk_blocks if chunk_entities is None else max(1, -(-chunk_entities // ENTITY_BLOCK))
    return Generation(plan, chunk_blocks=blocks, workers=max(1, workers))
