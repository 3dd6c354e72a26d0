"""The `payload` column of event tables: one compact JSON object per event row, as text.

Every value is hashed from the row's own keys (entity, period, rank of the event in its entity-period
cell, in time order), named ("payload", <event>, <field>), so it depends on nothing but that row: not on
chunking, parts or the other fields. The objects are assembled with Arrow string kernels from fragments
`,"key":value` (empty where a field is missing), never by serialising rows one by one. Keys are SQL
identifiers, so they need no escaping; category values and pattern literals are escaped once, up front.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import ndtr, ndtri

from ..spec.attributes import DEFAULT_STRENGTH
from ..spec.patterns import parse
from .attributes import number_quantile
from .fanout import followed_score
from .hashing import hashed_uniform, hashed_uuids
from .identifiers import number_width
from .patterns import row_values

COLUMN = "payload"
DECIMALS = 2  # a non-integer number is written rounded to cents


def payload_fields(plan, events) -> list[pa.Field]:
    """[the payload field] when an event of the table declares one (null on rows of the others), else []."""
    declared = [e for e in events if e.payload]
    if not declared:
        return []
    about = " ".join(f"{e.name}: {describe(plan, e)}" if len(events) > 1 else describe(plan, e) for e in declared)
    others = [e.name for e in events if not e.payload]
    text = ("JSON object as text (VARCHAR: parse with payload::json, json_extract(payload, '$.<key>') or "
            f"->> '<key>'); keys in this order, a key left out where its value is missing. {about}")
    if others:
        text += f" Null on {', '.join(others)} rows."
    width = max(_bytes(plan, e) for e in declared)
    return [pa.field(COLUMN, pa.string(), nullable=bool(others), metadata={"description": text, "bytes": str(width)})]


def _bytes(plan, event) -> int:
    """Longest object of an event, in bytes, plus its offset (what memory estimates count per row)."""
    width = 2 + 4
    for field in event.payload:
        if field.type == "category":
            value = max(len(json.dumps(v, ensure_ascii=False).encode()) for v in field.weights)
        elif field.type == "number":
            value = 24
        elif field.type == "uuid":
            value = 38
        else:
            value = 2 * len(field.pattern.encode()) + number_width(plan) + 2
        width += len(field.name) + 4 + value
    return width


def describe(plan, event) -> str:
    return "; ".join(_describe_field(plan, f) for f in event.payload) + "."


def _describe_field(plan, field) -> str:
    if field.type == "category":
        total = sum(field.weights.values())
        text = "one of " + ", ".join(f"{k} ({w / total:.0%})" for k, w in field.weights.items())
    elif field.type == "number":
        low, high = field.range
        text = f"{field.family} within [{low:g}, {high:g}]"
        text += f", median {field.median:g}" if field.median is not None else ""
        text += ", whole numbers" if field.integer else f", {DECIMALS} decimals"
        if field.follows:
            strength = field.strength if field.strength is not None else DEFAULT_STRENGTH
            text += (f", {'higher' if strength >= 0 else 'lower'} when the {plan.spec.unit}'s {field.follows} is "
                     f"higher that {plan.spec.window.grain} (latent correlation {strength:g})")
    elif field.type == "uuid":
        text = "UUID v4 text"
    else:
        text = f"text of the pattern '{field.pattern}'"
    lead = f"{field.description.rstrip('.')}, " if field.description else ""
    missing = f", absent from about {field.missing:.0%} of objects" if field.missing else ""
    return f"{field.name}: {lead}{text}{missing}"


def cell_rank(entity: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Each row's place (0, 1, ...) among the rows of its entity and period; those rows are consecutive."""
    n = len(entity)
    new = np.ones(n, dtype=bool)
    new[1:] = (entity[1:] != entity[:-1]) | (period[1:] != period[:-1])
    starts = np.flatnonzero(new)
    return np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))


def payload_values(plan, event, blocks, entity: np.ndarray, period: np.ndarray) -> pa.Array:
    """The payload of each row of one event (rows in generation order: by entity, period, then time)."""
    if not event.payload:
        return pa.nulls(len(entity), pa.string())
    keys = (entity, period, cell_rank(entity, period))
    parts = [_fragment(plan, event, f, keys, blocks) for f in event.payload]
    body = pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else parts[0]
    return pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 1), "}", "")


def _fragment(plan, event, field, keys, blocks) -> pa.Array:
    """`,"<key>":<value>` per row, or "" where the field is missing."""
    seed = plan.spec.seed
    names = ("payload", event.name, field.name)
    head = f',"{field.name}":'
    if field.type == "category":
        values = list(field.weights)
        w = np.array([field.weights[v] for v in values], dtype=np.float64)
        codes = np.searchsorted(np.cumsum(w) / w.sum(), hashed_uniform(seed, names, *keys), side="right")
        out = pa.array([head + json.dumps(v, ensure_ascii=False) for v in values]).take(
            np.minimum(codes, len(values) - 1))
    elif field.type == "number":
        out = pc.binary_join_element_wise(head, _number_text(plan, field, names, keys, blocks), "")
    else:
        text = (hashed_uuids(seed, names, *keys) if field.type == "uuid" else
                row_values(seed, names, parse(field.pattern)[0], keys, keys[0], number_width(plan), escape=True))
        out = pc.binary_join_element_wise(head + '"', text, '"', "")
    if field.missing:
        gone = hashed_uniform(seed, (*names, "missing"), *keys) < field.missing
        out = pc.if_else(pa.array(gone), pa.scalar("", pa.string()), out)
    return out


def _number_text(plan, field, names, keys, blocks) -> pa.Array:
    """The value at a hashed probability; with `follows`, mixed (as a latent normal) with the standard
    score of the followed series in the row's entity and period."""
    p = np.clip(hashed_uniform(plan.spec.seed, names, *keys), 2.0 ** -54, 1.0 - 2.0 ** -53)  # inside (0, 1)
    if field.follows:
        strength = field.strength if field.strength is not None else DEFAULT_STRENGTH
        scores = np.concatenate([followed_score(plan, b, field.follows) for b in blocks])
        ids = np.concatenate([b.ids for b in blocks])
        score = np.nan_to_num(scores[np.searchsorted(ids, keys[0]), keys[1]])
        p = ndtr(strength * score + np.sqrt(1.0 - strength ** 2) * ndtri(p))
    x = number_quantile(field, p)
    return pc.cast(pa.array(x if field.integer else np.round(x, DECIMALS)), pa.string())
