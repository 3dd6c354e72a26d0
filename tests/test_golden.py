"""Golden determinism: the README example generates exactly the recorded tables.

On an intended change of generated values, regenerate with `python tests/golden/regenerate.py`
and explain the change in the commit message.
"""
import json

import pytest

from .golden.regenerate import GOLDEN, snapshot


@pytest.fixture(scope="module")
def current():
    return snapshot()


@pytest.mark.parametrize("table", sorted(json.loads(GOLDEN.read_text())))
def test_table_matches_golden(current, table):
    expected = json.loads(GOLDEN.read_text())[table]
    assert current[table]["rows"] == expected["rows"]
    assert current[table]["head"] == expected["head"]
    assert current[table]["sha256"] == expected["sha256"]
