"""Identifier-like text attributes of dim_<unit>: `uuid` (version-4 UUIDs) and `pattern` (templates).

Both are hashed from the entity id alone (named ("attribute", <name>)), never drawn from a block's stream,
so a value depends on nothing but the seed, the attribute's name and the entity.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..spec.patterns import combinations, numbered, parse
from .hashing import hashed_uuids
from .patterns import entity_values

KINDS = ("uuid", "pattern")


def number_width(plan) -> int:
    """Digits of `{n}`: those of the entity count, as in <unit>_code."""
    return len(str(plan.entity_count))


def values(plan, attr, ids: np.ndarray) -> pa.Array:
    names = ("attribute", attr.name)
    if attr.type == "uuid":
        return hashed_uuids(plan.spec.seed, names, ids)
    return entity_values(plan.spec.seed, names, parse(attr.pattern)[0], ids, number_width(plan))


def describe(plan, attr) -> str:
    unit = plan.spec.unit
    if attr.type == "uuid":
        return f"UUID v4 text (8-4-4-4-12 lower-case hex), one per {unit}, unique; fixed by the seed and the {unit}."
    tokens = parse(attr.pattern)[0]
    how = (f"unique through {{n}}, the {unit}'s number" if numbered(tokens) else
           f"unique: drawn without repeats from its {combinations(tokens):,} combinations")
    return (f"Text following the pattern '{attr.pattern}' (# a digit, ? a letter A-Z, * either, {{n}} the {unit} "
            f"number zero-padded), {how}.")
