"""Archetypes: curves over the window in [0, 1], composed of pieces that join without jumps.

Every piece starts where the previous one ended, so a composed curve is continuous by construction;
only the first piece may set a starting level (`from`, or `level` for a plateau).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import StrictModel

Shape = Literal["linear", "sigmoid", "exponential", "decay", "plateau", "step", "oscillation", "spike"]

Level = float  # a trajectory position, in [0, 1]


class CurvePiece(StrictModel):
    shape: Shape
    until: float | None = Field(None, gt=0.0, le=1.0, description="end of this piece as a fraction of the window")
    start: float | None = Field(None, alias="from", ge=0.0, le=1.0)
    level: float | None = Field(None, ge=0.0, le=1.0)
    to: float | None = Field(None, ge=0.0, le=1.0)
    steepness: float = Field(10.0, gt=0.0, le=200.0)
    midpoint: float = Field(0.5, gt=0.0, lt=1.0)
    rate: float = Field(3.0, gt=0.0, le=50.0)
    at: float = Field(0.5, gt=0.0, lt=1.0)
    peak: float | None = Field(None, ge=0.0, le=1.0)
    width: float = Field(0.2, gt=0.0, le=1.0)
    amplitude: float = Field(0.15, ge=0.0, le=0.5)
    cycles: float | None = Field(None, gt=0.0, le=10000.0)
    phase: float = Field(0.0, ge=0.0, lt=1.0)

    @property
    def initial_level(self) -> float | None:
        return self.start if self.start is not None else self.level


def _p(**kwargs) -> CurvePiece:
    return CurvePiece.model_validate(kwargs)


# Built-in archetypes: shape over the window, designed to stay inside [0.05, 0.95].
BUILTIN_ARCHETYPES: dict[str, tuple[CurvePiece, ...]] = {
    "growth": (_p(shape="sigmoid", **{"from": 0.2}, to=0.85, steepness=8),),
    "decline": (_p(shape="linear", **{"from": 0.8}, to=0.2),),
    "flat": (_p(shape="plateau", level=0.5),),
    "spike_then_crash": (
        _p(shape="plateau", level=0.45, until=0.25),
        _p(shape="linear", to=0.92, until=0.4),
        _p(shape="decay", to=0.1, rate=4),
    ),
    "accelerating": (_p(shape="exponential", **{"from": 0.15}, to=0.9, rate=3),),
    "recovery": (_p(shape="decay", **{"from": 0.7}, to=0.25, until=0.45, rate=3), _p(shape="sigmoid", to=0.8)),
    "seasonal": (_p(shape="oscillation", **{"from": 0.5}, amplitude=0.2),),
    "churn": (_p(shape="plateau", level=0.6, until=0.3), _p(shape="decay", to=0.05, rate=3)),
}


def check_pieces(pieces: tuple[CurvePiece, ...]) -> list[tuple[str, str]]:
    """Structural problems of a composed curve, as (relative path, message)."""
    problems: list[tuple[str, str]] = []
    if not pieces:
        return [("", "an archetype needs at least one piece")]
    previous = 0.0
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        problems.extend((f"[{index}].{key}", message) for key, message in check_piece_fields(piece))
        if index == 0 and piece.initial_level is None:
            problems.append((f"[{index}]", "the first piece needs a starting level: `from` (or `level` for a plateau)"))
        if index > 0 and piece.initial_level is not None:
            key = "level" if piece.level is not None else "from"
            problems.append(
                (f"[{index}].{key}", "only the first piece sets a starting level; later pieces continue from "
                 "where the previous one ended (use linear, sigmoid or step to move)")
            )
        until = 1.0 if (last and piece.until is None) else piece.until
        if until is None:
            problems.append((f"[{index}].until", "every piece but the last needs `until` (fraction of the window)"))
            continue
        if last and until != 1.0:
            problems.append((f"[{index}].until", f"the last piece must end at 1.0, got {until}"))
        if until <= previous:
            problems.append((f"[{index}].until", f"{until} must be after the previous piece's end {previous}"))
        previous = until
    return problems


MOVING_SHAPES = ("linear", "sigmoid", "exponential", "decay", "step")


def check_piece_fields(piece: CurvePiece) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if piece.shape in MOVING_SHAPES and piece.to is None:
        problems.append(("to", f"shape {piece.shape} needs `to`, the level it reaches at the end of the piece"))
    if piece.shape not in MOVING_SHAPES and piece.to is not None:
        problems.append(("to", f"shape {piece.shape} takes no `to`; shapes with `to`: {list(MOVING_SHAPES)}"))
    if piece.shape == "spike" and piece.peak is None:
        problems.append(("peak", "shape spike needs `peak`, the level at the top of the spike"))
    if piece.level is not None and piece.shape != "plateau":
        problems.append(("level", "`level` belongs to a plateau; other shapes start with `from`"))
    return problems
