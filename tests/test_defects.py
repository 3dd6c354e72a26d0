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


def spec(defects=DEFECTS, scale=0.2, **edits):
    data = copy.deepcopy(SAAS)
    data["defects"] = copy.deepcopy(defects)
    data.update(edits)
    return dbt_plotsim.load_spec(data, scale=scale)


@pytest.fixture(scope="module")
def tables():
    return start(spec()).tables(), start(spec(defects={})).tables()


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


def test_nothing_outside_the_declared_tables_and_periods(tables):
    messy, clean = tables
    for name in clean:
        if name not in DEFECTS["tables"]:
            assert messy[name].equals(clean[name]), name
    orphans = key_rows(messy[KEY_TABLE], "fct_account_monthly", 1)["date_key"].to_numpy()
    assert orphans.size and orphans.min() >= 20240101 and orphans.max() <= 20240630


def _cells(table: pa.Table) -> list[tuple]:
    return sorted(map(tuple, (dict(zip(table.column_names, r)).values() for r in zip(*[c.to_pylist() for c in table.columns]))),
                  key=repr)


def test_the_answer_key_turns_the_messy_tables_back_into_the_clean_ones(tables):
    messy, clean = tables
    key = messy[KEY_TABLE].to_pylist()
    for table in DEFECTS["tables"]:
        rows = messy[table].to_pylist()
        first = messy[table].column_names[0]
        period = "date_key" if "date_key" in messy[table].column_names else None
        mine = [k for k in key if k["table_name"] == table]
        assert all(k["key_column"] == first for k in mine)
        extra = {}  # (key, date) -> copies to drop
        for k in mine:
            if k["kind"] in ("duplicate", "near_duplicate"):
                ident = (k["key_value"], k["date_key"] if period else None)
                extra[ident] = extra.get(ident, 0) + 1
        by_row: dict = {}  # (key, period) -> the rows that have it, kept up to date as keys are undone
        for r in rows:
            by_row.setdefault((r[first], r[period] if period else None), []).append(r)
        for k in sorted(mine, key=lambda k: -k["defect_number"]):  # undo in reverse order
            if k["kind"] in ("duplicate", "near_duplicate"):
                continue
            ident = (k["key_value"], k["date_key"] if period else None)
            match = by_row.pop(ident, [])
            assert match, k
            for r in match:
                assert str(r[k["column_name"]]) == k["defect_value"] or \
                    pa.array([r[k["column_name"]]]).cast(pa.string())[0].as_py() == k["defect_value"], k
                r[k["column_name"]] = pa.array([k["original_value"]]).cast(messy[table].schema.field(
                    k["column_name"]).type)[0].as_py()
            by_row.setdefault((match[0][first], match[0][period] if period else None), []).extend(match)
        seen: dict = {}
        restored = []
        for r in rows:
            ident = (r[first], r.get(period) if period else None)
            seen[ident] = seen.get(ident, 0) + 1
            if seen[ident] > 1:
                assert extra.get(ident, 0) >= seen[ident] - 1, (table, ident)
                continue
            restored.append(r)
        assert sorted(map(repr, restored)) == sorted(map(repr, clean[table].to_pylist())), table


def test_the_same_bytes_whatever_the_chunking():
    a = start(spec(scale=0.1)).tables()
    b = start(spec(scale=0.1), chunk_entities=1024).tables()
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
])
def test_a_bad_defect_names_its_path(defect, path, message):
    with pytest.raises(SpecError) as caught:
        start(spec(defects={"tables": defect}, scale=0.05))
    rendered = caught.value.render()
    assert path in rendered and message in rendered, rendered


def test_a_source_with_defects_grows_load_by_load_to_the_full_generation(tmp_path):
    """Appends rewrite a source with defects (its answer key covers every row); the result equals a full run."""
    import duckdb

    from dbt_plotsim.materialize import materialize
    from dbt_plotsim.sources import SyntheticSource

    def source(as_of):
        return SyntheticSource("saas", "raw", dbt_plotsim.load_spec({**copy.deepcopy(SAAS), "defects": DEFECTS},
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
