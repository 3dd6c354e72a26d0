"""Holdout split in dim_date, and features_<unit> recomputed from the fact and event tables by SQL."""
import duckdb
import pytest

from dbt_plotsim import generate
from dbt_plotsim.errors import SpecError
from dbt_plotsim.spec import load_spec

SPEC = {
    "unit": "company",
    "window": {"start": "2024-01-01", "end": "2025-12-31", "grain": "month"},
    "seed": 3,
    "metrics": [{"name": "engagement", "type": "score"},
                {"name": "tickets", "type": "count", "polarity": "negative"}],
    "segments": [{"name": "growers", "count": 600, "archetype": "growth", "arrivals": {"pattern": "uniform"}},
                 {"name": "churners", "count": 400, "archetype": "spike_then_crash"}],
    "noise": {"missing": 0.05},
    "events": [{"name": "churn", "when": {"metric": "engagement", "below": 0.15, "for": 2}, "terminal": True},
               {"name": "login", "rate": {"mean": 0.3}}],
    "holdout": {"last": 6},
    "features": {"label": {"event": "churn", "within": 3}},
}
SMALL = [{"name": "growers", "count": 200, "archetype": "growth", "arrivals": {"pattern": "uniform"}},
         {"name": "churners", "count": 100, "archetype": "spike_then_crash"}]
# the label on a rate event kept in a shared event table, with its own cutoff
SHARED = {**SPEC, "holdout": {"from": "2025-04-15"}, "tables": {"events": [{"name": "evt_all", "events": ["churn", "login"]}]},
          "features": {"label": {"event": "login", "within": 2}, "cutoff": "2025-02-01"}}

RECOMPUTED = """
with cutoff as (select {cutoff} as key, (select period_index from dim_date where date_key = {cutoff}) as c),
entities as (
  select company_id, segment from dim_company, cutoff
  where coalesce(first_date_key, 0) < cutoff.key and (ended_date_key is null or ended_date_key >= cutoff.key)
),
rows as (
  select f.company_id, d.period_index as t, f.{metric} as y
  from fct_{metric} f join dim_date d using (date_key), cutoff where d.period_index < cutoff.c and f.{metric} is not null
),
stats as (select company_id, avg(y) as mean, arg_max(y, t) as last, case when count(*) > 1 then regr_slope(y, t) end as slope, count(*) as n
          from rows group by company_id),
labels as (select distinct company_id from {events} join dim_date d using (date_key), cutoff
           where {is_event} d.period_index >= cutoff.c and d.period_index < cutoff.c + {within})
select e.company_id, e.segment, s.mean, s.last, s.slope, coalesce(s.n, 0) as n, l.company_id is not null as label
from entities e left join stats s using (company_id) left join labels l using (company_id) order by e.company_id
"""


def _db(tables):
    conn = duckdb.connect()
    for name, table in tables.items():
        conn.register(name, table)
    return conn


@pytest.fixture(scope="module", params=["terminal label", "shared event table"])
def case(request):
    spec = SPEC if request.param == "terminal label" else SHARED
    return spec, generate(spec)


def test_holdout_split_in_dim_date(case):
    spec, tables = case
    split = tables["dim_date"].column("split").to_pylist()
    held = 6 if "last" in spec["holdout"] else 9  # from 2025-04-15: the month holding it on, April..December
    assert split == ["train"] * (24 - held) + ["holdout"] * held


def test_features_equal_what_sql_recomputes(case):
    _check_against_sql(*case)


def test_blocks_in_parts_and_chunking_change_nothing(monkeypatch):
    """A label on a rate event whose rows come in parts before their block's dim rows (engine/parts.py)."""
    from dbt_plotsim.engine import parts
    from dbt_plotsim.engine.block import block_base
    from dbt_plotsim.engine.pipeline import start

    spec = {**SPEC, "events": [SPEC["events"][0], {"name": "login", "rate": {"mean": 20}}], "segments": SMALL,
            "features": {"label": {"event": "login", "within": 1}},
            "experiments": [{"name": "trial", "metric": "tickets", "lift": 0.2, "start": "2025-01-01"}]}
    monkeypatch.setattr(parts, "PART_BUDGET", 32 * 1024)
    generation = start(load_spec(spec))
    assert parts.spans(generation.plan, generation.drawn, block_base(generation.plan, generation.plan.segments[0], 0))
    split = generation.tables()
    _check_against_sql(spec, split)
    chunked = start(load_spec(spec), chunk_entities=1024).tables()
    for name in ("features_company", "dim_company_experiment", "_plotsim_truth_experiments"):
        assert chunked[name].equals(split[name]), name


def _check_against_sql(spec, tables):
    conn = _db(tables)
    label = spec["features"]["label"]
    cutoff = 20250701 if "cutoff" not in spec["features"] else 20250201
    events = "evt_all" if "tables" in spec else f"evt_{label['event']}"
    is_event = f"event_type = '{label['event']}' and" if "tables" in spec else ""
    features = tables["features_company"].to_pylist()
    assert 200 < len(features) < 1000
    assert sum(r["label"] for r in features) > 10
    for metric in ("engagement", "tickets"):
        expected = conn.execute(RECOMPUTED.format(cutoff=cutoff, within=label["within"], metric=metric,
                                                  events=events, is_event=is_event)).fetchall()
        assert [r[0] for r in expected] == [r["company_id"] for r in features]
        for (_, segment, mean, last, slope, n, labelled), row in zip(expected, features):
            assert row["segment"] == segment and row["label"] == labelled
            assert row[f"{metric}_periods"] == n  # exactly
            for got, want in ((row[f"{metric}_mean"], mean), (row[f"{metric}_last"], last),
                              (row[f"{metric}_slope"], slope)):
                assert (got is None) == (want is None)
                if want is not None:
                    assert abs(got - want) <= 1e-9 * max(1.0, abs(want))


def test_default_cutoff_without_holdout_is_the_last_label_periods():
    spec = {**SPEC, "holdout": None, "segments": SMALL}
    tables = generate(spec)
    assert "split" not in tables["dim_date"].column_names
    assert "before 2025-10-01" in tables["features_company"].schema.field("engagement_mean").metadata[b"description"].decode()


def test_tables_absent_unless_declared():
    plain = generate({**SPEC, "holdout": None, "features": None, "segments": SMALL})
    assert "features_company" not in plain and "split" not in plain["dim_date"].column_names


@pytest.mark.parametrize("change, path, words", [
    ({"holdout": {"last": 24}}, "holdout.last", "at most 23"),
    ({"holdout": {"last": 3, "from": "2025-01-01"}}, "holdout", "one of them"),
    ({"holdout": {"from": "2027-01-01"}}, "holdout.from", "not inside the window"),
    ({"features": {"label": {"event": "chrun", "within": 3}}}, "features.label.event", "did you mean 'churn'"),
    ({"features": {"label": {"event": "churn", "within": 3}, "cutoff": "2025-11-01"}}, "features.cutoff",
     "run past the window"),
    ({"features": {"label": {"event": "churn", "within": 3}, "cutoff": "2024-01-01"}}, "features.cutoff",
     "no period before it"),
    ({"features": {"label": {"event": "churn", "within": 0}}}, "features.label.within", "greater than or equal to 1"),
])
def test_spec_errors_name_the_yaml_path(change, path, words):
    with pytest.raises(SpecError) as caught:
        load_spec({**SPEC, **change})
    assert any(line.startswith(path + ":") and words in line for line in caught.value.lines()), caught.value.lines()


def test_sync_sources_lists_the_tables_only_while_declared():
    from pathlib import Path

    import yaml

    from dbt_plotsim.sync import sync_text

    spec = {**SPEC, "segments": [{"name": "growers", "count": 40, "archetype": "growth"}],
            "experiments": [{"name": "trial", "metric": "engagement", "lift": 0.1, "start": "2024-06-01"}]}
    def synced(spec, text=None):
        text = text or yaml.safe_dump({"version": 2, "sources": [{"name": "demo", "config": {"meta": {"synthetic": spec}}}]})
        out = sync_text(text, "x", Path("."))[0]
        return out, {t["name"]: t for t in yaml.safe_load(out)["sources"][0]["tables"]}

    text, tables = synced(spec)
    assert {"features_company", "dim_company_experiment", "_plotsim_truth_experiments"} <= set(tables)
    assert any(c["name"] == "split" for c in tables["dim_date"]["columns"])
    tested = {c["name"]: [next(iter(t)) for t in c.get("data_tests", [])] for c in tables["features_company"]["columns"]}
    assert tested["company_id"] == ["unique", "not_null", "relationships"]
    data = yaml.safe_load(text)
    for key in ("experiments", "holdout", "features"):
        del data["sources"][0]["config"]["meta"]["synthetic"][key]
    _, tables = synced(None, yaml.safe_dump(data))
    assert not {"features_company", "dim_company_experiment", "_plotsim_truth_experiments"} & set(tables)
    assert not any(c["name"] == "split" for c in tables["dim_date"]["columns"])
