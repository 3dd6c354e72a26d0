"""Declared tables: attributes moved to a 1:1 dimension (`tables.dims`) and several events in one table
(`tables.events`), with the same values as the default layout, their tests, and path-named mistakes."""
from __future__ import annotations

import copy

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.engine.attributes import AttributesComponent
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim.sources import resolve
from dbt_plotsim.sync import desired_tests

from .conftest import registered

BASE: dict = {
    "unit": "account",
    "window": {"start": "2024-01-01", "end": "2024-12-31", "grain": "month"},
    "seed": 9,
    "arrivals": {"pattern": "uniform", "until": 0.5},
    "metrics": [{"name": "engagement", "type": "score"}],
    "segments": [{"name": "steady", "count": 1500, "archetype": "flat"},
                 {"name": "leaving", "count": 700, "archetype": "churn"}],
    "events": [{"name": "login", "rate": {"mean": 4, "follows": "engagement"}},
               {"name": "ticket", "rate": {"mean": 0.5}},
               {"name": "churn", "when": {"metric": "engagement", "below": 0.2, "for": 2}, "terminal": True}],
    "attributes": [{"name": "region", "type": "category", "weights": {"emea": 1, "amer": 1}},
                   {"name": "contact_name", "type": "person_name"},
                   {"name": "contact_email", "type": "email", "name_from": "contact_name", "domain": "example.com"}],
}
DECLARED = {"dims": [{"name": "dim_account_contact", "attributes": ["contact_name", "contact_email"],
                      "description": "Contact details, kept apart for access control."}],
            "events": [{"name": "fct_account_activity", "events": ["login", "ticket", "churn"]}]}


def with_tables(**tables) -> dict:
    data = copy.deepcopy(BASE)
    data["tables"] = copy.deepcopy(tables)
    return data


@pytest.fixture(scope="module")
def plain():
    return dbt_plotsim.generate(BASE)


@pytest.fixture(scope="module")
def declared():
    return dbt_plotsim.generate(with_tables(**DECLARED))


def test_layout(plain, declared):
    assert set(declared) - set(plain) == {"dim_account_contact", "fct_account_activity"}
    assert set(plain) - set(declared) == {"evt_login", "evt_ticket", "evt_churn"}
    assert declared["dim_account_contact"].schema.names == ["account_id", "contact_name", "contact_email"]
    assert "contact_name" not in declared["dim_account"].schema.names
    assert declared["fct_account_activity"].schema.names == ["event_id", "account_id", "event_type", "date_key",
                                                              "occurred_at"]
    assert declared["dim_account_contact"].schema.metadata[b"description"].startswith(b"Contact details")
    assert declared["dim_account_contact"].schema.field("contact_email").metadata[b"pii"]


def test_moved_attributes_keep_their_values(plain, declared):
    contact = declared["dim_account_contact"]
    assert contact.column("account_id").equals(plain["dim_account"].column("account_id"))
    for column in ("contact_name", "contact_email"):
        assert contact.column(column).equals(plain["dim_account"].column(column))
    assert declared["dim_account"].column("region").equals(plain["dim_account"].column("region"))


def test_event_table_holds_every_event_once_in_order(plain, declared):
    activity = declared["fct_account_activity"]
    counts = dict(zip(*[c.to_pylist() for c in pc.value_counts(activity.column("event_type")).flatten()]))
    assert counts == {name: plain[f"evt_{name}"].num_rows for name in ("login", "ticket", "churn")}
    assert activity.column("event_id").to_pylist() == list(range(1, activity.num_rows + 1))
    keys = list(zip(activity.column("account_id").to_pylist(), activity.column("occurred_at").to_pylist()))
    assert keys == sorted(keys)  # by entity, then time
    for name in ("login", "churn"):
        rows = activity.filter(pc.equal(activity.column("event_type"), name)).select(["account_id", "date_key",
                                                                                      "occurred_at"])
        expected = plain[f"evt_{name}"].select(["account_id", "date_key", "occurred_at"])
        assert rows.sort_by([("account_id", "ascending"), ("occurred_at", "ascending")]).equals(
            expected.sort_by([("account_id", "ascending"), ("occurred_at", "ascending")]))


def test_nothing_after_the_terminal_event(declared):
    with registered(declared) as conn:
        assert conn.execute("""
            select count(*) from fct_account_activity f join dim_account d using (account_id)
            where d.ended_date_key is not null and f.date_key > d.ended_date_key""").fetchall() == [(0,)]


def test_same_rows_whatever_the_chunk_size():
    spec = load_spec(with_tables(**DECLARED))
    small, large = start(spec, chunk_entities=1024).tables(), start(spec, chunk_entities=8192).tables()
    for name in ("dim_account_contact", "fct_account_activity"):
        assert small[name].equals(large[name])


def test_registered_tests():
    source = resolve("crm", "raw", with_tables(**DECLARED))
    tests = desired_tests(source, start(source.spec))
    contact = {column: [next(iter(t)) for t in items] for column, items in tests["dim_account_contact"].items()}
    assert contact["account_id"] == ["unique", "not_null", "relationships"]
    activity = tests["fct_account_activity"]
    assert [next(iter(t)) for t in activity["event_id"]] == ["unique", "not_null"]
    accepted = next(t for t in activity["event_type"] if "accepted_values" in t)
    assert list(accepted["accepted_values"]["arguments"]["values"]) == ["login", "ticket", "churn"]
    assert any("dbt_plotsim.within_lifetime" in t for t in activity[""])
    plan = start(load_spec(with_tables(**DECLARED))).plan
    assert "contact_name" in AttributesComponent().tests(plan, str)["dim_account_contact"]


@pytest.mark.parametrize("tables,path,fragment", [
    ({"dims": [{"name": "dim_contact", "attributes": ["contact_nmae"]}]}, "tables.dims.dim_contact.attributes",
     "did you mean 'contact_name'"),
    ({"dims": [{"name": "dim_a", "attributes": ["region"]}, {"name": "dim_b", "attributes": ["region"]}]},
     "tables.dims", "'region' is in 2 tables"),
    ({"dims": [{"name": "dim_account", "attributes": ["region"]}]}, "tables.dims.dim_account",
     "dim_account is already the account dimension"),
    ({"events": [{"name": "activity", "events": ["logins"]}]}, "tables.events.activity.events", "did you mean 'login'"),
    ({"events": [{"name": "a", "events": ["login"]}, {"name": "b", "events": ["login", "ticket"]}]}, "tables.events",
     "'login' is in 2 tables"),
    ({"events": [{"name": "evt_churn", "events": ["login", "ticket"]}]}, "events.churn",
     "evt_churn is already event table evt_churn"),
    ({"events": [{"name": "activity", "events": []}]}, "tables.events.activity.events", "at least 1"),
])
def test_bad_declarations_name_the_path(tables, path, fragment):
    with pytest.raises(SpecError) as err:
        load_spec(with_tables(**tables))
    assert any(p.path == path and fragment in p.message for p in err.value.problems), err.value.problems


def test_a_one_event_table_is_a_rename_with_event_type():
    tables = dbt_plotsim.generate(with_tables(events=[{"name": "logins", "events": ["login"]}]))
    assert "evt_login" not in tables and tables["logins"].num_rows > 0
    assert pc.unique(tables["logins"].column("event_type")).to_pylist() == ["login"]
    assert tables["logins"].schema.field("event_type").type == pa.string()
