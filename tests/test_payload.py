"""JSON payloads on events: valid JSON on every row (DuckDB json_valid), declared shares and ranges read
back with json_extract, keys in order and left out when missing, determinism per row, descriptions, and
every validation error with its YAML path."""
from __future__ import annotations

import copy
import json
import re

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import spearmanr

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.engine.payload import cell_rank

PAYLOAD = [
    {"name": "path", "type": "category", "weights": {"/home": 0.5, "/pricing": 0.3, "/docs": 0.2}},
    {"name": "duration_s", "type": "number", "range": [1, 600], "integer": True, "follows": "engagement"},
    {"name": "device_id", "type": "uuid"},
    {"name": "referrer", "type": "category", "weights": {"google": 0.6, "direct": 0.4}, "missing": 0.2},
    {"name": "ratio", "type": "number", "range": [0, 1], "distribution": "uniform"},
    {"name": "order_ref", "type": "pattern", "pattern": "ORD-{n}-##??"},
    {"name": "quirky", "type": "category", "weights": {'say "hi"\\': 1, "naïve\u2603": 1}, "missing": 0.5},
]
# 1,500 customers over 12 months, about 4 page views each month: ~72,000 rows.
SPEC: dict = {
    "unit": "customer",
    "window": {"start": "2024-01-01", "end": "2024-12-31", "grain": "month"},
    "seed": 5,
    "metrics": [{"name": "engagement", "type": "score"}],
    "segments": [{"name": "fans", "count": 1000, "archetype": "growth"},
                 {"name": "rest", "count": 500, "archetype": "decline"}],
    "events": [{"name": "page_view", "rate": {"mean": 4, "follows": "engagement"}, "payload": PAYLOAD},
               {"name": "slump", "when": {"metric": "engagement", "below": 0.3, "for": 2}}],
}


def with_(**changes) -> dict:
    data = copy.deepcopy(SPEC)
    data.update(copy.deepcopy(changes))
    return data


def four_sigma(n: int, p: float) -> float:
    """4 standard deviations of a binomial share over n rows."""
    return 4 * np.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def tables():
    return dbt_plotsim.generate(SPEC)


@pytest.fixture(scope="module")
def con(tables):
    connection = duckdb.connect()
    dbt_plotsim.write_duckdb(SPEC, connection)
    yield connection
    connection.close()


def one(con, sql):
    return con.execute(sql).fetchone()


def test_every_payload_is_valid_json(con):
    n, valid, nulls = one(con, "select count(*), count(*) filter (where json_valid(payload)), "
                               "count(*) filter (where payload is null) from evt_page_view")
    assert n > 60_000 and valid == n and nulls == 0
    assert one(con, "select data_type from duckdb_columns() where table_name = 'evt_page_view' "
                    "and column_name = 'payload'") == ("VARCHAR",)


def test_category_shares(con):
    n, home, pricing, present, google = one(con, """
        select count(*), avg((payload->>'path' = '/home')::int), avg((payload->>'path' = '/pricing')::int),
               avg(json_exists(payload, '$.referrer')::int),
               avg((payload->>'referrer' = 'google')::int) filter (where json_exists(payload, '$.referrer'))
        from evt_page_view""")
    assert abs(home - 0.5) < four_sigma(n, 0.5)
    assert abs(pricing - 0.3) < four_sigma(n, 0.3)
    assert abs(present - 0.8) < four_sigma(n, 0.8)  # missing: 0.2
    assert abs(google - 0.6) < four_sigma(int(n * 0.8), 0.6)
    values = {v for (v,) in con.execute("select distinct payload->>'path' from evt_page_view").fetchall()}
    assert values == {"/home", "/pricing", "/docs"}


def test_numbers_keep_their_range_and_type(con):
    lo, hi, kinds, rlo, rhi, rkinds, mean = one(con, """
        select min((payload->>'duration_s')::int), max((payload->>'duration_s')::int),
               list_sort(list(distinct json_type(payload, '$.duration_s'))),
               min((payload->>'ratio')::double), max((payload->>'ratio')::double),
               list_sort(list(distinct json_type(payload, '$.ratio'))), avg((payload->>'ratio')::double)
        from evt_page_view""")
    assert 1 <= lo and hi <= 600 and kinds == ["UBIGINT"]
    assert 0 <= rlo and rhi <= 1 and set(rkinds) <= {"DOUBLE", "UBIGINT"}
    n = one(con, "select count(*) from evt_page_view")[0]
    assert abs(mean - 0.5) < 4 * np.sqrt(1 / 12 / n)  # uniform mean, 4 sigma
    decimals = one(con, "select max(length(split_part(payload->>'ratio', '.', 2))) from evt_page_view")[0]
    assert decimals <= 2


def test_number_follows_the_entity_in_its_period(con):
    rows = np.array(con.execute("""
        select (payload->>'duration_s')::int, (payload->>'ratio')::double, f.engagement
        from evt_page_view e join fct_engagement f using (customer_id, date_key)""").fetchall())
    # latent correlation 0.7 -> Spearman 6/pi asin(0.35) = 0.683 for a standard-normal score; rows weighted
    # by the rate (more views when engagement is high) shrink it a little: measured 0.651. Tolerance 0.06.
    assert abs(spearmanr(rows[:, 0], rows[:, 2])[0] - 0.683) < 0.06
    assert abs(spearmanr(rows[:, 1], rows[:, 2])[0]) < 0.03  # ratio follows nothing


def test_uuids_patterns_and_escaped_text(con):
    rows = con.execute("""select customer_id, payload->>'device_id', payload->>'order_ref', payload->>'quirky'
                          from evt_page_view""").fetchall()
    uuid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(uuid.match(r[1]) for r in rows)
    assert len({r[1] for r in rows}) == len(rows)
    assert all(re.fullmatch(rf"ORD-{r[0]:04d}-\d\d[A-Z][A-Z]", r[2]) for r in rows)  # {n}: the row's customer
    assert {r[3] for r in rows} == {'say "hi"\\', "naïve\u2603", None}


def test_keys_in_declared_order_and_left_out_when_missing(tables):
    declared = [f["name"] for f in PAYLOAD]
    seen = set()
    for text in tables["evt_page_view"]["payload"].to_pylist():
        keys = list(json.loads(text))
        assert keys == [k for k in declared if k in keys]  # a subsequence of the declared order
        assert "null" not in text.replace("naïve", "")
        seen.add(tuple(keys))
    assert {len(k) for k in seen} == {5, 6, 7}  # referrer and quirky each missing or present


def test_only_events_with_a_payload_get_the_column(tables):
    assert "payload" not in tables["evt_slump"].column_names
    without = dbt_plotsim.generate(with_(events=[{**SPEC["events"][0], "payload": []}, SPEC["events"][1]]))
    table = tables["evt_page_view"]
    assert without["evt_page_view"].equals(table.drop_columns(["payload"]))  # nothing else changes
    for name in tables:
        if name != "evt_page_view":
            assert tables[name].equals(without[name]), name


def test_describes_every_field(tables):
    text = tables["evt_page_view"].schema.field("payload").metadata[b"description"].decode()
    for fragment in ("payload::json", "json_extract", "path: one of /home (50%), /pricing (30%), /docs (20%)",
                     "duration_s: normal within [1, 600], whole numbers, higher when the customer's engagement",
                     "device_id: UUID v4 text", "absent from about 20% of objects", "'ORD-{n}-##??'"):
        assert fragment in text, fragment


# ------------------------------------------------------------------------------------------ determinism

def test_same_payloads_whatever_the_chunk_size(tables):
    small = dbt_plotsim.generate(SPEC, chunk_entities=1024)["evt_page_view"]
    large = dbt_plotsim.generate(SPEC, chunk_entities=100_000, workers=2)["evt_page_view"]
    assert small.equals(large) and small.equals(tables["evt_page_view"])


def test_a_field_depends_only_on_its_row(tables):
    fewer = dbt_plotsim.generate(with_(events=[{**SPEC["events"][0], "payload": PAYLOAD[2:4]}, SPEC["events"][1]]))
    full = [json.loads(t) for t in tables["evt_page_view"]["payload"].to_pylist()]
    some = [json.loads(t) for t in fewer["evt_page_view"]["payload"].to_pylist()]
    assert [{k: v for k, v in row.items() if k in ("device_id", "referrer")} for row in full] == some


def test_rows_keep_their_payload_at_an_earlier_as_of(tables):
    early = dbt_plotsim.generate(with_(window={**SPEC["window"], "as_of": "2024-06-30"}))["evt_page_view"]
    full = tables["evt_page_view"]
    kept = full.filter(pa.compute.less_equal(full["date_key"], 20240601))
    assert early.num_rows == kept.num_rows > 0
    assert early["payload"].equals(kept["payload"])


def test_merged_event_table_keeps_each_payload(tables):
    merged = dbt_plotsim.generate(with_(tables={"events": [{"name": "evt_activity", "events": ["page_view", "slump"]}]}))
    table = merged["evt_activity"]
    kinds = table["event_type"].to_pylist()
    payloads = table["payload"].to_pylist()
    assert all((p is None) == (k == "slump") for k, p in zip(kinds, payloads))
    assert sorted(p for p in payloads if p) == sorted(tables["evt_page_view"]["payload"].to_pylist())
    text = table.schema.field("payload").metadata[b"description"].decode()
    assert "page_view: path: one of" in text and "Null on slump rows." in text


def test_cell_rank():
    entity = np.array([1, 1, 1, 2, 2, 3])
    period = np.array([0, 0, 1, 1, 1, 0])
    assert cell_rank(entity, period).tolist() == [0, 1, 0, 0, 1, 0]


# --------------------------------------------------------------------------------------------- errors

def field(**keys) -> dict:
    return {"name": "f", **keys}


ERRORS = [
    pytest.param([field(type="category")], "events.page_view.payload.f.weights", ["is required for type category"],
                 id="category-without-weights"),
    pytest.param([field(type="category", weights={"a": -1})], "events.page_view.payload.f.weights.a",
                 [">= 0"], id="negative-weight"),
    pytest.param([field(type="number")], "events.page_view.payload.f.range", ["is required for type number"],
                 id="number-without-range"),
    pytest.param([field(type="number", range=[5, 1])], "events.page_view.payload.f.range", ["min < max"],
                 id="number-range-reversed"),
    pytest.param([field(type="number", range=[1, 5], follows="engagment")], "events.page_view.payload.f.follows",
                 ["unknown metric 'engagment'", "did you mean 'engagement'?"], id="follows-unknown-metric"),
    pytest.param([field(type="number", range=[1, 5], strength=0.5)], "events.page_view.payload.f.strength",
                 ["applies with `follows`"], id="strength-without-follows"),
    pytest.param([field(type="uuid", weights={"a": 1})], "events.page_view.payload.f.weights",
                 ["applies to type category, not uuid"], id="key-of-another-type"),
    pytest.param([field(type="pattern", pattern="{x}#")], "events.page_view.payload.f.pattern",
                 ["unknown placeholder '{x}'"], id="pattern-unknown-placeholder"),
    pytest.param([field(type="pattern", pattern="AB")], "events.page_view.payload.f.pattern",
                 ["has no placeholder"], id="pattern-without-placeholder"),
    pytest.param([field(type="pattern")], "events.page_view.payload.f.pattern", ["is required for type pattern"],
                 id="pattern-missing"),
    pytest.param([field(type="uuid"), field(type="uuid")], "events.page_view.payload.f", ["used more than once"],
                 id="duplicate-field"),
    pytest.param([field(type="uuid", missing=1)], "events.page_view.payload.f.missing", ["less than 1"],
                 id="missing-share-one"),
    pytest.param([field(type="uid")], "events.page_view.payload.f.type", ["did you mean 'uuid'?"], id="misspelt-type"),
    pytest.param([{"name": "Path", "type": "uuid"}], "events.page_view.payload.Path.name", ["lower-case letters"],
                 id="key-not-an-identifier"),
    pytest.param([field(type="uuid", weigths={"a": 1})], "events.page_view.payload.f.weigths",
                 ["unknown key 'weigths'", "did you mean 'weights'?"], id="unknown-key"),
]


@pytest.mark.parametrize("payload, path, fragments", ERRORS)
def test_bad_payloads_report_path_and_message(payload, path, fragments):
    with pytest.raises(SpecError) as caught:
        load_spec(with_(events=[{**SPEC["events"][0], "payload": payload}]))
    found = [p for p in caught.value.problems if p.path == path]
    assert found, f"no problem at {path}; got {[(p.path, p.message) for p in caught.value.problems]}"
    for fragment in fragments:
        assert any(fragment in p.message for p in found), f"{fragment!r} not in {[p.message for p in found]}"


SOURCES = """\
version: 2
sources:
  - name: web
    config:
      meta:
        synthetic:
          unit: visitor
          window: {start: 2024-01-01, end: 2024-03-31, grain: month}
          metrics: [{name: engagement, type: score}]
          segments: [{name: all, count: 10, archetype: growth}]
          events:
            - name: page_view
              rate: {mean: 2}
              payload: [{name: path, type: category, weights: {/home: 1, /docs: 1}}]
"""


def test_sync_describes_the_payload_and_registers_not_null(tmp_path):
    import yaml

    from dbt_plotsim.sync import sync_text

    text, _ = sync_text(SOURCES, "sources.yml", tmp_path)
    tables = {t["name"]: {c["name"]: c for c in t["columns"]} for t in yaml.safe_load(text)["sources"][0]["tables"]}
    column = tables["evt_page_view"]["payload"]
    assert "payload::json" in column["description"] and "path: one of /home (50%), /docs (50%)" in column["description"]
    assert [next(iter(t)) for t in column["data_tests"]] == ["not_null"]


def test_payloads_in_split_blocks(monkeypatch):
    """A block cut into parts (parts.py) draws its events per part; each row's payload still comes from
    that row alone (so it is valid, follows its entity, and is the same whatever the chunking)."""
    from dbt_plotsim.engine import parts
    from dbt_plotsim.engine.pipeline import start

    spec = with_(segments=[{**SPEC["segments"][0], "count": 400}], events=SPEC["events"][:1])
    whole = start(load_spec(spec)).tables()["evt_page_view"]
    monkeypatch.setattr(parts, "PART_BUDGET", 64 * 1024)
    split = start(load_spec(spec)).tables()["evt_page_view"]
    again = start(load_spec(spec), chunk_entities=100_000, workers=2).tables()["evt_page_view"]
    assert split.equals(again) and not split.equals(whole)  # parts draw other events, the same each time
    con = duckdb.connect()
    con.register("split", split)
    n, valid = one(con, "select count(*), count(*) filter (where json_valid(payload)) from split")
    assert n > 10_000 and valid == n
