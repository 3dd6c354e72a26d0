"""Specs written the way a new user would (tests/statistical/specs/*.yml): what they declare holds.

For every accepted spec, at its 3,000+ entities: every declared pooled r within R_TOLERANCE on the rows that
exist; every declared lag peaks at its k (time-demeaned changes, as lag_coherence measures) by LAG_MARGIN;
nothing outside a declared range; each metric's values against its declared family within KS_TOLERANCE, and
a seasonal metric's values in every calendar month against that month's scaled family. A rejected spec
names the clash and prints nearest values that are accepted as printed. `python scripts/suite_report.py` prints every figure.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import dbt_plotsim
from dbt_plotsim.errors import SpecError

from .measure import load, measure_spec

SPECS = sorted((Path(__file__).parent / "specs").glob("*.yml"))
R_TOLERANCE = 0.02
LAG_MARGIN = 0.1
KS_TOLERANCE = 0.03
MIN_ACCEPTED = 11  # of the 12
MIN_MEDIAN_SIGNAL = 0.5  # metrics keep following their trajectory


@pytest.fixture(scope="module")
def reports():
    return {path.stem: measure_spec(path) for path in SPECS}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_declared_values_hold(path, reports):
    report = reports[path.stem]
    if not report.accepted:
        pytest.skip("rejected: see test_rejected_spec_prints_nearest_values_that_hold")
    for key, (declared, measured) in report.r_errors.items():
        assert measured == pytest.approx(declared, abs=R_TOLERANCE), key
    for key, (declared, best, margin) in report.lag_peaks.items():
        assert best == declared and margin >= LAG_MARGIN, (key, best, margin)
    assert not any(report.outside_range.values()), report.outside_range
    for name, distance in report.ks_pooled.items():
        assert distance <= KS_TOLERANCE, (name, distance)
    for name in report.seasonal:  # a seasonal metric keeps its (scaled) family in every calendar month
        assert report.ks_bucket[name] <= KS_TOLERANCE, (name, report.ks_bucket[name])
    assert report.median_signal >= MIN_MEDIAN_SIGNAL, report.signals


def test_most_specs_are_accepted_as_written(reports):
    accepted = [name for name, report in reports.items() if report.accepted]
    assert len(accepted) >= MIN_ACCEPTED, accepted


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_rejected_spec_prints_nearest_values_that_hold(path, reports):
    report = reports[path.stem]
    if report.accepted:
        pytest.skip("accepted")
    found = re.findall(r"correlations\.(\w+~\w+)\.r: .*?nearest value that holds: r: (-?[\d.]+)", report.error)
    assert found, report.error
    raw = load(path)
    nearest = dict(found)
    for corr in raw["correlations"]:
        key = "~".join(corr["between"])
        if key in nearest:
            corr["r"] = float(nearest[key])
    try:
        dbt_plotsim.load_spec(raw)
    except SpecError as error:  # pragma: no cover - the failure message is the point
        pytest.fail(f"the printed nearest values are rejected: {error}")
