"""A spec that cannot hold: rejected with nearest values, or (calibration.on_conflict: nearest) generated
with them, warning and recording declared and delivered values side by side."""
from __future__ import annotations

import json

import numpy as np
import pytest

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.engine.fitted import relations
from dbt_plotsim.engine.plan import plan_for

from .conftest import small_dict


def _contradicting() -> dict:
    """Tickets fall as engagement rises (negative polarity, signals set high), yet +0.8 is declared."""
    data = small_dict()
    for metric in data["metrics"]:
        metric["signal"] = 0.9
    names = [m["name"] for m in data["metrics"]]
    data["metrics"][2]["polarity"] = "negative"
    data["correlations"] = [{"between": [names[0], names[2]], "r": 0.8}]
    data["lags"] = []
    return data


def test_rejected_by_default_with_nearest_values():
    with pytest.raises(SpecError) as caught:
        load_spec(_contradicting())
    assert "nearest value that holds: r: " in str(caught.value)


def test_nearest_generates_warns_and_records_both_values(tmp_path):
    data = _contradicting()
    data["calibration"] = {"on_conflict": "nearest"}
    spec = load_spec(data)
    plan = plan_for(spec)
    key = "~".join(data["correlations"][0]["between"])
    assert plan.warnings and key in plan.warnings[0] and "on_conflict: nearest" in plan.warnings[0]
    row = next(r for r in relations(plan) if r["kind"] == "correlation")
    assert row["declared"] == 0.8 and row["value"] < 0.8
    assert row["delivered"] == pytest.approx(row["value"], abs=0.01)
    tables = dbt_plotsim.generate(spec)
    a, b = data["correlations"][0]["between"]
    x = tables[f"fct_{a}"].column(a).to_numpy(zero_copy_only=False).astype(float)
    y = tables[f"fct_{b}"].column(b).to_numpy(zero_copy_only=False).astype(float)
    ok = ~(np.isnan(x) | np.isnan(y))
    assert np.corrcoef(x[ok], y[ok])[0, 1] == pytest.approx(row["value"], abs=0.05)  # a small spec: wider
    dbt_plotsim.write_parquet(spec, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "_plotsim_manifest.json").read_text())
    assert {"declared": 0.8, "value": row["value"]}.items() <= next(
        r for r in manifest["relations"] if r["kind"] == "correlation").items()
