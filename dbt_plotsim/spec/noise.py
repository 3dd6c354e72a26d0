"""Noise applied after correlation: jitter, outliers and missing-completely-at-random nulls."""
from __future__ import annotations

from pydantic import Field

from .base import StrictModel


class Noise(StrictModel):
    gaussian: float = Field(0.0, ge=0.0, le=1.0, description="jitter, as a share of the metric's spread")
    outliers: float = Field(0.0, ge=0.0, le=0.2, description="share of cells replaced by an extreme tail value")
    missing: float = Field(0.0, ge=0.0, le=0.9, description="share of cells set to null, at random")
