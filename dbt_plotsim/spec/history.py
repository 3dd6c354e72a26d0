"""Attributes that change with the trajectory (SCD2 history) and lifecycle stages."""
from __future__ import annotations

from .base import Identifier, StrictModel


class History(StrictModel):
    attribute: Identifier


class Stages(StrictModel):
    states: tuple[Identifier, ...] = ()


def check_history(spec) -> list:
    return []
