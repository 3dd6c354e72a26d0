"""Transaction facts with fan-out (component)."""
from __future__ import annotations

from .components import Component


class TransactionsComponent(Component):
    def active(self, plan) -> bool:
        return False
