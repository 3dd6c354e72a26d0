"""Sub-entities (component)."""
from __future__ import annotations

from .components import Component


class ChildrenComponent(Component):
    def active(self, plan) -> bool:
        return False
