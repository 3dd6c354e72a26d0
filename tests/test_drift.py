"""Drift kinds (engine/drift.py) and system keys (engine/record_keys.py) on their own: the documented examples,
no drifted value equal to the truth, and a key map that is a bijection without overflow."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from dbt_plotsim.engine import drift
from dbt_plotsim.engine.record_keys import affine, mulmod

NAMES = pa.array(["Moses Inc", "Fischer LLC", "Stein, Ford and Neal", "Hays Ltd", "Porter-Atkins", "Acme Incorporated",
                  "Pope and Sons", "Andrade Group", "Vega PLC", "A", ""])


@pytest.mark.parametrize("kind, value, expected", [
    ("suffix", "Moses Inc", "Moses Incorporated"), ("suffix", "Acme Incorporated", "Acme Inc."),
    ("suffix", "Hays Ltd", "Hays Limited"), ("suffix", "Fischer LLC", "Fischer L.L.C."),
    ("suffix", "Vega PLC", "Vega P.L.C."), ("suffix", "Pope and Sons", "Pope & Sons"),
    ("suffix", "Andrade Group", "Andrade Grp"),
    ("code", "United States of America", "USA"), ("code", "Germany", "GER"), ("code", "north_america", "NA"),
    ("code", "Cocos (Keeling) Islands", "CI"), ("label", "north_america", "North America"),
    ("dots", "john.smith@acme.com", "johnsmith@acme.com"), ("dots", "jsmith@acme.com", "j.smith@acme.com"),
    ("dots", "j_smith@acme.com", "j.smith@acme.com"), ("digits", "(892)979-1936", "8929791936"),
    ("case", "Moses Inc", "MOSES INC"), ("case", "EMEA", "emea"),
])
def test_documented_examples(kind, value, expected):
    assert drift.KINDS[kind](pa.array([value]), np.array([0.1]))[0].as_py() == expected


def test_domain_moves_the_local_part_to_a_free_domain():
    out = drift.domain(pa.array(["ann@gmail.com", "bo@acme.com"]), np.array([0.0, 0.0])).to_pylist()
    assert out == ["ann@outlook.com", "bo@gmail.com"]


def test_typo_drops_or_swaps_one_character_but_never_the_first():
    u = np.linspace(0, 0.999, 400)
    text = pa.array(["Fischer LLC"] * len(u))
    for value in drift.typo(text, u).to_pylist():
        assert value[0] == "F" and (len(value) == 10 or sorted(value) == sorted("Fischer LLC"))


@pytest.mark.parametrize("kinds", [("case",), ("whitespace",), ("typo",), ("suffix",), ("code",), ("label",),
                                   ("digits",), ("dots", "domain"), ("case", "whitespace", "typo", "suffix")])
def test_a_drifted_value_never_equals_the_truth(kinds):
    rng = np.random.default_rng(3)
    text = pa.array(np.resize(NAMES.to_pylist() + ["a@b.co", "EMEA", "5551234"], 2000).tolist())
    out = drift.drifted(text, kinds, rng.random(len(text)), rng.random(len(text)))
    assert len(out) == len(text) and not any(a == b for a, b in zip(out.to_pylist(), text.to_pylist()))


@pytest.mark.parametrize("width", [1, 2, 3, 5])
def test_the_key_map_is_a_bijection(width):
    modulus = 10**width
    a, b = affine(7, "crm", modulus)
    keys = mulmod(np.arange(modulus), a, b, modulus)
    assert sorted(keys) == list(range(modulus))


def test_the_key_map_does_not_overflow_at_18_digits():
    modulus = 10**18
    a, b = affine(7, "crm", modulus)
    x = np.array([0, 1, 2, 10**17, modulus - 1, 123456789012345678], dtype=np.int64)
    assert mulmod(x, a, b, modulus).tolist() == [(a * int(v) + b) % modulus for v in x]
    assert a % 2 == 1 and a % 5 != 0
