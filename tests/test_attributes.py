"""Entity attributes (dim_<unit> columns) and reference tables (dim_<name>): values, keys, determinism,
descriptions, sync-sources tests and every validation error with its YAML path."""
from __future__ import annotations

import copy
import re
from collections import Counter

import duckdb
import numpy as np
import pytest
from scipy.stats import spearmanr

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.engine.attributes import POOL_SIZE, pool
from dbt_plotsim.sync import sync_text

PLAN_WEIGHTS = {"starter": 0.6, "pro": 0.3, "enterprise": 0.1}
ATTRIBUTES = [
    {"name": "plan", "type": "category", "weights": PLAN_WEIGHTS,
     "by_segment": {"enterprise_growth": {"enterprise": 0.7, "pro": 0.3}}, "references": "plan"},
    {"name": "region", "type": "category", "weights": {"emea": 2, "amer": 1, "apac": 1}},
    {"name": "employees", "type": "number", "distribution": "lognormal", "range": [5, 5000], "follows": "trajectory",
     "integer": True},
    {"name": "seats", "type": "number", "range": [1, 100], "follows": "mrr", "strength": 0.8},
    {"name": "churn_risk", "type": "number", "distribution": "uniform", "range": [0, 1], "follows": "trajectory",
     "strength": -0.6},
    {"name": "signup_date", "type": "date", "days_before_arrival": [1, 120]},
    {"name": "company_name", "type": "company_name", "pii_note": "Company name (synthetic, may match a real one)"},
    {"name": "contact_name", "type": "person_name"},
    {"name": "contact_email", "type": "email", "name_from": "contact_name", "domain_from": "company_name",
     "pii_note": "Work email (synthetic)"},
    {"name": "billing_email", "type": "email", "domain": "example.com"},
    {"name": "country", "type": "country"},
    {"name": "city", "type": "city", "locale": "de_DE"},
    {"name": "phone", "type": "phone", "description": "Main switchboard"},
    {"name": "dice", "type": "number", "distribution": "uniform", "range": [1, 6], "integer": True},
]
REFERENCE = [
    {"name": "plan", "description": "Price list", "columns": {"monthly_price": "List price per month, USD"},
     "rows": [{"plan": "starter", "monthly_price": 29, "seats": 3, "annual": False},
              {"plan": "pro", "monthly_price": 99.5, "seats": 10, "annual": True},
              {"plan": "enterprise", "monthly_price": 499, "seats": 100, "annual": True}]},
]
# 2,500 entities (3 blocks of 1,024 in one segment, 1 in the other), 6 months, arrivals spread over the window.
SPEC: dict = {
    "unit": "account",
    "window": {"start": "2024-01-01", "end": "2024-06-30", "grain": "month"},
    "seed": 11,
    "metrics": [{"name": "engagement", "type": "score"}, {"name": "mrr", "type": "amount", "range": [50, 5000]}],
    "segments": [{"name": "smb", "count": 1500, "archetype": "flat"},
                 {"name": "enterprise_growth", "count": 1000, "archetype": "growth"}],
    "arrivals": {"pattern": "uniform"},
    "correlations": [{"between": ["engagement", "mrr"], "r": 0.5}],
    "attributes": ATTRIBUTES,
    "reference": REFERENCE,
}


def with_(**changes) -> dict:
    data = copy.deepcopy(SPEC)
    data.update(copy.deepcopy(changes))
    return data


@pytest.fixture(scope="module")
def tables():
    return dbt_plotsim.generate(load_spec(SPEC))


@pytest.fixture(scope="module")
def dim(tables):
    return tables["dim_account"].to_pydict()


# ------------------------------------------------------------------------------------ reference tables

def test_reference_table_rows_ids_and_types(tables):
    plan = tables["dim_plan"]
    assert plan.column_names == ["plan_id", "plan", "monthly_price", "seats", "annual"]
    assert plan.to_pydict() == {"plan_id": [1, 2, 3], "plan": ["starter", "pro", "enterprise"],
                                "monthly_price": [29.0, 99.5, 499.0], "seats": [3, 10, 100],
                                "annual": [False, True, True]}
    assert [str(f.type) for f in plan.schema] == ["int64", "string", "double", "int64", "bool"]
    assert plan.schema.metadata[b"description"] == b"Price list"
    assert plan.schema.field("monthly_price").metadata[b"description"] == b"List price per month, USD"


def test_fk_resolves_and_pk_unique(tables, dim):
    keys = tables["dim_plan"]["plan_id"].to_pylist()
    assert len(keys) == len(set(keys))
    assert set(dim["plan_id"]) <= set(keys)
    assert "plan" not in dim  # a referencing category is only its foreign key


def test_reference_table_is_static_written_once():
    chunks = list(dbt_plotsim.stream(load_spec(SPEC), chunk_entities=1024).chunks())
    assert len(chunks) == 5 and set(chunks[-1]) == {"_plotsim_truth", "_plotsim_truth_relations", "_plotsim_truth_lags"}
    assert [("dim_plan" in c) for c in chunks] == [True, False, False, False, False]


def test_reference_without_weights_is_uniform():
    attrs = [{"name": "plan", "type": "category", "references": "plan"}]
    dim = dbt_plotsim.generate(with_(attributes=attrs))["dim_account"]
    shares = np.bincount(dim["plan_id"].to_numpy(), minlength=4)[1:] / dim.num_rows
    assert np.allclose(shares, 1 / 3, atol=0.04)  # n = 2,500: sd 0.009, tolerance ~4 sd


# ------------------------------------------------------------------------------------------ categories

def test_weights_honored(dim):
    segments = np.array(dim["segment"])
    smb = np.array(dim["plan_id"])[segments == "smb"]
    shares = np.bincount(smb, minlength=4)[1:] / len(smb)
    # n = 1,500: sd of a share <= 0.013; tolerance 0.04 (~3 sd)
    assert shares == pytest.approx(list(PLAN_WEIGHTS.values()), abs=0.04)
    region = Counter(dim["region"])
    assert set(region) == {"emea", "amer", "apac"}
    assert region["emea"] / len(dim["region"]) == pytest.approx(0.5, abs=0.04)  # weights need not add up to 1


def test_by_segment_honored(dim):
    segments = np.array(dim["segment"])
    big = np.array(dim["plan_id"])[segments == "enterprise_growth"]
    shares = np.bincount(big, minlength=4)[1:] / len(big)
    assert shares[0] == 0  # starter is not listed for the segment: weight 0
    assert shares[2] == pytest.approx(0.7, abs=0.05)  # n = 1,000: sd 0.015, tolerance ~3 sd


# --------------------------------------------------------------------------------------------- numbers

def _entity_means(tables, column: str, table: str) -> np.ndarray:
    facts = tables[table]
    ids = facts["account_id"].to_numpy()
    values = facts[column].to_numpy(zero_copy_only=False)
    keep = ~np.isnan(values)
    return np.bincount(ids[keep], weights=values[keep])[1:] / np.bincount(ids[keep])[1:]


def test_numbers_in_range_and_typed(dim, tables):
    schema = tables["dim_account"].schema
    assert str(schema.field("employees").type) == "int64" and str(schema.field("seats").type) == "double"
    employees = np.array(dim["employees"])
    assert employees.min() >= 5 and employees.max() <= 5000
    # lognormal over [5, 5000] is centred on the geometric middle, sqrt(5 * 5000) = 158; pooled over both
    # segments half the values lie below it (n = 2,500: sd 0.01; calibration on 2 blocks; tolerance 0.05)
    assert np.mean(employees < 158.1) == pytest.approx(0.5, abs=0.05)
    assert 0 <= min(dim["churn_risk"]) and max(dim["churn_risk"]) <= 1
    shares = np.bincount(dim["dice"], minlength=7)[1:] / len(dim["dice"])
    assert shares == pytest.approx([1 / 6] * 6, abs=0.03)  # whole numbers, ends included; n = 2,500: sd 0.0075


def test_numbers_follow_trajectory_and_metric(dim, tables):
    mean_position = _entity_means(tables, "position", "trajectory")
    # declared latent correlation 0.7; Spearman of the output measured ~0.7, checked above 0.55
    assert spearmanr(dim["employees"], mean_position)[0] > 0.55
    assert spearmanr(dim["churn_risk"], mean_position)[0] < -0.4  # strength -0.6
    assert spearmanr(dim["seats"], _entity_means(tables, "mrr", "fct_mrr"))[0] > 0.65  # strength 0.8


# ----------------------------------------------------------------------------------------------- dates

def test_signup_strictly_before_first_activity(dim):
    first = np.array([np.datetime64(f"{k // 10000:04d}-{k // 100 % 100:02d}-{k % 100:02d}") for k in dim["first_date_key"]])
    signup = np.array(dim["signup_date"], dtype="datetime64[D]")
    days = (first - signup).astype(int)
    assert days.min() >= 1 and days.max() <= 120
    assert len(set(dim["first_date_key"])) >= 4  # arrivals spread over the first 80%: the anchor differs


def test_signup_before_window_start_without_arrivals():
    data = with_(attributes=[{"name": "signup_date", "type": "date", "days_before_arrival": [0, 30]}],
                 segments=[SPEC["segments"][0] | {"count": 200}])
    del data["arrivals"]
    dim = dbt_plotsim.generate(data)["dim_account"]
    assert "first_date_key" not in dim.column_names
    signup = np.array(dim["signup_date"].to_pylist(), dtype="datetime64[D]")
    assert signup.max() <= np.datetime64("2024-01-01") and signup.min() >= np.datetime64("2023-12-02")


# ----------------------------------------------------------------------------------------- Faker text

def test_names_are_realistic_and_from_the_pool(dim):
    for column, kind in (("company_name", "company_name"), ("country", "country"), ("phone", "phone")):
        values = dim[column]
        assert all(isinstance(v, str) and v.strip() for v in values)
        assert set(values) <= set(pool(kind, "en_US", SPEC["seed"]).to_pylist())
        assert len(set(values)) > 100  # picked across the pool, not one value
    assert set(dim["city"]) <= set(pool("city", "de_DE", SPEC["seed"]).to_pylist())
    firsts = set(pool("first_name", "en_US", SPEC["seed"]).to_pylist())
    lasts = set(pool("last_name", "en_US", SPEC["seed"]).to_pylist())
    for name in dim["contact_name"]:
        first, last = name.split(" ", 1)
        assert first in firsts and last in lasts
    assert len(set(dim["contact_name"])) > 0.99 * len(dim["contact_name"])  # first and last drawn separately


def test_emails_follow_name_and_company(dim):
    shape = re.compile(r"^[a-z0-9._]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
    for email, name, company in zip(dim["contact_email"], dim["contact_name"], dim["company_name"]):
        assert shape.match(email), email
        local, domain = email.split("@")
        assert re.sub(r"[^a-z]", "", name.split(" ", 1)[1].lower()) in local
        assert domain.startswith(re.findall(r"[a-z0-9]+", company.lower())[0]) and domain.endswith(".com")
    assert all(e.endswith("@example.com") and shape.match(e) for e in dim["billing_email"])
    # unique enough: at most 0.5% repeated addresses (measured 0 of 2,500 for both)
    for column in ("contact_email", "billing_email"):
        assert len(set(dim[column])) >= 0.995 * len(dim[column])


def test_pools_are_seeded():
    first = pool.__wrapped__("country", "en_US", 123).to_pylist()  # uncached: built afresh
    assert pool.__wrapped__("country", "en_US", 123).to_pylist() == first
    assert pool.__wrapped__("country", "en_US", 124).to_pylist() != first
    assert len(first) == POOL_SIZE


def test_pii_notes_and_descriptions_reach_the_schema(tables):
    schema = tables["dim_account"].schema
    text = lambda column: schema.field(column).metadata[b"description"].decode()  # noqa: E731
    assert "PII: Company name (synthetic, may match a real one)" in text("company_name")
    assert "PII: Work email (synthetic)" in text("contact_email")
    assert "PII: realistic person name (synthetic)" in text("contact_name")  # default for person kinds
    assert "PII" not in text("country")
    assert text("phone").startswith("Main switchboard.")
    assert "enterprise_growth: enterprise (70%), pro (30%)" in text("plan_id")
    assert schema.field("contact_email").metadata[b"pii"] == b"Work email (synthetic)"
    con = duckdb.connect()
    dbt_plotsim.write_duckdb(with_(attributes=ATTRIBUTES[6:7], reference=[], segments=[SPEC["segments"][0] | {"count": 50}]), con)
    comment = con.execute("select comment from duckdb_columns() where table_name = 'dim_account' "
                          "and column_name = 'company_name'").fetchone()[0]
    assert "PII: Company name" in comment


# ---------------------------------------------------------------------------------------- determinism

def test_same_tables_whatever_the_chunk_size():
    spec = load_spec(SPEC)
    small = dbt_plotsim.generate(spec, chunk_entities=1024)
    large = dbt_plotsim.generate(spec, chunk_entities=100_000)
    assert small.keys() == large.keys()
    for name in small:
        assert small[name].equals(large[name]), name


def test_adding_an_attribute_changes_no_other_column():
    segments = [{**SPEC["segments"][0], "count": 300}, {**SPEC["segments"][1], "count": 200}]
    full = dbt_plotsim.generate(with_(segments=segments))
    without = dbt_plotsim.generate(with_(segments=segments, attributes=[], reference=[]))
    for name, table in without.items():
        assert full[name].select(table.column_names).equals(table), name
    one = dbt_plotsim.generate(with_(segments=segments, attributes=[ATTRIBUTES[1]], reference=[]))["dim_account"]
    assert one["region"].equals(full["dim_account"]["region"])


# ---------------------------------------------------------------------------------------- sync-sources

SOURCES = """\
version: 2
sources:
  - name: saas
    config:
      meta:
        synthetic:
          unit: company
          window: {start: 2024-01-01, end: 2024-03-31, grain: month}
          metrics: [{name: engagement, type: score}]
          segments: [{name: growers, count: 10, archetype: growth}]
          attributes:
            - {name: plan, type: category, weights: {starter: 0.6, pro: 0.4}, references: plan}
            - {name: tier, type: category, weights: {gold: 1, silver: 2}}
            - {name: contact_name, type: person_name, pii_note: "Contact person (synthetic)"}
          reference:
            - {name: plan, rows: [{plan: starter, monthly_price: 29}, {plan: pro, monthly_price: 99}]}
"""


def test_sync_sources_writes_the_tests(tmp_path):
    import yaml

    text, synced = sync_text(SOURCES, "sources.yml", tmp_path)
    assert synced == ["saas"]
    tables = {t["name"]: {c["name"]: c for c in t["columns"]} for t in yaml.safe_load(text)["sources"][0]["tables"]}
    tests = lambda table, column: {next(iter(t)): next(iter(t.values())) for t in tables[table][column]["data_tests"]}  # noqa: E731
    assert set(tests("dim_plan", "plan_id")) == {"unique", "not_null"}
    assert set(tests("dim_plan", "plan")) == {"unique", "not_null"}
    fk = tests("dim_company", "plan_id")
    assert fk["relationships"]["arguments"] == {"to": "source('saas', 'dim_plan')", "field": "plan_id"}
    assert "not_null" in fk
    tier = tests("dim_company", "tier")
    assert tier["accepted_values"]["arguments"] == {"values": ["gold", "silver"]}
    assert tier["accepted_values"]["config"] == {"tags": ["plotsim"]}
    assert set(tests("dim_company", "contact_name")) == {"not_null"}
    assert "PII: Contact person (synthetic)" in tables["dim_company"]["contact_name"]["description"]
    assert sync_text(text, "sources.yml", tmp_path)[0] == text  # idempotent


# --------------------------------------------------------------------------------------------- errors

BASE: dict = {
    "unit": "account",
    "window": {"start": "2024-01", "end": "2024-06-30", "grain": "month"},
    "metrics": [{"name": "engagement", "type": "score"}, {"name": "mrr", "type": "amount", "range": [50, 5000]}],
    "segments": [{"name": "growers", "count": 20, "archetype": "growth"},
                 {"name": "steady", "count": 20, "archetype": "flat"}],
    "reference": [{"name": "plan", "rows": [{"plan": "starter", "price": 29}, {"plan": "pro", "price": 99}]}],
}


def bad(*attributes, reference=None) -> dict:
    data = copy.deepcopy(BASE)
    data["attributes"] = list(attributes)
    if reference is not None:
        data["reference"] = reference
    return data


def cat(name="tier", **keys) -> dict:
    return {"name": name, "type": "category", **({"weights": {"a": 1, "b": 1}} | keys)}


def num(name="size", **keys) -> dict:
    return {"name": name, "type": "number", **({"range": [1, 10]} | keys)}


ERRORS = [
    pytest.param(bad({"name": "tier", "type": "number", "range": [0, 1e300]}), "attributes.tier.range",
                 ["reaches beyond +/-1e+15"], id="number-range-too-large"),
    pytest.param(bad({"name": "tier", "type": "colour"}), "attributes.tier.type",
                 ["'category', 'number', 'date'", "'country'", "got 'colour'"], id="unknown-type"),
    pytest.param(bad(cat(weigths={"a": 1})), "attributes.tier.weigths",
                 ["unknown key 'weigths'", "did you mean 'weights'?"], id="unknown-key"),
    pytest.param(bad(cat(range=[1, 2])), "attributes.tier.range",
                 ["applies to type number, not category"], id="key-of-another-type"),
    pytest.param(bad(cat(weights={"a": -1, "b": 1})), "attributes.tier.weights.a",
                 ["weight -1.0", ">= 0"], id="negative-weight"),
    pytest.param(bad(cat(weights={"a": 0, "b": 0})), "attributes.tier.weights",
                 ["add up to 0", "at least one must be above 0"], id="weights-sum-to-zero"),
    pytest.param(bad(cat(weights={})), "attributes.tier.weights", ["add up to 0"], id="weights-empty"),
    pytest.param(bad({"name": "tier", "type": "category"}), "attributes.tier",
                 ["needs `weights`", "or `references`"], id="category-without-values"),
    pytest.param(bad(cat(by_segment={"growerz": {"a": 1}})), "attributes.tier.by_segment.growerz",
                 ["unknown segment 'growerz'", "did you mean 'growers'?"], id="by-segment-unknown-segment"),
    pytest.param(bad(cat(by_segment={"growers": {"c": 1}})), "attributes.tier.by_segment.growers.c",
                 ["unknown category 'c'", "['a', 'b']"], id="by-segment-unknown-category"),
    pytest.param(bad(cat("plan", weights={"starter": 1}, references="plann")), "attributes.plan.references",
                 ["FK to an undeclared table 'plann'", "did you mean 'plan'?"], id="references-undeclared-table"),
    pytest.param(bad(cat("plan", weights={"starter": 1, "gold": 1}, references="plan")), "attributes.plan.weights.gold",
                 ["'gold' is not a value of column 'plan' of reference.plan", "['starter', 'pro']"],
                 id="category-not-in-reference"),
    pytest.param(bad(cat("plan", weights=None, references="plan", by_segment={"growers": {"gold": 1}})),
                 "attributes.plan.by_segment.growers.gold", ["unknown category 'gold'", "['starter', 'pro']"],
                 id="by-segment-category-not-in-reference"),
    pytest.param(bad(cat("plan", weights=None, references="plan"),
                     reference=[{"name": "plan", "rows": [{"label": "x"}]}]), "attributes.plan.references",
                 ["reference.plan has no column 'plan'", "['label']"], id="reference-without-label-column"),
    pytest.param(bad(cat("segment")), "attributes.segment",
                 ["column 'segment' is taken by a generated column of dim_account"], id="name-collides-with-dim-column"),
    pytest.param(bad(cat("account_code")), "attributes.account_code",
                 ["taken by a generated column"], id="name-collides-with-natural-key"),
    pytest.param(bad(cat(), cat()), "attributes.tier", ["used more than once"], id="duplicate-attribute"),
    pytest.param(bad(cat("plan", weights=None, references="plan"), cat("plan_id")), "attributes.plan_id",
                 ["column 'plan_id' is also the column of attribute ['plan']"], id="fk-column-collides"),
    pytest.param(bad(num(range=None)), "attributes.size.range", ["is required for type number"], id="number-without-range"),
    pytest.param(bad(num(range=[10, 1])), "attributes.size.range",
                 ["[10.0, 1.0]", "min < max"], id="number-range-min-above-max"),
    pytest.param(bad(num(range=[5, 5])), "attributes.size.range", ["min < max"], id="number-range-min-equals-max"),
    pytest.param(bad(num(range=[0, 10], distribution="lognormal")), "attributes.size.range",
                 ["lognormal needs min > 0"], id="lognormal-from-zero"),
    pytest.param(bad(num(median=20)), "attributes.size.median", ["20.0 lies outside range"], id="median-outside-range"),
    pytest.param(bad(num(range=[0.2, 0.8], integer=True)), "attributes.size.range",
                 ["holds no integer"], id="integer-range-without-integer"),
    pytest.param(bad(num(follows="mrrr")), "attributes.size.follows",
                 ["unknown metric 'mrrr'", "did you mean 'mrr'?"], id="follows-unknown-metric"),
    pytest.param(bad(num(strength=0.5)), "attributes.size.strength", ["applies with `follows`"], id="strength-without-follows"),
    pytest.param(bad(num(follows="mrr", strength=1.5)), "attributes.size.strength",
                 ["less than or equal to 1"], id="strength-above-one"),
    pytest.param(bad({"name": "signup", "type": "date"}), "attributes.signup.days_before_arrival",
                 ["is required for type date"], id="date-without-days"),
    pytest.param(bad({"name": "signup", "type": "date", "days_before_arrival": [-5, 10]}),
                 "attributes.signup.days_before_arrival", ["[-5, 10]", "days >= 0"], id="date-days-negative"),
    pytest.param(bad({"name": "signup", "type": "date", "days_before_arrival": [30, 10]}),
                 "attributes.signup.days_before_arrival", ["[30, 10]", "min <= max"], id="date-days-min-above-max"),
    pytest.param(bad({"name": "city", "type": "city", "locale": "de_De"}), "attributes.city.locale",
                 ["unknown locale 'de_De'", "did you mean 'de_DE'?"], id="unknown-locale"),
    pytest.param(bad({"name": "city", "type": "city"}, {"name": "email", "type": "email", "name_from": "city"}),
                 "attributes.email.name_from", ["'city' is not a person_name attribute"], id="email-name-from-not-a-person"),
    pytest.param(bad({"name": "email", "type": "email", "domain_from": "company"}), "attributes.email.domain_from",
                 ["'company' is not a company_name attribute", "none"], id="email-domain-from-unknown"),
    pytest.param(bad({"name": "co", "type": "company_name"},
                     {"name": "email", "type": "email", "domain_from": "co", "domain": "example.com"}),
                 "attributes.email.domain", ["not both"], id="email-domain-and-domain-from"),
    pytest.param(bad({"name": "email", "type": "email", "domain": "Example Com"}), "attributes.email.domain",
                 ["'Example Com' is not a lower-case domain"], id="email-bad-domain"),
    pytest.param(bad(reference=[{"name": "plan", "rows": []}]), "reference.plan.rows",
                 ["must list at least 1 item"], id="reference-no-rows"),
    pytest.param(bad(reference=[{"name": "plan", "rows": [{}]}]), "reference.plan.rows[0]",
                 ["a row needs at least one column"], id="reference-empty-row"),
    pytest.param(bad(reference=[{"name": "plan", "rows": [{"plan": "a", "price": 1}, {"plan": "b", "cost": 2}]}]),
                 "reference.plan.rows[1]", ["has columns ['cost', 'plan']", "the first row has ['plan', 'price']"],
                 id="reference-rows-differing-keys"),
    pytest.param(bad(reference=[BASE["reference"][0], BASE["reference"][0]]), "reference.plan",
                 ["used more than once"], id="reference-duplicate-name"),
    pytest.param(bad(reference=[{"name": "plan", "rows": [{"plan": "a", "price": 1}, {"plan": "b", "price": "x"}]}]),
                 "reference.plan.rows", ["column 'price' mixes ['int', 'str']"], id="reference-mixed-column-types"),
    pytest.param(bad(reference=[{"name": "plan", "rows": [{"plan": "a"}, {"plan": "a"}]}]), "reference.plan.rows",
                 ["column 'plan' names the rows and must be unique", "['a']"], id="reference-label-not-unique"),
    pytest.param(bad(reference=[{"name": "plan", "rows": [{"plan": "a", "plan_id": 7}]}]), "reference.plan.rows",
                 ["column 'plan_id' is the generated primary key"], id="reference-declares-its-key"),
    pytest.param(bad(reference=[{"name": "date", "rows": [{"day": "x"}]}]), "reference.date",
                 ["dim_date is already the date dimension"], id="reference-name-taken"),
    pytest.param(bad() | {"children": [{"name": "plan", "per_parent": {"min": 1, "max": 3}}]}, "children.plan",
                 ["dim_plan is already reference table plan"], id="reference-name-of-a-child"),
    pytest.param(bad(reference=[{"name": "plan", "rows": [{"plan": "a"}], "columns": {"cost": "x"}}]),
                 "reference.plan.columns.cost", ["unknown column 'cost'"], id="reference-describes-unknown-column"),
    pytest.param(bad(reference=[{"name": "plan", "rows": [{"plan": "a", "Price": 1}]}]), "reference.plan.rows[0].Price",
                 ["lower-case letters"], id="reference-column-not-an-identifier"),
]


@pytest.mark.parametrize("data, path, fragments", ERRORS)
def test_bad_attributes_report_path_and_message(data, path, fragments):
    with pytest.raises(SpecError) as caught:
        load_spec(data)
    found = [p for p in caught.value.problems if p.path == path]
    assert found, f"no problem at {path}; got {[(p.path, p.message) for p in caught.value.problems]}"
    for fragment in fragments:
        assert any(fragment in p.message for p in found), f"{fragment!r} not in {[p.message for p in found]}"


def test_one_mistake_one_problem():
    with pytest.raises(SpecError) as caught:
        load_spec(bad(cat("plan", weights={"starter": 1, "gold": 1}, references="plan")))
    assert [p.path for p in caught.value.problems] == ["attributes.plan.weights.gold"]


def test_all_problems_at_once():
    with pytest.raises(SpecError) as caught:
        load_spec(bad(cat(weights={"a": -1}), num(range=[3, 1]), {"name": "x", "type": "colour"}))
    assert [p.path for p in caught.value.problems] == [
        "attributes.size.range", "attributes.tier.weights.a", "attributes.x.type"]


def test_valid_spec_loads():
    spec = load_spec(SPEC)
    assert [a.column for a in spec.attributes][:2] == ["plan_id", "region"]
