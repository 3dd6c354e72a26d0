"""JSON payloads on events: the fields of the `payload` object each event row carries as text.

A field is a category (`weights`), a number (the keys of a number attribute: `range`, `distribution`,
`median`, `integer`, `follows`, `strength`), a `uuid` or a `pattern`; `missing` is the share of rows whose
object leaves the key out, as semi-structured sources do.
"""
from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import Field

from ..errors import Problem
from .attributes import NumberDistribution, Weights, _check_number, _check_weights, check_pattern
from .base import Identifier, StrictModel

PayloadType = Literal["category", "number", "uuid", "pattern"]
FIELD_KEYS: dict[str, str] = {
    "weights": "category",
    "distribution": "number", "range": "number", "median": "number", "integer": "number", "follows": "number",
    "strength": "number",
    "pattern": "pattern",
}


class PayloadField(StrictModel):
    """One key of the payload object, in declared order."""

    name: Identifier
    type: PayloadType
    description: str | None = None
    missing: float = Field(0.0, ge=0.0, lt=1.0, description="share of rows whose object leaves this key out")
    # category
    weights: Weights | None = None
    # number
    distribution: NumberDistribution | None = None
    range: tuple[float, float] | None = None
    median: float | None = None
    integer: bool | None = None
    follows: Identifier | None = None
    strength: float | None = Field(None, ge=-1.0, le=1.0)
    # pattern
    pattern: str | None = None

    @property
    def family(self) -> str:
        return self.distribution or "normal"


def check_payload(spec) -> list[Problem]:
    problems: list[Problem] = []
    for event in getattr(spec, "events", ()) or ():
        path = f"events.{event.name}.payload"
        for name, count in Counter(f.name for f in event.payload).items():
            if count > 1:
                problems.append(Problem(f"{path}.{name}", "payload field name used more than once; the keys of a "
                                        "JSON object must be unique"))
        for field in event.payload:
            problems.extend(_check_field(spec, f"{path}.{field.name}", field))
    return problems


def _check_field(spec, path: str, field: PayloadField) -> list[Problem]:
    problems = [Problem(f"{path}.{key}", f"applies to type {kind}, not {field.type}")
                for key, kind in FIELD_KEYS.items() if getattr(field, key) is not None and field.type != kind]
    if field.type == "category":
        if field.weights is None:
            problems.append(Problem(f"{path}.weights", "is required for type category: {value: weight, ...}"))
        else:
            problems.extend(_check_weights(f"{path}.weights", field.weights, None, ""))
    elif field.type == "number":
        problems.extend(_check_number(spec, path, field, {}, {}))
    elif field.type == "pattern":
        problems.extend(check_pattern(f"{path}.pattern", field.pattern))
    return problems
