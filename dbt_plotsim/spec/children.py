"""Sub-entities: units under the main unit (users under companies), with their own dim table."""
from __future__ import annotations

from .base import Identifier, StrictModel


class Child(StrictModel):
    name: Identifier


def check_children(spec) -> list:
    return []
