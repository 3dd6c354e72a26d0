"""The integration dbt project (integration_tests/), run in this process against a fresh DuckDB file.

One module setup: `dbt deps` + `run-operation generate_synthetic --args {force: true}` + one
`dbt build --exclude tag:expected_failure tag:loads`; the other checks reuse that warehouse. A hook build on a second
file and a one-source project in tmp (bad spec, no plugin) re-parse; about 45 s. Then the templates project
(integration_tests/templates: every bundled template with its synced tests) in one hook build, about 35 s.
"""
from __future__ import annotations

import duckdb
import pytest
import yaml

from .conftest import ROOT, failures, set_env, why_failed

PROJECT = ROOT / "integration_tests"
SOURCES = {"inline", "saas", "clinics", "stores", "app_daily", "growing", "messy", "csv_clinics", "hive_clinics"}
GENERIC_TESTS = ("date_spine", "correlation_within", "lag_coherence", "complete_panel")

# Every test tagged expected_failure, and what its failing row says.
EXPECTED_FAILURES = {
    "expected_failure_orphan_company": "999999",
    "expected_failure_incomplete_panel": "missing periods",
    "expected_failure_spine_gap": "gap after 2024-05-01: next start is 2024-07-01, expected 2024-06-01",
    "expected_failure_spine_duplicate": "duplicate: 2 rows start on",
    "expected_failure_wrong_lag": "peaks at best_lag, not at the declared lag",
    "expected_failure_wrong_r": "differs from the declared r by more than the tolerance",
    "expected_failure_no_declared_r": "has no correlation between nps and mrr",
    "expected_failure_no_declared_lag": "has no lag chain from nps back to engagement",
    "expected_failure_defects_left": "still duplicated",
    "expected_failure_orphans_left": "'orphan', ",
    "expected_failure_drift_ignored": "'schema_drift', ",
    "expected_failure_truth_mismatch": ", 1.0)",
}


class Log:
    """dbt's log lines of the invocations made while it is attached to the runner."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, event) -> None:
        self.lines.append(event.info.msg)

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture(scope="module")
def log(dbt):
    recorder = Log()
    dbt.runner.callbacks.append(recorder)
    yield recorder
    dbt.runner.callbacks.remove(recorder)


@pytest.fixture(scope="module")
def it(dbt, warehouse, log, tmp_path_factory):
    """The integration project generated and built once into warehouse/integration.duckdb."""
    db = warehouse / "integration.duckdb"
    set_env("PLOTSIM_IT_DB", str(db))
    target = tmp_path_factory.mktemp("it_target")  # keep integration_tests/target for manual runs
    flags = ("--target-path", str(target), "--log-path", str(target))

    def run(*args: str, vars: dict | None = None):
        log.lines.clear()
        return dbt(PROJECT, *args, *flags, vars=vars)

    deps = dbt(PROJECT, "deps")
    assert deps.success, deps.exception
    generated = run("run-operation", "generate_synthetic", "--args", "{force: true}")
    assert generated.success, generated.exception or log.text()
    assert log.text().count("OK synthetic source") == len(SOURCES), log.text()
    build = run("build", "--exclude", "tag:expected_failure", "tag:loads")
    return {"db": db, "run": run, "build": build}


def query(db, sql: str) -> list[tuple]:
    with duckdb.connect(str(db)) as conn:  # not read_only: dbt-duckdb keeps the file open in this process
        return conn.execute(sql).fetchall()


def generated_at(db) -> dict[str, object]:
    out = {}
    for source in SOURCES:
        out.update(dict(query(db, f"select source_name, generated_at from it_{source}._plotsim_state")))
    return out


def test_build_passes_every_test(it):
    build = it["build"]
    assert build.success, why_failed(build, it["db"]) or build.exception
    results = build.result.results
    bad = [(r.node.name, str(r.status)) for r in results if str(r.status) not in ("success", "pass")]
    assert bad == []
    tests = [r.node for r in results if r.node.resource_type == "test"]
    assert len(tests) >= 90
    assert not any("expected_failure" in t.tags for t in tests)
    models = {r.node.name for r in results if r.node.resource_type == "model"}
    assert {"stg_inline__company_months", "agg_saas__segment_months", "fx_inline__fct_mrr_with_orphan"} <= models
    # each package test ran on sources and on models
    for generic in GENERIC_TESTS:
        on = {t.name.startswith(f"dbt_plotsim_source_{generic}") for t in tests if t.test_metadata.name == generic}
        assert on == {True, False}, generic


def test_expected_failures_all_fail(it):
    result = it["run"]("test", "--select", "tag:expected_failure")
    assert not result.success
    results = [r for r in result.result.results if r.node.resource_type == "test"]
    assert {r.node.name for r in results} == set(EXPECTED_FAILURES)
    assert sorted(failures(result)) == sorted(EXPECTED_FAILURES)
    assert {str(r.status) for r in results} == {"fail"}, why_failed(result)  # failing rows, not errors
    for r in results:  # and they fail for the reason the fixture was built for
        rows = query(it["db"], r.node.compiled_code)
        assert EXPECTED_FAILURES[r.node.name] in str(rows), (r.node.name, rows)


def test_generation_is_skipped_when_nothing_changed(it, log):
    before = generated_at(it["db"])
    assert set(before) == SOURCES
    again = it["run"]("run-operation", "generate_synthetic")
    assert again.success, again.exception or log.text()
    assert log.text().count("SKIP synthetic source") == len(SOURCES), log.text()
    assert generated_at(it["db"]) == before


def test_file_layouts_through_dbt_hold_the_duckdb_rows(it):
    """The clinics spec as CSV files and as Parquet partitioned by period: the typed views dbt reads give
    exactly the rows (and types) of the clinics source's DuckDB tables."""
    files = PROJECT / "target" / "files"
    assert (files / "csv_clinics" / "fct_clinic_monthly.csv").is_file()
    assert any((files / "hive_clinics" / "fct_clinic_monthly").glob("date_key=*/part-*.parquet"))
    for layout in ("csv_clinics", "hive_clinics"):
        for table in ("dim_clinic", "fct_clinic_monthly", "fct_clinic_staffing"):
            def types(schema: str) -> list[tuple]:
                return query(it["db"], "select column_name, data_type from information_schema.columns where "
                                       f"table_schema = '{schema}' and table_name = '{table}' order by column_name")

            assert types("it_clinics") == types(f"it_{layout}") != [], (layout, table)
            for a, b in (("it_clinics", f"it_{layout}"), (f"it_{layout}", "it_clinics")):
                extra = query(it["db"], f"select count(*) from (select * from {a}.{table} except all "
                                        f"select * from {b}.{table})")[0][0]
                assert extra == 0, (layout, table, a, b)


def test_file_and_path_resolve_against_project_dir(it, log, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anywhere but the project
    result = it["run"]("run-operation", "generate_synthetic", "--args", "{select: clinics, force: true}")
    assert result.success, log.text()  # clinics reads file: specs/clinics.yml


def test_select_takes_a_dbt_style_string(it, log):
    log.lines.clear()
    result = it["run"]("run-operation", "generate_synthetic", "--args", '{select: "clinics stores", force: true}')
    assert result.success, log.text()
    assert log.text().count("OK synthetic source") == 2, log.text()


def test_hook_generates_then_builds(it, warehouse, log):
    """`dbt build --vars '{plotsim_generate: true}'` on an empty database: the on-run-start hook generates."""
    fresh = warehouse / "hook.duckdb"
    set_env("PLOTSIM_IT_DB", str(fresh))
    try:
        build = it["run"]("build", "--select", "source:saas+", "--exclude", "tag:expected_failure",
                          vars={"plotsim_generate": True})
        assert build.success, why_failed(build) or build.exception or log.text()
        assert log.text().count("OK synthetic source") == len(SOURCES), log.text()
        assert set(generated_at(fresh)) == SOURCES
        nodes = [r.node for r in build.result.results]
        assert any(n.name == "agg_saas__segment_months" for n in nodes)
        assert sum(n.resource_type == "test" for n in nodes) >= 15
    finally:
        set_env("PLOTSIM_IT_DB", str(it["db"]))


def test_hook_selects_and_forces_through_vars(it, log):
    """On the generated warehouse: plotsim_select picks the sources the hook visits, plotsim_force regenerates."""
    before = generated_at(it["db"])
    run = it["run"]("run", "--select", "stg_inline__company_months",
                    vars={"plotsim_generate": True, "plotsim_select": "clinics stores", "plotsim_force": True})
    assert run.success, why_failed(run) or run.exception or log.text()
    assert log.text().count("OK synthetic source") == 2 and "SKIP synthetic source" not in log.text(), log.text()
    after = generated_at(it["db"])
    assert {name for name in SOURCES if after[name] != before[name]} == {"clinics", "stores"}
    run = it["run"]("run", "--select", "stg_inline__company_months",
                    vars={"plotsim_generate": True, "plotsim_select": "clinics"})
    assert run.success, log.text()
    assert log.text().count("SKIP synthetic source") == 1 and "OK synthetic source" not in log.text(), log.text()
    assert generated_at(it["db"]) == after


@pytest.fixture(scope="module")
def small_project(dbt, tmp_path_factory):
    """A one-source project with integration_tests' profile (dev and no_plugin targets) on its own DuckDB
    file; its synthetic spec has a range with min > max."""
    project = tmp_path_factory.mktemp("bad_spec")
    db = project / "bad.duckdb"
    (project / "models").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: plotsim_bad_spec\nversion: '1.0.0'\nconfig-version: 2\nprofile: plotsim_integration_tests\n")
    (project / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(ROOT)}]}))
    profile = (PROJECT / "profiles.yml").read_text()
    expression = "{{ env_var('PLOTSIM_IT_DB', 'target/integration.duckdb') }}"
    assert expression in profile
    (project / "profiles.yml").write_text(profile.replace(expression, str(db)))
    (project / "models" / "sources.yml").write_text(yaml.safe_dump({"version": 2, "sources": [{
        "name": "bad",
        "config": {"meta": {"synthetic": {
            "unit": "company",
            "window": {"start": "2024-01-01", "end": "2024-12-31"},
            "metrics": [{"name": "mrr", "type": "amount", "range": [500, 50]}],
            "segments": [{"name": "all", "count": 10, "archetype": "flat"}],
        }}},
        "tables": [{"name": "fct_mrr"}],
    }]}))
    deps = dbt(project, "deps")
    assert deps.success, deps.exception
    return {"dir": project, "db": db}


def test_bad_spec_names_its_yaml_path_and_writes_nothing(dbt, log, small_project):
    log.lines.clear()
    result = dbt(small_project["dir"], "run-operation", "generate_synthetic")
    assert not result.success
    message = f"{result.exception or ''}\n{log.text()}"
    assert "sources.bad.config.meta.synthetic.metrics.mrr.range" in message, message
    assert "nothing was changed" in message
    assert query(small_project["db"], "select table_schema, table_name from information_schema.tables") == []


def test_a_source_without_tables_gets_the_sync_sources_hint(dbt, log, small_project):
    """Before sync-sources lists its tables, dbt does not see the source at all: say what to run."""
    sources = small_project["dir"] / "models" / "sources.yml"
    original = sources.read_text()
    data = yaml.safe_load(original)
    del data["sources"][0]["tables"]
    sources.write_text(yaml.safe_dump(data))
    try:
        log.lines.clear()
        result = dbt(small_project["dir"], "run-operation", "generate_synthetic")
        assert not result.success
        message = f"{result.exception or ''}\n{log.text()}"
        assert "no synthetic sources" in message and "dbt-plotsim sync-sources" in message, message
    finally:
        sources.write_text(original)


def test_profile_without_plugin_says_what_to_add(dbt, log, small_project):
    """The no_plugin target of integration_tests/profiles.yml (copied verbatim but for the path)."""
    log.lines.clear()
    result = dbt(small_project["dir"], "run-operation", "generate_synthetic", "--target", "no_plugin")
    assert not result.success
    message = f"{result.exception or ''}\n{log.text()}"
    assert "dbt_plotsim.plugin" in message and "profiles.yml" in message, message
    assert "target 'no_plugin'" in message


# ------------------------------------------------------------------ every bundled template (integration_tests/templates)

TEMPLATES_PROJECT = PROJECT / "templates"


def declared_tests(sources_yaml) -> dict[str, int]:
    """Data tests per source in a sources YAML (table-level and column-level)."""
    counts = {}
    for source in yaml.safe_load(sources_yaml.read_text())["sources"]:
        tables = source.get("tables") or []
        counts[source["name"]] = sum(len(entry.get("data_tests") or [])
                                     for table in tables for entry in [table, *(table.get("columns") or [])])
    return counts


def test_every_template_builds_with_its_synced_tests(dbt, warehouse, log, tmp_path_factory):
    """Each bundled template but saas (the `saas` source above), generated at half size by the on-run-start
    hook and built with exactly the tests sync-sources wrote for it: one dbt invocation."""
    from dbt_plotsim import templates

    set_env("PLOTSIM_TEMPLATES_DB", str(warehouse / "templates.duckdb"))
    target = tmp_path_factory.mktemp("templates_target")
    expected = declared_tests(TEMPLATES_PROJECT / "models" / "sources.yml")
    assert set(expected) == {f"tpl_{name}" for name in templates.names() if name != "saas"}  # a new one needs a source
    assert min(expected.values()) >= 90

    assert dbt(TEMPLATES_PROJECT, "deps").success
    log.lines.clear()
    build = dbt(TEMPLATES_PROJECT, "build", "--target-path", str(target), "--log-path", str(target),
                vars={"plotsim_generate": True})
    assert build.success, why_failed(build) or build.exception or log.text()
    assert log.text().count("OK synthetic source") == len(expected), log.text()
    tests = [r for r in build.result.results if r.node.resource_type == "test"]
    assert [(r.node.name, str(r.status)) for r in tests if str(r.status) != "pass"] == []
    ran = {name: 0 for name in expected}
    for r in tests:
        ran[r.node.sources[0][0]] += 1  # every test is on one source
    assert ran == expected


def test_as_of_through_vars_holds_back_the_later_periods(it, log):
    """`--vars '{plotsim_as_of: ...}'` generates the source as of that date; without it, the whole window again."""
    def months() -> tuple:
        return query(it["db"], "select count(distinct date_key), max(date_key) from it_inline.fct_mrr")[0]

    whole = months()
    try:
        run = it["run"]("run-operation", "generate_synthetic", "--args", "{select: inline}",
                        vars={"plotsim_as_of": "2024-03-15"})
        assert run.success, log.text()
        assert months() == (3, 20240301)
        bad = it["run"]("run-operation", "generate_synthetic", "--args", "{select: inline}",
                        vars={"plotsim_as_of": "2031-01-01"})
        assert not bad.success and "window.as_of: 2031-01-01 lies outside the window" in log.text()
        assert months() == (3, 20240301)  # nothing written
    finally:
        restored = it["run"]("run-operation", "generate_synthetic", "--args", "{select: inline}")
        assert restored.success, log.text()
    assert months() == whole


LOADS = ["2024-01-20", "2024-02-20", "2024-03-20", "2024-04-20", "2024-05-20", "2024-06-20", "2024-07-20"]


def test_a_source_grown_load_by_load_feeds_incremental_models_and_snapshots(it, log):
    """Each load moves plotsim_as_of one month on: generate_synthetic appends it, then two incremental models
    and two snapshots of the current-state table run. At the end the model incremental on _loaded_at equals a
    full build (late rows included) while the one incremental on date_key misses the late rows, the right
    snapshot equals the declared SCD2 history and the wrong one (check strategy on the key) does not."""
    db, run = it["db"], it["run"]
    with duckdb.connect(str(db)) as conn:  # start from no snapshot and no incremental table
        for schema, name in conn.execute("""select table_schema, table_name from information_schema.tables
                where table_name in ('snap_growing__plan', 'snap_growing__plan_wrong', 'inc_growing__account_months',
                                     'inc_growing__by_date_key', 'full_growing__account_months')""").fetchall():
            conn.execute(f'drop table "{schema}"."{name}"')
    for number, as_of in enumerate(LOADS):
        load = {"plotsim_as_of": as_of}
        generated = run("run-operation", "generate_synthetic", "--args", "{select: growing}", vars=load)
        assert generated.success, log.text()
        assert ("OK synthetic source growing" if number == 0 else "APPEND synthetic source growing") in log.text()
        built = run("build", "--select", "tag:loads", "--exclude", "resource_type:test", vars=load)
        assert built.success, log.text()
    loaded = query(db, "select max(date_key), count(*) from it_growing.fct_engagement")[0]
    assert loaded[0] == 20240701 and loaded[1] > 1000
    full = run("run", "--select", "full_growing__account_months")
    assert full.success, log.text()
    rows = query(db, """select (select count(*) from main.inc_growing__account_months),
        (select count(*) from (select * from main.inc_growing__account_months
                               except select * from main.full_growing__account_months)),
        (select count(*) from (select * from main.full_growing__account_months
                               except select * from main.inc_growing__account_months))""")[0]
    assert rows[0] == loaded[1] and rows[1:] == (0, 0)
    naive = query(db, """select count(*), (select count(*) from (select * from main.full_growing__account_months
        except select * from main.inc_growing__by_date_key)) from main.inc_growing__by_date_key""")[0]
    assert naive[0] < loaded[1] and naive[1] == loaded[1] - naive[0] > 10  # the late rows it never saw
    checked = run("test", "--select", "snapshot_rebuilds_the_history", "wrong_snapshot_misses_the_history")
    outcome = {r.node.name: str(r.status) for r in checked.result.results if r.node.resource_type == "test"}
    assert outcome == {"snapshot_rebuilds_the_history": "pass", "wrong_snapshot_misses_the_history": "fail"}
    versions = query(db, "select count(*), count(*) filter (where not is_current) from it_growing.dim_account_plan_history")[0]
    assert versions[0] > 300 and versions[1] > 50  # changes and closed versions to rebuild


def test_report_run_operation_writes_page_and_json(it, log, tmp_path):
    """From dbt's own connection (DuckDB source) and from a Parquet source's files."""
    import json

    for source in ("saas", "stores"):
        out = tmp_path / f"{source}.html"
        result = it["run"]("run-operation", "dbt_plotsim.plotsim_report", "--args",
                           json.dumps({"source": source, "out": str(out)}))
        assert result.success, result.exception or log.text()
        assert f"Fidelity report of {source}:" in log.text() and str(out) in log.text()
        figures = json.loads(out.with_suffix(".json").read_text())
        assert figures["header"]["source"] == source and figures["sections"]["marginals"]
