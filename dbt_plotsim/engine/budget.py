"""What a generation will need, checked before anything is written.

Generation works one chunk of 1,024-entity blocks at a time; chunks hold as many blocks as fit in
pipeline.CHUNK_BUDGET (one at least), a block's own tables may use MEMORY_BUDGET, and a block whose fan-out
rows (events, sub-entities, transactions) would pass the budget is generated in parts of consecutive
entities (parts.py). What cannot be made smaller is refused with the estimate: a block whose own tables
pass the budget, one entity whose fan-out passes a part's budget, and output past MAX_ROWS rows or larger
than the free disk.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import Problem, WriteError
from .estimates import row_width
from .pipeline import expected_rows
from . import parts
from .plan import MEMORY_BUDGET
from .rng import ENTITY_BLOCK

MAX_ROWS = 5_000_000_000  # rows of one source, all tables: beyond this nobody wants a local file
DISK_SHARE = 0.5  # written bytes per uncompressed byte, at most (DuckDB and Parquet both compress better)


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size} B"


def check(generation) -> list[Problem]:
    """Problems of a spec whose block, entity or whole output is beyond what we generate."""
    from ..spec.names import table_claims

    plan, schemas = generation.plan, generation.schemas
    unit = plan.spec.unit
    # memory: every chunk draws the whole window's rows before the as-of clock drops the later ones
    rows = {name: n for name, n in expected_rows(plan).items() if name in schemas and name != "dim_date"}
    owners = {claim.table: claim.path for claim in table_claims(plan.spec)}
    entities = max(plan.entity_count, 1)
    block_entities = min(ENTITY_BLOCK, max(seg.count for seg in plan.segments))
    fanout = set(parts.fanout_tables(plan))
    per_entity = {name: n / entities * row_width(schemas[name]) * parts.WORKING_COPIES for name, n in rows.items()}
    own = {name: size * block_entities for name, size in per_entity.items() if name not in fanout}
    problems = []
    if own and sum(own.values()) > MEMORY_BUDGET:
        table = max(own, key=own.get)
        problems.append(Problem(owners.get(table, "segments"), (
            f"its table {table} would hold about {rows[table] / entities * block_entities:,.0f} rows for each "
            f"{block_entities:,} {unit}s ({_human(own[table])} while generating), over the "
            f"{_human(MEMORY_BUDGET)} one block may use; use a coarser grain, a shorter window or fewer rows "
            f"per {unit}")))
    spread = {name: size for name, size in per_entity.items() if name in fanout}
    if spread and sum(spread.values()) > parts.PART_BUDGET:
        table = max(spread, key=spread.get)
        problems.append(Problem(owners.get(table, "segments"), (
            f"one {unit} would have about {rows[table] / entities:,.0f} rows in {table} "
            f"({_human(spread[table])} while generating), over the {_human(parts.PART_BUDGET)} the rows of one "
            f"{unit} may use; lower its rate or count, or spread it over more {unit}s")))
    total = sum(generation.row_counts().values())
    if total > MAX_ROWS:
        largest = max(rows, key=rows.get)
        problems.append(Problem(owners.get(largest, "segments"), (
            f"the output would hold about {total:,.0f} rows ({rows[largest]:,.0f} in {largest}), over the "
            f"{MAX_ROWS:,} one source may have; lower the segment counts (or --scale), the window or the rates")))
    return problems


def expected_bytes(generation) -> float:
    rows = generation.row_counts()
    return sum(n * row_width(generation.schemas[name]) for name, n in rows.items() if name in generation.schemas)


def free_space(target: str | os.PathLike) -> tuple[Path, int]:
    """(the nearest existing folder of `target`, free bytes on its disk)."""
    folder = Path(os.path.abspath(target))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder, shutil.disk_usage(folder).free


def check_disk(generation, target: str | os.PathLike) -> None:
    """WriteError when the output would not fit on the disk that holds `target`."""
    folder, free = free_space(target)
    need = expected_bytes(generation) * DISK_SHARE
    if need > free:
        raise WriteError(f"the output needs up to {_human(need)} but {folder} has {_human(free)} free; "
                         "free some space or lower --scale. Nothing was written.")
