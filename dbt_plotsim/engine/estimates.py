"""Expected row counts and bytes per table, before generating: what `info` prints and what sizes chunks.

Entity-period tables hold the cells between each entity's arrival and its end: the calibration pilot measures
how many exist per entity (arrivals and the terminal event in place); fan-out tables multiply them by their
rates.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .arrivals import arrival_fractions

GRID = (np.arange(2001) + 0.5) / 2001  # uniforms at which arrival patterns are averaged


def active_cells(plan) -> float:
    """Expected existing entity-periods, over every segment: from the pilot when it ran, else from the
    arrival patterns up to the window's end."""
    measured = getattr(plan.calibration, "measured", None) or {}
    if "cells_per_entity" in measured:
        return plan.entity_count * measured["cells_per_entity"]
    periods = plan.periods
    total = 0.0
    for segment in plan.segments:
        first = np.minimum(np.floor(arrival_fractions(segment.arrivals, GRID) * periods), periods - 1)
        total += segment.count * (periods - first.mean())
    return total


def mean_position(plan) -> float:
    from .fanout import pooled_mean

    return pooled_mean(plan, "trajectory")


def value_width(kind: pa.DataType) -> int:
    """Bytes per value: fixed-width types exactly, strings and others as 16."""
    try:
        return max(kind.bit_width // 8, 1)
    except ValueError:
        return 16


def field_width(field: pa.Field) -> int:
    """Bytes per value of a column: its `bytes` metadata where it gives one (long text), else by type."""
    hint = (field.metadata or {}).get(b"bytes")
    return int(hint) if hint else value_width(field.type)


def row_width(schema: pa.Schema) -> int:
    return sum(field_width(f) for f in schema)
