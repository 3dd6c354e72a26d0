"""Transaction facts whose rows per entity-period follow a metric, with child line facts under them."""
from __future__ import annotations

from .base import Identifier, StrictModel


class Transaction(StrictModel):
    name: Identifier


def check_transactions(spec) -> list:
    return []
