"""sync-sources: generated tables, columns, descriptions and tagged tests; the user's parts untouched."""
import os
from pathlib import Path

import pytest
import yaml

from dbt_plotsim.cli import main
from dbt_plotsim.errors import SpecError
from dbt_plotsim.sync import sync_file, sync_text

HERE = Path(__file__).parent
INPUT = HERE / "data" / "sync_input.yml"
GOLDEN = HERE / "golden" / "sync_expected.yml"
HEADER = ("# Expected result of `dbt-plotsim sync-sources tests/data/sync_input.yml`.\n"
          "# Regenerate after an intended change: PLOTSIM_REGENERATE=1 pytest tests/test_sync.py\n")


def _synced() -> str:
    return sync_text(INPUT.read_text(), str(INPUT), HERE)[0]


def test_matches_golden():
    text = _synced()
    if os.environ.get("PLOTSIM_REGENERATE"):
        GOLDEN.write_text(HEADER + text)
    assert HEADER + text == GOLDEN.read_text()


def test_idempotent():
    once = _synced()
    twice = sync_text(once, "x", HERE)[0]
    assert once == twice


def _tables(text: str) -> dict:
    source = yaml.safe_load(text)["sources"][0]
    return {t["name"]: t for t in source["tables"]}


def _tests(table: dict, column: str) -> list:
    col = next(c for c in table.get("columns", []) if c["name"] == column)
    return col.get("data_tests", [])


def test_registers_the_expected_tests():
    tables = _tables(_synced())
    assert set(tables) >= {"dim_date", "dim_company", "fct_engagement", "fct_mrr", "trajectory"}
    names = lambda tests: [next(iter(t)) if isinstance(t, dict) else t for t in tests]  # noqa: E731
    assert names(_tests(tables["dim_company"], "company_id")) == ["unique", "not_null"]
    assert names(_tests(tables["dim_date"], "period_start")) == ["dbt_plotsim.date_spine"]
    assert "relationships" in names(_tests(tables["fct_mrr"], "company_id"))
    lag = next(t for t in _tests(tables["fct_mrr"], "mrr") if "dbt_plotsim.lag_coherence" in t)
    assert lag["dbt_plotsim.lag_coherence"]["arguments"]["lag"] == 2
    corr = next(t for t in _tests(tables["fct_engagement"], "engagement") if "dbt_plotsim.correlation_within" in t)
    assert corr["dbt_plotsim.correlation_within"]["arguments"]["r"] == 0.7
    assert "follows engagement by 2 months" in next(
        c for c in tables["fct_mrr"]["columns"] if c["name"] == "mrr")["description"]


def test_keeps_user_tests_tables_sources_and_comments():
    text = _synced()
    tables = _tables(text)
    assert {"not_null": {"config": {"severity": "warn"}}} in _tests(tables["fct_mrr"], "mrr")
    assert tables["my_extra_table"] == {"name": "my_extra_table", "description": "not generated, not touched"}
    assert "# hand-written: kept as it is" in text
    crm = yaml.safe_load(text)["sources"][1]
    assert crm == {"name": "crm", "description": "a real source, left alone", "tables": [{"name": "contacts"}]}


def test_removed_metric_drops_its_managed_parts_only():
    data = yaml.safe_load(_synced())
    spec = data["sources"][0]["config"]["meta"]["synthetic"]
    spec["metrics"] = spec["metrics"][:1]
    spec["lags"], spec["correlations"] = [], []
    text = sync_text(yaml.safe_dump(data, sort_keys=False), "x", HERE)[0]
    tables = _tables(text)
    assert "fct_engagement" in tables
    # fct_mrr held a user test on mrr: the table stays, with only what the user wrote
    assert tables["fct_mrr"]["columns"] == [{"name": "mrr", "data_tests": [{"not_null": {"config": {"severity": "warn"}}}]}]


def test_removed_declared_table_drops_its_managed_parts():
    data = yaml.safe_load(_synced())
    spec = data["sources"][0]["config"]["meta"]["synthetic"]
    spec["reference"] = [{"name": "feature", "rows": [{"feature": "api"}, {"feature": "sso"}, {"feature": "audit"}]}]
    spec.setdefault("tables", {})["bridges"] = [{"reference": "feature", "name": "company_features",
                                                 "per_entity": {"min": 1, "max": 3}}]
    with_bridge = sync_text(yaml.safe_dump(data, sort_keys=False), "x", HERE)[0]
    bridge = _tables(with_bridge)["company_features"]
    assert "dbt_plotsim.unique_combination" in [next(iter(t)) for t in bridge["data_tests"]]
    data = yaml.safe_load(with_bridge)
    del data["sources"][0]["config"]["meta"]["synthetic"]["tables"]["bridges"]
    tables = _tables(sync_text(yaml.safe_dump(data, sort_keys=False), "x", HERE)[0])
    assert "company_features" not in tables  # not a fct_/dim_/evt_ name, but every part of it was ours
    assert tables["my_extra_table"] == {"name": "my_extra_table", "description": "not generated, not touched"}


def test_keep_description_flag(tmp_path):
    data = yaml.safe_load(INPUT.read_text())
    data["sources"][0]["tables"][0]["description"] = "my words"
    data["sources"][0]["tables"][0]["meta"] = {"plotsim_keep_description": True}
    text = sync_text(yaml.safe_dump(data, sort_keys=False), "x", HERE)[0]
    assert _tables(text)["fct_mrr"]["description"] == "my words"


def test_bad_spec_names_the_source_path_and_leaves_file(tmp_path):
    path = tmp_path / "sources.yml"
    text = INPUT.read_text().replace("range: [50, 50000]", "range: [500, 50]")
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        sync_file(path)
    assert any(line.startswith("sources.saas.config.meta.synthetic.metrics.mrr.range:") for line in err.value.lines())
    assert path.read_text() == text


def test_cli_sync_sources(tmp_path, capsys):
    path = tmp_path / "sources.yml"
    path.write_text(INPUT.read_text())
    assert main(["sync-sources", str(path)]) == 0
    assert "synced saas" in capsys.readouterr().out
    assert "dbt_plotsim.lag_coherence" in path.read_text()
