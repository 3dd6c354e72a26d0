"""A/B experiments: deterministic assignment, the lift where declared and nowhere else, a truth table whose
delivered lift is the difference-in-differences SQL measures on the rows, and spec errors by YAML path."""
import duckdb
import numpy as np
import pyarrow.compute as pc
import pytest

from dbt_plotsim import generate
from dbt_plotsim.errors import SpecError
from dbt_plotsim.spec import load_spec

TRUTH = "_plotsim_truth_experiments"
# 4,000 flat entities with little memory: over seeds 0-7 the DiD of the 0.10 lift lies within 0.0075 of it
SPEC = {
    "unit": "company",
    "window": {"start": "2024-01-01", "end": "2025-12-31", "grain": "month"},
    "seed": 7,
    "persistence": 0.3,
    "metrics": [{"name": "engagement", "type": "score"},
                {"name": "tickets", "type": "count", "polarity": "negative"}],
    "segments": [{"name": "growers", "count": 3000, "archetype": "flat"},
                 {"name": "steady", "count": 1000, "archetype": "flat"}],
    "noise": {"missing": 0.05},
}
ONBOARDING = {"name": "onboarding_v2", "metric": "engagement", "lift": 0.10, "start": "2025-01-01",
              "segments": ["growers"]}
SUPPORT = {"name": "support", "metric": "tickets", "lift": 2, "lift_kind": "absolute", "start": "2024-10-01",
           "share": 0.3}


def _with(*experiments, **keys):
    return {**SPEC, **keys, "experiments": list(experiments)}


@pytest.fixture(scope="module")
def plain():
    return generate(SPEC)


@pytest.fixture(scope="module")
def tables():
    return generate(_with(ONBOARDING, SUPPORT))


@pytest.fixture(scope="module")
def db(tables):
    conn = duckdb.connect()
    for name, table in tables.items():
        conn.register(name, table)
    return conn


DID_SQL = """
with means as (
  select e.variant, f.date_key >= t.start_date_key as post, avg(f.{metric}) as m
  from fct_{metric} f join dim_company_experiment e using (company_id)
  join _plotsim_truth_experiments t on t.experiment = e.experiment
  where e.experiment = '{name}' group by all
), g as (
  select max(m) filter (where variant = 'treatment' and not post) tp, max(m) filter (where variant = 'treatment' and post) tq,
         max(m) filter (where variant = 'control' and not post) cp, max(m) filter (where variant = 'control' and post) cq
  from means
)
select (tq / tp) / (cq / cp) - 1, (tq - tp) - (cq - cp) from g
"""


def test_sql_did_recovers_the_declared_lift_and_equals_the_truth_table(db):
    truth = {r[0]: r[1] for r in db.execute(f"select experiment, delivered_lift from {TRUTH}").fetchall()}
    relative, _ = db.execute(DID_SQL.format(metric="engagement", name="onboarding_v2")).fetchone()
    assert abs(relative - 0.10) <= 0.02  # measured 0.0938 at seed 7
    assert relative == pytest.approx(truth["onboarding_v2"], abs=1e-9)
    _, absolute = db.execute(DID_SQL.format(metric="tickets", name="support")).fetchone()
    assert abs(absolute - 2) <= 0.2  # measured 2.039; 1.94-2.05 over seeds 0-5
    assert absolute == pytest.approx(truth["support"], abs=1e-9)


def test_truth_table_counts_and_declared_values(db, tables):
    rows = {r["experiment"]: r for r in tables[TRUTH].to_pylist()}
    assert rows["onboarding_v2"]["start_date_key"] == 20250101
    assert rows["onboarding_v2"]["lift_kind"] == "relative" and rows["support"]["declared_lift"] == 2
    counts = dict(db.execute("select experiment || '/' || variant, count(*) from dim_company_experiment group by 1").fetchall())
    assert counts["onboarding_v2/treatment"] == rows["onboarding_v2"]["treated_entities"]
    assert counts["support/control"] == rows["support"]["control_entities"]
    # only growers take part in onboarding_v2; everyone in support, 30% treated (binomial sd 0.007)
    assert rows["onboarding_v2"]["treated_entities"] + rows["onboarding_v2"]["control_entities"] == 3000
    assert abs(rows["support"]["treated_entities"] / 4000 - 0.3) < 0.025
    segments = db.execute("select distinct segment from dim_company_experiment join dim_company using (company_id) "
                      "where experiment = 'onboarding_v2'").fetchall()
    assert segments == [("growers",)]


def test_lift_only_on_treated_cells_from_the_start_nulls_kept(plain, tables):
    """Control entities and every cell before the start keep their values; treated ones from the start on are
    x 1.1 (within [0, 1]); null cells are the same."""
    before, after = plain["fct_engagement"], tables["fct_engagement"]
    assert before.column("company_id").equals(after.column("company_id"))
    assert pc.is_null(before.column("engagement")).equals(pc.is_null(after.column("engagement")))
    variant = {r["company_id"]: r["variant"] for r in tables["dim_company_experiment"].to_pylist()
               if r["experiment"] == "onboarding_v2"}
    ids = after.column("company_id").to_numpy()
    post = after.column("date_key").to_numpy() >= 20250101
    hit = np.array([variant.get(i) == "treatment" for i in ids]) & post
    x = before.column("engagement").to_numpy(zero_copy_only=False).astype(float)
    y = after.column("engagement").to_numpy(zero_copy_only=False).astype(float)
    same = ~hit & ~np.isnan(x)
    assert np.array_equal(x[same], y[same])
    lifted = hit & ~np.isnan(x)
    assert np.allclose(y[lifted], np.minimum(x[lifted] * 1.1, 1.0), rtol=0, atol=1e-12)
    clipped = float(np.mean(y[lifted] == 1.0))
    assert 0 < clipped < 0.05  # at the bound: set to 1 (measured 1.2% of the lifted cells, which then rise by
    # 0.0993 on average instead of 0.10)
    assert plain["fct_tickets"].equals(generate(_with(ONBOARDING))["fct_tickets"])  # other metrics untouched


def test_adding_an_experiment_changes_no_other_assignment(tables):
    alone = generate(_with(ONBOARDING))
    both = tables["dim_company_experiment"]
    onboarding = both.filter(pc.equal(both.column("experiment"), "onboarding_v2"))
    assert onboarding.equals(alone["dim_company_experiment"])
    assert alone["fct_engagement"].equals(tables["fct_engagement"])


def test_chunking_changes_nothing(tables):
    chunked = generate(_with(ONBOARDING, SUPPORT), chunk_entities=1024, workers=2)
    for name in ("dim_company_experiment", TRUTH, "fct_engagement"):
        assert chunked[name].equals(tables[name]), name


def test_arrivals_and_terminal_event_shape_who_takes_part():
    spec = _with({**ONBOARDING, "segments": None}, segments=[
        {"name": "late", "count": 300, "archetype": "growth", "arrivals": {"pattern": "uniform", "until": 0.9}}],
        events=[{"name": "churn", "when": {"metric": "engagement", "below": 0.2, "for": 2}, "terminal": True}])
    out = generate(spec)
    conn = duckdb.connect()
    for name, table in out.items():
        conn.register(name, table)
    wrong = conn.execute("""
        select count(*) from dim_company u left join dim_company_experiment e using (company_id)
        where (e.company_id is null) <> coalesce(u.ended_date_key < 20250101, false)
           or e.assigned_date_key <> greatest(u.first_date_key, 20250101)""").fetchone()[0]
    assert wrong == 0  # everyone alive at the start takes part, assigned at the start or on arrival


@pytest.mark.parametrize("change, path, words", [
    ({"metric": "engagment"}, "experiments.onboarding_v2.metric", "did you mean 'engagement'"),
    ({"start": "2026-03-01"}, "experiments.onboarding_v2.start", "not inside the window"),
    ({"start": "2024-01-15"}, "experiments.onboarding_v2.start", "periods before the start"),
    ({"share": 1.0}, "experiments.onboarding_v2.share", "strictly between 0 and 1"),
    ({"share": 0}, "experiments.onboarding_v2.share", "strictly between 0 and 1"),
    ({"segments": ["grower"]}, "experiments.onboarding_v2.segments", "unknown segment"),
    ({"lift": -1.5}, "experiments.onboarding_v2.lift", "above -1"),
    ({"segments": []}, "experiments.onboarding_v2.segments", "lists no segment"),
])
def test_spec_errors_name_the_yaml_path(change, path, words):
    with pytest.raises(SpecError) as caught:
        load_spec(_with({**ONBOARDING, **change}))
    assert any(line.startswith(path + ":") and words in line for line in caught.value.lines()), caught.value.lines()


def test_an_append_rewrites_the_derived_tables_as_a_full_generation_would(tmp_path):
    """An experiment starting between two loads, with arrivals, a terminal event, a holdout and features."""
    import dbt_plotsim
    from dbt_plotsim.materialize import materialize
    from dbt_plotsim.sources import SyntheticSource

    data = _with(ONBOARDING, SUPPORT, holdout={"last": 6}, features={"label": {"event": "churn", "within": 3}},
                 segments=[{"name": "growers", "count": 600, "archetype": "growth", "arrivals": {"pattern": "uniform"}},
                           {"name": "steady", "count": 300, "archetype": "churn"}],
                 events=[{"name": "churn", "when": {"metric": "engagement", "below": 0.2, "for": 2}, "terminal": True}])

    def load(conn, as_of):
        spec = dbt_plotsim.load_spec(data, as_of=as_of)
        return materialize(SyntheticSource("demo", "raw", spec, "duckdb", None), conn)

    def rows(conn, table):
        return sorted(conn.execute(f"select * from raw.{table}").fetchall(), key=repr)

    grown = duckdb.connect(str(tmp_path / "grown.duckdb"))
    assert load(grown, "2024-11-15").status == "generated"
    assert {r[1] for r in rows(grown, "dim_company_experiment")} == {"support"}  # onboarding_v2 not started
    truth = {r[0]: r[-1] for r in rows(grown, TRUTH)}
    assert truth["onboarding_v2"] is None and truth["support"] is not None  # no rows from its start yet
    assert load(grown, "2025-11-01").status == "appended"
    full = duckdb.connect(str(tmp_path / "full.duckdb"))
    load(full, "2025-11-01")
    for table in ("dim_company_experiment", TRUTH, "features_company", "fct_engagement", "dim_date"):
        assert rows(grown, table) == rows(full, table), table
    assert all(r[-1] is not None for r in rows(full, TRUTH))


def test_verify_recomputes_the_experiments_and_catches_a_changed_variant(tmp_path):
    import yaml

    from dbt_plotsim.cli import main
    from dbt_plotsim.verify import verify_duckdb

    path, database = tmp_path / "demo.yml", tmp_path / "demo.duckdb"
    small = _with(ONBOARDING, SUPPORT, segments=[{"name": "growers", "count": 500, "archetype": "flat"}])
    path.write_text(yaml.safe_dump(small))
    assert main(["info", str(path)]) == 0  # the derived tables have row estimates
    assert main(["generate", str(path), "--out", str(database)]) == 0
    found = verify_duckdb(database, "main")
    assert "experiments: 2 experiments, 2 lifts recomputed" in found.checked
    assert not [f for f in found.failures if f.startswith("experiments")]
    conn = duckdb.connect(str(database))
    conn.execute("update dim_company_experiment set variant = 'control' where company_id < 40")
    conn.close()
    failures = [f for f in verify_duckdb(database, "main").failures if f.startswith("experiments")]
    assert any("treated and" in f for f in failures) and any("delivered lift" in f for f in failures)
