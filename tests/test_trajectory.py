"""Curves: built-ins stay in [0, 1], composed curves never jump, entities of a segment differ."""
import numpy as np
import pytest

from dbt_plotsim.engine import trajectory
from dbt_plotsim.engine.rng import stream
from dbt_plotsim.spec.archetypes import BUILTIN_ARCHETYPES, CurvePiece

FINE = np.linspace(0.0, 1.0, 4001)


def _curves(pieces, n=200, variation=0.3, seed=1):
    return trajectory.draw_entity_curves(pieces, variation, stream(seed, "t"), n)


def _pieces(*raw):
    return tuple(CurvePiece.model_validate(p) for p in raw)


@pytest.mark.parametrize("name", sorted(BUILTIN_ARCHETYPES))
def test_builtin_archetypes_stay_inside_unit_interval(name):
    pos = trajectory.positions(BUILTIN_ARCHETYPES[name], _curves(BUILTIN_ARCHETYPES[name]), FINE, 3.0, clip=False)
    assert pos.min() >= 0.0 and pos.max() <= 1.0


@pytest.mark.parametrize("name", sorted(BUILTIN_ARCHETYPES))
def test_composed_curves_never_jump(name):
    """Largest step between neighbouring points of a 4001-point grid: a jump at a join would show as a
    step of the size of the level difference; a continuous curve's step shrinks with the grid."""
    pieces = BUILTIN_ARCHETYPES[name]
    pos = trajectory.positions(pieces, _curves(pieces), FINE, 3.0)
    assert np.abs(np.diff(pos, axis=1)).max() < 0.01  # tolerance: 40x finer than any level change


def test_join_continuity_with_oscillation_ending_mid_cycle():
    pieces = _pieces(
        {"shape": "oscillation", "from": 0.5, "amplitude": 0.2, "cycles": 1.25, "until": 0.5},
        {"shape": "linear", "to": 0.1},
    )
    pos = trajectory.positions(pieces, _curves(pieces, variation=0.0), FINE, 2.0)
    assert np.abs(np.diff(pos, axis=1)).max() < 0.01
    assert pos[0, 2000] == pytest.approx(0.7, abs=0.01)  # 1.25 cycles end on the crest


def test_a_jump_would_be_detected():
    """The continuity check can fail: a curve that jumps from 0.2 to 0.9 at a join is caught."""
    jumping = np.where(FINE < 0.5, 0.2, 0.9)[None, :]
    assert np.abs(np.diff(jumping, axis=1)).max() > 0.01


def test_step_is_a_fast_transition_not_a_jump():
    pieces = _pieces({"shape": "plateau", "level": 0.2, "until": 0.5}, {"shape": "step", "to": 0.9, "at": 0.1})
    pos = trajectory.positions(pieces, _curves(pieces, variation=0.0), np.linspace(0, 1, 25), 2.0)
    assert pos[0, 11] == pytest.approx(0.2, abs=0.01) and pos[0, 16] == pytest.approx(0.9, abs=0.01)


def test_entities_of_a_segment_differ():
    pieces = BUILTIN_ARCHETYPES["growth"]
    pos = trajectory.positions(pieces, _curves(pieces, n=100), np.linspace(0, 1, 36), 3.0)
    distinct_rows = np.unique(np.round(pos, 9), axis=0)
    assert len(distinct_rows) == 100
    # and not trivially: per-period spread across entities is material
    assert pos.std(axis=0).mean() > 0.02


def test_zero_variation_makes_copies():
    pieces = BUILTIN_ARCHETYPES["growth"]
    pos = trajectory.positions(pieces, _curves(pieces, n=10, variation=0.0), np.linspace(0, 1, 36), 3.0)
    assert np.allclose(pos, pos[0])


def test_curve_reaches_declared_levels():
    pieces = _pieces({"shape": "plateau", "level": 0.3, "until": 0.4}, {"shape": "sigmoid", "to": 0.9})
    pos = trajectory.positions(pieces, _curves(pieces, n=1, variation=0.0), np.array([0.0, 0.2, 1.0]), 2.0)
    assert pos[0].tolist() == pytest.approx([0.3, 0.3, 0.9], abs=1e-9)


def test_entity_draws_do_not_depend_on_block_length():
    pieces = BUILTIN_ARCHETYPES["recovery"]
    few = _curves(pieces, n=5)
    many = _curves(pieces, n=500)
    assert np.array_equal(few.levels, many.levels[:5]) and np.array_equal(few.shift, many.shift[:5])
