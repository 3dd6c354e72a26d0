"""Segments: groups of entities that share an archetype, each entity with its own variation of it."""
from __future__ import annotations

from pydantic import Field

from .base import Identifier, StrictModel
from .lifecycle import Arrivals


class Segment(StrictModel):
    name: Identifier
    count: int = Field(ge=0, le=100_000_000)
    archetype: Identifier
    variation: float = Field(
        0.3, ge=0.0, le=1.0, description="how much entities of the segment differ from each other (0 = copies)"
    )
    arrivals: Arrivals | None = Field(None, description="overrides the spec's `arrivals` for this segment")
