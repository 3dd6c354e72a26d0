"""Entity attributes and reference tables (component)."""
from __future__ import annotations

from .components import Component


class ReferenceComponent(Component):
    def active(self, plan) -> bool:
        return False


class AttributesComponent(Component):
    def active(self, plan) -> bool:
        return False
