"""Noise applied after correlation: jitter (of a family, optionally growing with the trajectory), outliers
and nulls (at random, or with a mechanism: missing.py); the spec's block, overridden key by key on a metric."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import StrictModel
from .missing import MissingValue, as_block

NoiseFamily = Literal["gaussian", "student_t", "laplace"]


class Noise(StrictModel):
    gaussian: float = Field(0.0, ge=0.0, le=1.0, description="jitter size, as a share of the metric's spread "
                            "(whatever its family)")
    family: NoiseFamily = Field("gaussian", description="shape of the jitter: gaussian, student_t (heavy "
                                "tails, `df`) or laplace; always scaled to the same variance")
    df: float = Field(5.0, gt=2.0, le=1000.0, description="degrees of freedom of student_t jitter")
    heteroscedastic: float = Field(0.0, ge=0.0, le=1.0, description=(
        "how much the jitter grows with the trajectory: its spread is (1 + h (2 position - 1)) times the size, "
        "from 1 - h at position 0 to 1 + h at 1"))
    outliers: float = Field(0.0, ge=0.0, le=0.2, description="share of cells replaced by an extreme tail value")
    missing: MissingValue = Field(0.0, description="share of cells set to null, at random, or a block "
                                  "{rate, mechanism, depends_on, strength}")

    @property
    def missing_block(self):
        return as_block(self.missing)


class NoiseOverride(StrictModel):
    """A metric's own noise: each key given replaces the spec's `noise` value for this metric."""

    gaussian: float | None = Field(None, ge=0.0, le=1.0)
    family: NoiseFamily | None = None
    df: float | None = Field(None, gt=2.0, le=1000.0)
    heteroscedastic: float | None = Field(None, ge=0.0, le=1.0)
    outliers: float | None = Field(None, ge=0.0, le=0.2)
    missing: MissingValue | None = None

    def over(self, base: Noise) -> Noise:
        given = {k: getattr(self, k) for k in type(self).model_fields if getattr(self, k) is not None}
        return base.model_copy(update=given)
