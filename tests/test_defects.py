"""Declared defects (engine/defects.py): each kind at its declared rate, only in its table and periods, the
same bytes whatever the chunking, and an answer key that turns the messy tables back into the clean ones."""
from __future__ import annotations

import copy

import numpy as np
import pyarrow as pa
import pytest
import yaml

import dbt_plotsim
from dbt_plotsim import SpecError
from dbt_plotsim.engine.defects import KEY_TABLE
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim.templates import text

SAAS = yaml.safe_load(text("saas"))
DEFECTS = {"tables": {
    "dim_account": [{"kind": "messy_text", "column": "company_name", "rate": 0.1},
                    {"kind": "duplicate", "rate": 0.04},
                    {"kind": "invalid_value", "column": "region", "rate": 0.03, "values": ["???", "N/A"]}],
    "fct_account_monthly": [{"kind": "out_of_range", "column": "mrr", "rate": 0.02},
                            {"kind": "orphan", "column": "account_id", "rate": 0.01,
                             "periods": {"from": "2024-01-01", "until": "2024-06-30"}},
                            {"kind": "near_duplicate", "rate": 0.01}],
    "evt_user_login": [{"kind": "wrong_timezone", "column": "occurred_at", "rate": 0.05, "hours": -5}],
}}


SHAPES = {"tables": {  # the kinds that change a table's layout or volume, and segment filters
    "fct_account_monthly": [
        {"kind": "number_as_text", "column": "mrr", "rate": 0.05},
        {"kind": "schema_drift", "column": "seats", "renamed_to": "seat_count", "periods": {"from": "2024-07-01"}},
        {"kind": "volume_drop", "rate": 0.5, "periods": {"from": "2024-03-01", "until": "2024-03-31"}},
        {"kind": "volume_spike", "rate": 0.5, "copies": 2, "segments": ["smb_steady"],
         "periods": {"from": "2024-09-01", "until": "2024-09-30"}}],
    "fct_invoice": [{"kind": "number_as_text", "column": "amount", "rate": 0.1},
                    {"kind": "schema_drift", "added": "currency", "values": ["USD", "usd", "EUR"],
                     "periods": {"from": "2024-10-01"}}],
    "dim_account": [{"kind": "messy_text", "column": "company_name", "rate": 0.2, "segments": ["at_risk"]}],
}}


def spec(defects=DEFECTS, scale=0.2, **edits):
    data = copy.deepcopy(SAAS)
    data["defects"] = copy.deepcopy(defects)
    data.update(edits)
    return dbt_plotsim.load_spec(data, scale=scale)


@pytest.fixture(scope="module")
def tables():
    return start(spec()).tables(), start(spec(defects={})).tables()


@pytest.fixture(scope="module")
def shaped(tables):
    return start(spec(defects=SHAPES)).tables(), tables[1]


def key_rows(key: pa.Table, table: str, number: int) -> pa.Table:
    return key.filter(pa.compute.and_(pa.compute.equal(key["table_name"], table),
                                      pa.compute.equal(key["defect_number"], number)))


def test_every_kind_hits_its_declared_share_of_rows(tables):
    messy, clean = tables
    key = messy[KEY_TABLE]
    for table, defects in DEFECTS["tables"].items():
        for number, defect in enumerate(defects):
            eligible = clean[table].num_rows
            if "periods" in defect:
                dates = clean[table]["date_key"].to_numpy()
                eligible = int(((dates >= 20240101) & (dates <= 20240630)).sum())
            hits = key_rows(key, table, number).num_rows
            sigma = np.sqrt(eligible * defect["rate"] * (1 - defect["rate"]))
            assert abs(hits - eligible * defect["rate"]) <= 4 * sigma + 1, (table, defect["kind"], hits, eligible)


def _segment_of(clean, ids):
    accounts = clean["dim_account"]
    return dict(zip(accounts["account_id"].to_pylist(), accounts["segment"].to_pylist()))


def _binomial(hits, eligible, rate, what):
    sigma = np.sqrt(eligible * rate * (1 - rate))
    assert abs(hits - eligible * rate) <= 4 * sigma + 1, (what, hits, eligible, rate)


def test_layout_and_volume_kinds_hit_their_declared_share(shaped):
    messy, clean = shaped
    key = messy[KEY_TABLE]
    months, raw = clean["fct_account_monthly"], messy["fct_account_monthly"]
    dates = months["date_key"].to_numpy()
    segment = _segment_of(clean, None)
    march = int(((dates >= 20240301) & (dates <= 20240331)).sum())
    _binomial(key_rows(key, "fct_account_monthly", 2).num_rows, march, 0.5, "volume_drop")
    raw_dates = raw["date_key"].to_numpy()
    spiked = [a for a, d in zip(months["account_id"].to_pylist(), dates) if 20240901 <= d <= 20240930
              and segment[a] == "smb_steady"]
    copies = key_rows(key, "fct_account_monthly", 3)
    assert copies.num_rows % 2 == 0 and {segment[a] for a in copies["key_value"].to_pylist()} == {"smb_steady"}
    _binomial(copies.num_rows // 2, len(spiked), 0.5, "volume_spike")
    # the period's volume: the drop's share gone in March, the spike's copies in September
    assert (raw_dates == 20240301).sum() == march - key_rows(key, "fct_account_monthly", 2).num_rows
    assert (raw_dates == 20240901).sum() == (dates == 20240901).sum() + copies.num_rows
    # number_as_text: a text column; the share of values with a value are messy, the rest read back exactly
    assert pa.types.is_string(raw.schema.field("mrr").type)
    valid = int(months["mrr"].is_valid().to_numpy(zero_copy_only=False).sum()) - \
        key_rows(key, "fct_account_monthly", 2).num_rows  # about: dropped rows are not there to be messy
    _binomial(key_rows(key, "fct_account_monthly", 0).num_rows, valid, 0.05, "number_as_text")
    # schema_drift: seats until June 2024, seat_count from July on, nothing lost
    seats, count = raw["seats"].to_numpy(zero_copy_only=False), raw["seat_count"].to_numpy(zero_copy_only=False)
    later = raw_dates >= 20240701
    assert np.isnan(seats[later].astype(float)).all() and np.isnan(count[~later].astype(float)).all()
    invoices = messy["fct_invoice"]
    currency = invoices["currency"].to_pylist()
    late = invoices["date_key"].to_numpy() >= 20241001
    assert all(c in ("USD", "usd", "EUR") for c, x in zip(currency, late) if x)
    assert all(c is None for c, x in zip(currency, late) if not x)
    at_risk = [a for a, s in segment.items() if s == "at_risk"]
    named = key_rows(key, "dim_account", 0)
    assert {segment[a] for a in named["key_value"].to_pylist()} == {"at_risk"}
    _binomial(named.num_rows, len(at_risk), 0.2, "messy_text in a segment")


def test_numbers_as_text_read_back_and_messy_ones_look_typed_by_hand(shaped):
    messy, clean = shaped
    key = key_rows(messy[KEY_TABLE], "fct_invoice", 0).to_pylist()
    assert {k["defect_value"][0] == "$" for k in key} == {True, False}
    assert any(k["defect_value"] == "N/A" for k in key) and any("," in k["defect_value"] for k in key)
    hit = {k["key_value"] for k in key}
    for clean_amount, raw_amount, invoice in zip(clean["fct_invoice"]["amount"].to_pylist(),
                                                 messy["fct_invoice"]["amount"].to_pylist(),
                                                 messy["fct_invoice"]["invoice_id"].to_pylist()):
        if invoice not in hit:
            assert raw_amount == str(clean_amount)


def test_nothing_outside_the_declared_tables_and_periods(tables):
    messy, clean = tables
    for name in clean:
        if name not in DEFECTS["tables"]:
            assert messy[name].equals(clean[name]), name
    orphans = key_rows(messy[KEY_TABLE], "fct_account_monthly", 1)["date_key"].to_numpy()
    assert orphans.size and orphans.min() >= 20240101 and orphans.max() <= 20240630


def _canon(value):
    """A value as Arrow writes it as text, whichever way it came (a typed cell, clean text, JSON)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def undo(messy: pa.Table, key: list[dict], table: str) -> list[dict]:
    """The clean rows from the messy table and the answer key alone: copies dropped, cells undone in reverse
    order, renamed values moved back, added columns dropped, dropped rows put back from their JSON."""
    import json

    rows = messy.to_pylist()
    first = messy.column_names[0]
    period = "date_key" if "date_key" in messy.column_names else None
    mine = [k for k in key if k["table_name"] == table]
    assert all(k["key_column"] == first for k in mine)
    ident = lambda k: (k["key_value"], k["date_key"] if period else None)  # noqa: E731
    extra: dict = {}  # (key, date) -> copies to drop
    for k in mine:
        if k["kind"] in ("duplicate", "near_duplicate", "volume_spike"):
            extra[ident(k)] = extra.get(ident(k), 0) + 1
    seen: dict = {}
    kept = []
    for r in rows:  # a copy comes right after its row: the first is the original
        here = (r[first], r[period] if period else None)
        seen[here] = seen.get(here, 0) + 1
        if seen[here] > 1:
            assert extra.get(here, 0) >= seen[here] - 1, (table, here)
            continue
        kept.append(r)
    by_row: dict = {}  # (key, period) -> its row, kept up to date as keys are undone
    for r in kept:
        by_row[(r[first], r[period] if period else None)] = r
    dropped_columns = set()
    for k in sorted(mine, key=lambda k: -k["defect_number"]):  # undo in reverse order
        if k["kind"] in ("duplicate", "near_duplicate", "volume_spike", "volume_drop"):
            continue
        r = by_row.pop(ident(k))
        column = k["column_name"]
        if k["kind"] == "schema_drift":
            drift = DRIFTS_BY_NAME[(table, k["defect_number"])]
            if drift.get("added"):
                assert r[column] == k["defect_value"] and k["original_value"] is None, k
            else:
                assert r[column] is None and _canon(r[drift["renamed_to"]]) == k["original_value"], k
                r[column] = k["original_value"]
        else:
            assert _canon(r[column]) == k["defect_value"], k
            r[column] = k["original_value"]
        by_row[(r[first], r[period] if period else None)] = r
    for drift in [d for (t, _), d in DRIFTS_BY_NAME.items() if t == table]:
        dropped_columns.add(drift.get("added") or drift["renamed_to"])
    restored = [{c: v for c, v in r.items() if c not in dropped_columns} for r in kept]
    restored += [json.loads(k["original_value"]) for k in mine if k["kind"] == "volume_drop"]
    return restored


def _same_rows(restored: list[dict], clean: pa.Table) -> bool:
    numeric = {f.name for f in clean.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
               or pa.types.is_decimal(f.type)}

    def canon(rows):
        return sorted(repr({c: (None if v is None else float(v)) if c in numeric else _canon(v) for c, v in r.items()})
                      for r in rows)
    return canon(restored) == canon(clean.to_pylist())


DRIFTS_BY_NAME: dict = {}


@pytest.mark.parametrize("declared", ["DEFECTS", "SHAPES"])
def test_the_answer_key_turns_the_messy_tables_back_into_the_clean_ones(declared, tables, shaped):
    defects = globals()[declared]
    messy, clean = tables if declared == "DEFECTS" else shaped
    DRIFTS_BY_NAME.clear()
    DRIFTS_BY_NAME.update({(t, i): d for t, ds in defects["tables"].items() for i, d in enumerate(ds)
                           if d["kind"] == "schema_drift"})
    key = messy[KEY_TABLE].to_pylist()
    for table in defects["tables"]:
        assert _same_rows(undo(messy[table], key, table), clean[table]), table


@pytest.mark.parametrize("declared", ["DEFECTS", "SHAPES"])
def test_the_same_bytes_whatever_the_chunking(declared):
    a = start(spec(globals()[declared], scale=0.1)).tables()
    b = start(spec(globals()[declared], scale=0.1), chunk_entities=1024).tables()
    assert all(a[name].equals(b[name]) for name in a if name != KEY_TABLE)
    assert sorted(map(repr, a[KEY_TABLE].to_pylist())) == sorted(map(repr, b[KEY_TABLE].to_pylist()))


@pytest.mark.parametrize("defect, path, message", [
    ({"fct_nothing": [{"kind": "duplicate", "rate": 0.1}]}, "defects.tables.fct_nothing", "makes no table"),
    ({"dim_account": [{"kind": "messy_text", "column": "nope", "rate": 0.1}]}, "defects.tables.dim_account[0].column",
     "has no column 'nope'"),
    ({"dim_account": [{"kind": "messy_text", "column": "account_id", "rate": 0.1}]},
     "defects.tables.dim_account[0].column", "needs a text column"),
    ({"fct_account_monthly": [{"kind": "out_of_range", "column": "account_id", "rate": 0.1}]},
     "defects.tables.fct_account_monthly[0].column", "metric column with a declared range"),
    ({"dim_account": [{"kind": "duplicate", "rate": 0.1, "periods": {"from": "2024-06", "until": "2024-01-31"}}]},
     "defects.tables.dim_account[0].periods", "is before from"),
    ({"dim_account": [{"kind": "orphan", "rate": 0.1}]}, "defects.tables.dim_account[0]", "needs `column`"),
    ({"dim_account": [{"kind": "typo", "rate": 0.1}]}, "defects.tables.dim_account[0].kind", "duplicate"),
    ({"dim_account": [{"kind": "duplicat", "rate": 0.1}]}, "defects.tables.dim_account[0].kind",
     "did you mean 'duplicate'?"),
    ({"dim_account": [{"kind": "duplicate", "rate": 1.0}]}, "defects.tables.dim_account[0]", "must be below 1"),
    ({"dim_account": [{"kind": "number_as_text", "column": "company_name", "rate": 0.1}]},
     "defects.tables.dim_account[0].column", "a number column that is not a key"),
    ({"fct_account_monthly": [{"kind": "number_as_text", "column": "account_id", "rate": 0.1}]},
     "defects.tables.fct_account_monthly[0].column", "a number column that is not a key"),
    ({"fct_account_monthly": [{"kind": "schema_drift", "column": "seats", "renamed_to": "mrr",
                               "periods": {"from": "2024-01-01"}}]},
     "defects.tables.fct_account_monthly[0].renamed_to", "'mrr' is already a column"),
    ({"fct_account_monthly": [{"kind": "schema_drift", "column": "seats", "renamed_to": "n"}]},
     "defects.tables.fct_account_monthly[0]", "needs `periods: {from: <date>}`"),
    ({"fct_account_monthly": [{"kind": "schema_drift", "column": "seats", "renamed_to": "n", "rate": 0.1,
                               "periods": {"from": "2024-01-01"}}]},
     "defects.tables.fct_account_monthly[0]", "takes no `rate`"),
    ({"fct_account_monthly": [{"kind": "schema_drift", "added": "channel", "periods": {"from": "2024-01-01"}}]},
     "defects.tables.fct_account_monthly[0]", "needs `values`"),
    ({"fct_account_monthly": [{"kind": "volume_drop", "rate": 0.5}]},
     "defects.tables.fct_account_monthly[0]", "needs `periods`"),
    ({"fct_account_monthly": [{"kind": "duplicate", "rate": 0.1, "copies": 3}]},
     "defects.tables.fct_account_monthly[0]", "`copies` is for volume_spike"),
    ({"fct_account_monthly": [{"kind": "duplicate", "rate": 0.1, "segments": ["nope"]}]},
     "defects.tables.fct_account_monthly[0].segments", "unknown segment 'nope'"),
    ({"dim_plan": [{"kind": "duplicate", "rate": 0.1}]}, "defects.tables.dim_plan", "makes no table"),
    ({"bridge_account_feature": [{"kind": "duplicate", "rate": 0.1}]}, "defects.tables.bridge_account_feature",
     "named by two keys"),
    ({"fct_account_monthly": [{"kind": "number_as_text", "column": "mrr", "rate": 0.1},
                              {"kind": "out_of_range", "column": "mrr", "rate": 0.1}]},
     "defects.tables.fct_account_monthly[1].column", "a number metric column"),
])
def test_a_bad_defect_names_its_path(defect, path, message):
    with pytest.raises(SpecError) as caught:
        start(spec(defects={"tables": defect}, scale=0.05))
    rendered = caught.value.render()
    assert path in rendered and message in rendered, rendered


@pytest.mark.parametrize("declared", ["DEFECTS", "SHAPES"])
def test_a_source_with_defects_grows_load_by_load_to_the_full_generation(tmp_path, declared):
    """Appends rewrite a source with defects (its answer key covers every row); the result equals a full run."""
    import duckdb

    from dbt_plotsim.materialize import materialize
    from dbt_plotsim.sources import SyntheticSource

    def source(as_of):
        return SyntheticSource("saas", "raw", dbt_plotsim.load_spec({**copy.deepcopy(SAAS),
                                                                     "defects": globals()[declared]},
                                                                    scale=0.05, as_of=as_of), "duckdb", None)

    grown = duckdb.connect(str(tmp_path / "g.duckdb"))
    for as_of in ("2023-05-15", "2024-02-01", "2024-09-01"):
        outcome = materialize(source(as_of), grown)
    assert outcome.status == "appended"
    whole = duckdb.connect(str(tmp_path / "w.duckdb"))
    full = materialize(source("2024-09-01"), whole)
    assert KEY_TABLE in full.tables
    for table in full.tables:
        query = f'select * from raw."{table}" order by all'
        assert grown.execute(query).fetchall() == whole.execute(query).fetchall(), table
    assert whole.execute(f"select count(*) from raw.{KEY_TABLE}").fetchone()[0] > 0


def test_sync_registers_the_tests_of_defective_tables_as_warnings():
    from dbt_plotsim.sources import SyntheticSource
    from dbt_plotsim.sync import desired_tests

    data = spec(scale=0.05)
    tests = desired_tests(SyntheticSource("saas", "raw", data, "duckdb", None), start(data))

    def severities(table):
        return {next(iter(t.values()))["config"].get("severity") for column in tests[table].values() for t in column}

    assert severities("dim_account") == {"warn"} and severities("fct_account_monthly") == {"warn"}
    assert severities("dim_date") == {None} and severities("dim_user") == {None}


def _connected(tables):
    import duckdb

    conn = duckdb.connect()
    for name, table in tables.items():
        conn.register(name, table)
    return conn


def _cleans(conn, model: str, table: str, **arguments) -> list[tuple]:
    from .macros import render

    columns = [(r[0], r[1]) for r in conn.execute(f"describe {model}").fetchall()]
    return conn.execute(render("cleans_defects", model_columns=columns, model=model, defects=KEY_TABLE, table=table,
                               key=None, period_column=None, **{"allow": ["fixed", "removed"], **arguments})).fetchall()


def test_cleans_defects_passes_on_the_clean_truth_and_fails_on_the_raw_table(tables):
    messy, clean = tables
    conn = _connected(messy)
    conn.register("clean_account", clean["dim_account"])
    conn.register("clean_months", clean["fct_account_monthly"])
    conn.register("clean_logins", clean["evt_user_login"])
    for model, table in (("clean_account", "dim_account"), ("clean_months", "fct_account_monthly"),
                         ("clean_logins", "evt_user_login")):
        assert _cleans(conn, model, table) == [], model  # every kind fixed, orphans and copies gone
    left = {row[0]: row[-1] for row in _cleans(conn, "dim_account", "dim_account")}
    assert left == {"messy_text": "still wrong", "duplicate": "still duplicated", "invalid_value": "still wrong"}
    assert {row[-1] for row in _cleans(conn, "evt_user_login", "evt_user_login")} == {"still wrong"}
    months = {row[0] for row in _cleans(conn, "fct_account_monthly", "fct_account_monthly")}
    assert months == {"out_of_range", "orphan", "near_duplicate"}
    # dropping the rows with wrong values is allowed by default, nulling them only when asked
    conn.execute("""create view dropped as select * from clean_months where (account_id, date_key) not in
        (select key_value, date_key from _plotsim_defects where kind = 'out_of_range')""")
    assert _cleans(conn, "dropped", "fct_account_monthly") == []
    assert {r[-1] for r in _cleans(conn, "dropped", "fct_account_monthly", allow=["fixed"])} == {"removed"}
    conn.execute("""create view nulled as select account_id, date_key, plan_history_id, engagement,
        case when (account_id, date_key) in (select key_value, date_key from _plotsim_defects
                                             where kind = 'out_of_range') then null else mrr end as mrr, seats
        from clean_months""")
    assert {r[-1] for r in _cleans(conn, "nulled", "fct_account_monthly")} == {"nulled"}
    assert _cleans(conn, "nulled", "fct_account_monthly", allow=["fixed", "nulled"]) == []


STAGED_MONTHS = r"""
    select distinct on (account_id, date_key) account_id, date_key, plan_history_id, engagement,
        case when trim(mrr) in ('N/A', '') then null
             when regexp_matches(trim(mrr), ',[0-9]+$') and not regexp_matches(trim(mrr), '\.[0-9]+$')
                  and regexp_matches(trim(mrr), '^-?\$?[0-9]{1,3}(\.[0-9]{3})*,[0-9]+$')
                 then cast(replace(replace(replace(trim(mrr), '$', ''), '.', ''), ',', '.') as double)
             else cast(replace(replace(trim(mrr), '$', ''), ',', '') as double) end as mrr,
        coalesce(seats, seat_count) as seats
    from fct_account_monthly
    order by all
"""


def test_cleans_defects_proves_a_staging_model_undid_layout_and_volume_defects(shaped):
    messy, clean = shaped
    conn = _connected(messy)
    conn.register("clean_months", clean["fct_account_monthly"])
    assert _cleans(conn, "clean_months", "fct_account_monthly") == []  # the truth passes (drops not checked)
    raw = {row[0]: row[-1] for row in _cleans(conn, "fct_account_monthly", "fct_account_monthly")}
    assert raw == {"volume_spike": "still duplicated", "number_as_text": "still wrong", "schema_drift": "still wrong"}
    conn.execute(f"create view staged as {STAGED_MONTHS}")
    assert {r[-1] for r in _cleans(conn, "staged", "fct_account_monthly")} == {"nulled"}  # the N/A values
    assert _cleans(conn, "staged", "fct_account_monthly", allow=["fixed", "removed", "nulled"]) == []
    conn.execute(f"create view half_staged as {STAGED_MONTHS.replace('coalesce(seats, seat_count)', 'seats')}")
    assert {r[0] for r in _cleans(conn, "half_staged", "fct_account_monthly", allow=["fixed", "nulled"])} == \
        {"schema_drift"}


def test_a_parquet_set_holds_the_messy_tables_and_lists_the_answer_key(tmp_path):
    import json

    import pyarrow.parquet as pq

    from dbt_plotsim.materialize import generate_parquet
    from dbt_plotsim.writers.parquet_set import MANIFEST

    data = spec(SHAPES, scale=0.05)
    generate_parquet(data, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert KEY_TABLE in manifest["tables"]
    expected = start(data).tables()
    for name in (KEY_TABLE, "fct_account_monthly", "fct_invoice"):
        files = sorted((tmp_path / "out").glob(f"{name}.*parquet"))
        written = pa.concat_tables([pq.read_table(f) for f in files])
        assert written.cast(expected[name].schema).equals(expected[name]), name
    assert pa.types.is_string(pq.read_schema(tmp_path / "out" / "fct_invoice.parquet").field("amount").type)


EVERY = {"tables": {"dim_account": [{"kind": "messy_text", "column": "company_name", "rate": 0.1}]},
         "every_table": [{"kind": "duplicate", "rate": 0.02},
                         {"kind": "wrong_timezone", "column": "occurred_at", "rate": 0.05, "hours": 3}]}


def test_source_wide_defects_reach_every_table_they_fit(tables):
    data = spec(EVERY)
    generation = start(data)
    messy, clean = generation.tables(), tables[1]
    key = messy[KEY_TABLE]
    entity_tables = {n for n, t in clean.items() if n in generation.defects}
    assert {"dim_account", "fct_account_monthly", "evt_user_login", "fct_invoice", "dim_user"} <= entity_tables
    assert not {"dim_date", "dim_plan", "trajectory", "bridge_account_feature"} & entity_tables  # static tables,
    # the ground truth and a bridge (two keys name its rows)
    for table in entity_tables:
        own = len(EVERY["tables"].get(table, []))
        numbers = [d.path for d in generation.defects[table]]
        assert numbers[:own] == [f"defects.tables.{table}[{i}]" for i in range(own)]
        copies = key_rows(key, table, own).num_rows  # the source-wide duplicate comes after the table's own
        _binomial(copies, clean[table].num_rows, 0.02, (table, "duplicate"))
        shifted = key_rows(key, table, own + 1).num_rows
        if "occurred_at" in clean[table].column_names:
            _binomial(shifted, clean[table].num_rows, 0.05, (table, "wrong_timezone"))
        else:
            assert shifted == 0 and len(generation.defects[table]) == own + 1
    for name in set(clean) - entity_tables:
        assert messy[name].equals(clean[name]), name
    DRIFTS_BY_NAME.clear()
    for table in entity_tables:
        assert _same_rows(undo(messy[table], key.to_pylist(), table), clean[table]), table


def test_a_source_wide_defect_no_table_fits_is_an_error():
    with pytest.raises(SpecError) as caught:
        start(spec(defects={"every_table": [{"kind": "messy_text", "column": "nickname", "rate": 0.1}]}, scale=0.05))
    assert "defects.every_table[0]: no entity table fits this messy_text: none has a column 'nickname'" in \
        caught.value.render()
    with pytest.raises(SpecError) as caught:
        start(spec(defects={"every_table": [{"kind": "invalid_value", "column": "plan_history_id", "rate": 0.1}]},
                   scale=0.05))
    assert "defects.every_table[0].column (in fct_account_monthly): invalid_value needs a text" in \
        caught.value.render()


def test_sync_warns_on_the_tables_source_wide_defects_reach():
    from dbt_plotsim.sources import SyntheticSource
    from dbt_plotsim.sync import desired_tests

    data = spec(EVERY, scale=0.05)
    tests = desired_tests(SyntheticSource("saas", "raw", data, "duckdb", None), start(data))
    severities = {next(iter(t.values()))["config"].get("severity") for column in tests["evt_churn"].values()
                  for t in column}
    assert severities == {"warn"}
