"""Seeded mutation fuzzing of specs: every mutant is accepted (and generates) or refused with problems that
each name a YAML path; nothing else may escape. Used by tests/test_fuzz.py (a CI slice) and
scripts/fuzz_specs.py (the full run)."""
from __future__ import annotations

import copy
import math
import random
from typing import Any

from .conftest import tiny_dict

ODD_VALUES = [None, 0, -1, 1e308, -1e-308, math.nan, math.inf, "", "x" * 5000, "déjà\nvu", [], {}, [1, 2],
              {"a": 1}, True, "2024-13-45", "growth", 0.5, 10**12, "'; drop table x; --", [[[[]]]]]
KEY_TYPOS = {"metrics": "metric", "segments": "segmnts", "correlations": "corelations", "window": "windw",
             "range": "rnage", "between": "betwen", "periods": "period", "archetype": "archtype"}


def _paths(node: Any, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, prefix + (i,))
    return out


def _parent(root, path):
    node = root
    for step in path[:-1]:
        node = node[step]
    return node


def mutate(rng: random.Random, base: dict | None = None, edits: int | None = None) -> dict:
    spec = copy.deepcopy(base or tiny_dict())
    for _ in range(edits or rng.randint(1, 3)):
        paths = [p for p in _paths(spec) if p]
        path = rng.choice(paths)
        parent = _parent(spec, path)
        key = path[-1]
        action = rng.randrange(6)
        if action == 0:  # drop
            del parent[key]
        elif action == 1:  # replace by an odd value
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif action == 2 and isinstance(key, str):  # misspell the key
            parent[KEY_TYPOS.get(key, key + "x")] = parent.pop(key)
        elif action == 3 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
            parent[key] = parent[key] * rng.choice([-1, 0, 1e6, 1e-6, 2])  # scale a number
        elif action == 4 and isinstance(parent, list):  # duplicate an item
            parent.append(copy.deepcopy(parent[key]))
        else:  # nest deeper
            parent[key] = {"nested": parent[key]}
    return spec


def outcome(spec: dict) -> str:
    """'accepted', or 'refused' when every problem names a path; raises anything else (a finding)."""
    import dbt_plotsim
    from dbt_plotsim.errors import SpecError

    try:
        loaded = dbt_plotsim.load_spec(spec)
    except SpecError as exc:
        assert exc.problems, "a SpecError without problems"
        for problem in exc.problems:
            assert problem.message and len(problem.render()) < 2000, problem
        return "refused"
    tables = dbt_plotsim.generate(loaded)
    assert tables, "accepted but generated nothing"
    return "accepted"
