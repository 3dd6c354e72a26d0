"""What a generation will need, checked before anything is written.

Generation works one chunk of 1,024-entity blocks at a time, and chunks shrink to one block when their
tables would pass MEMORY_BUDGET (pipeline.chunk_blocks_for). A spec whose single block already passes it
(an event rate of 1e5, 1e5 sub-entities with 1,000 events each), or whose output passes MAX_ROWS, is refused
with the estimate, as is output larger than the free disk.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import Problem, WriteError
from .estimates import row_width
from .plan import MEMORY_BUDGET
from .rng import ENTITY_BLOCK

MAX_ROWS = 5_000_000_000  # rows of one source, all tables: beyond this nobody wants a local file
WORKING_COPIES = 3  # a chunk's rows exist as numpy arrays, Arrow tables and the writer's buffer
DISK_SHARE = 0.5  # written bytes per uncompressed byte, at most (DuckDB and Parquet both compress better)


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size} B"


def check(generation) -> list[Problem]:
    """Problems of a spec whose one block, or whole output, is beyond what we generate."""
    from ..spec.names import table_claims

    plan, schemas = generation.plan, generation.schemas
    rows = generation.row_counts()
    owners = {claim.table: claim.path for claim in table_claims(plan.spec)}
    entities = max(plan.entity_count, 1)
    per_block = {name: n / entities * ENTITY_BLOCK * row_width(schemas[name]) * WORKING_COPIES
                 for name, n in rows.items() if name in schemas and name != "dim_date"}
    problems = []
    if sum(per_block.values()) > MEMORY_BUDGET:
        table = max(per_block, key=per_block.get)
        block_rows = rows[table] / entities * ENTITY_BLOCK
        problems.append(Problem(owners.get(table, "segments"), (
            f"its table {table} would hold about {block_rows:,.0f} rows for each {ENTITY_BLOCK:,} entities "
            f"({_human(per_block[table])} while generating), over the {_human(MEMORY_BUDGET)} one block may use; "
            "lower its rate or count, or split it into more entities")))
    total = sum(rows.values())
    if total > MAX_ROWS:
        largest = max(rows, key=rows.get)
        problems.append(Problem(owners.get(largest, "segments"), (
            f"the output would hold about {total:,.0f} rows ({rows[largest]:,.0f} in {largest}), over the "
            f"{MAX_ROWS:,} one source may have; lower the segment counts (or --scale), the window or the rates")))
    return problems


def expected_bytes(generation) -> float:
    rows = generation.row_counts()
    return sum(n * row_width(generation.schemas[name]) for name, n in rows.items() if name in generation.schemas)


def check_disk(generation, target: str | os.PathLike) -> None:
    """WriteError when the output would not fit on the disk that holds `target`."""
    folder = Path(os.path.abspath(target))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    need = expected_bytes(generation) * DISK_SHARE
    if need > free:
        raise WriteError(f"the output needs up to {_human(need)} but {folder} has {_human(free)} free; "
                         "free some space or lower --scale. Nothing was written.")
