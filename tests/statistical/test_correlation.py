"""Declared r is what a user measures: pooled Pearson of the two output columns (non-null pairs)."""
from pathlib import Path

import pytest
import yaml

from .common import columns, generate, medium_spec, pooled_r

CASES = yaml.safe_load((Path(__file__).parent / "cases_correlation.yml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_pooled_pearson_matches_declared(case):
    spec = medium_spec([case["a"], case["b"]], correlations=[{"between": ["a", "b"], "r": case["r"]}])
    cols = columns(generate(spec))
    assert pooled_r(cols["a"], cols["b"]) == pytest.approx(case["r"], abs=case["tolerance"])


def test_with_lag_and_all_noise_kinds(example):
    """The README example: a lagged follower, jitter, outliers and nulls, still on target."""
    cols = columns(generate(example), unit="company")
    assert pooled_r(cols["engagement"], cols["mrr"]) == pytest.approx(0.8, abs=0.03)
    assert pooled_r(cols["engagement"], cols["support_tickets"]) == pytest.approx(-0.5, abs=0.03)


def test_three_way_declared_matrix():
    metrics = [{"name": n, "type": "score"} for n in "abc"]
    corr = [{"between": ["a", "b"], "r": 0.7}, {"between": ["a", "c"], "r": 0.5}, {"between": ["b", "c"], "r": 0.6}]
    cols = columns(generate(medium_spec(metrics, correlations=corr)))
    for c in corr:
        assert pooled_r(cols[c["between"][0]], cols[c["between"][1]]) == pytest.approx(c["r"], abs=0.03)


def test_the_check_can_fail():
    """Undeclared, two same-polarity metrics correlate through the trajectory, far from a declared 0.1."""
    metrics = [{"name": "a", "type": "score"}, {"name": "b", "type": "score"}]
    cols = columns(generate(medium_spec(metrics)))
    assert abs(pooled_r(cols["a"], cols["b"]) - 0.1) > 0.2
