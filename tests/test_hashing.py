"""Per-row hashes: UUID format and version, uniqueness, and independence from the rows around them."""
import re
import uuid

import numpy as np

from dbt_plotsim.engine.hashing import hashed_uniform, hashed_uuids

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_uuids_are_version_4_text_and_unique():
    keys = np.arange(200_000)
    values = hashed_uuids(7, ("account", "uuid"), keys).to_pylist()
    assert all(UUID4.match(v) for v in values[:5000])
    assert all(uuid.UUID(v).version == 4 for v in values[:1000])
    assert len(set(values)) == len(values)


def test_uuids_depend_on_the_row_and_the_names_only():
    keys = np.arange(1000)
    whole = hashed_uuids(7, ("a",), keys).to_pylist()
    assert hashed_uuids(7, ("a",), keys[500:]).to_pylist() == whole[500:]
    assert hashed_uuids(7, ("b",), keys).to_pylist() != whole
    assert hashed_uuids(8, ("a",), keys).to_pylist() != whole


def test_uniforms_are_uniform():
    u = hashed_uniform(3, ("x",), np.arange(100_000))
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert 0 <= u.min() and u.max() < 1
    assert np.all(np.abs(counts - 10_000) < 4 * np.sqrt(10_000 * 0.9))  # 4 sigma of the binomial
