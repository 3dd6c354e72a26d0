"""SCD2 history and lifecycle stages (component)."""
from __future__ import annotations

from .components import Component


class HistoryComponent(Component):
    def active(self, plan) -> bool:
        return False


class StagesComponent(Component):
    def active(self, plan) -> bool:
        return False
