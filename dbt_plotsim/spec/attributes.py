"""Entity attributes (dim_<unit> columns) and reference lookup tables."""
from __future__ import annotations

from .base import Identifier, StrictModel


class Attribute(StrictModel):
    name: Identifier


class ReferenceTable(StrictModel):
    name: Identifier


def check_attributes(spec) -> list:
    return []
