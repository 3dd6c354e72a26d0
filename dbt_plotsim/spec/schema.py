"""Optional declaration of the fact tables; without it each metric gets its own fact table."""
from __future__ import annotations

from pydantic import Field

from .base import Identifier, StrictModel


class FactTable(StrictModel):
    name: Identifier
    metrics: tuple[Identifier, ...] = Field(min_length=1)
    description: str | None = None


class Tables(StrictModel):
    facts: tuple[FactTable, ...] | None = None
    trajectory: bool = Field(True, description="emit the ground-truth trajectory table")
