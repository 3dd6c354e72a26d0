"""A CI slice of the spec fuzzer (tests/fuzzing.py): 1,000 seeded two-edit mutants of a small spec, each
accepted and generated or refused with problems under YAML paths; nothing else escapes.
`python scripts/fuzz_specs.py` runs more seeds and edit counts."""
from __future__ import annotations

import random

from .fuzzing import mutate, outcome

CASES = 1000


def test_every_mutant_is_accepted_or_refused_with_paths():
    rng = random.Random(20261202)
    seen = {"accepted": 0, "refused": 0}
    for case in range(CASES):
        spec = mutate(rng, edits=2)
        try:
            seen[outcome(spec)] += 1
        except Exception as exc:  # pragma: no cover - the mutant is the report
            raise AssertionError(f"mutant {case} escaped with {type(exc).__name__}: {exc}\n{spec!r:.2000}") from exc
    assert seen["accepted"] > 0 and seen["refused"] > 0, seen  # the fuzzer reaches both sides
