"""How calibration treats what cannot hold and what nobody declared."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import StrictModel


class CalibrationOptions(StrictModel):
    on_conflict: Literal["reject", "nearest"] = Field("reject", description=(
        "reject: a spec whose declared correlations cannot hold is an error; nearest: generate with the "
        "nearest values that hold, warn, and record declared and delivered values side by side"))
    undeclared: Literal["free", "near_zero"] = Field("free", description=(
        "free: pairs nobody declared correlate as the trajectory makes them; near_zero: their own variations "
        "are set against each other to keep them near 0 where the declared relations allow"))
