"""Expected row counts and bytes per table, before generating: what `info` prints and what sizes chunks.

Entity-period tables hold the cells between each entity's arrival and the window's end (a terminal event
ends some earlier, so these are upper bounds); fan-out tables multiply them by their rates.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .arrivals import arrival_fractions

GRID = (np.arange(2001) + 0.5) / 2001  # uniforms at which arrival patterns are averaged


def active_cells(plan) -> float:
    """Expected entity-periods from arrival to the window's end, over every segment."""
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


def row_width(schema: pa.Schema) -> int:
    return sum(value_width(f.type) for f in schema)
