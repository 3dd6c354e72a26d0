"""Source systems (engine/systems.py): shares and overlap as declared, a crosswalk that resolves every record
to its one entity, drift at its declared rates, keys unique per system and out of the true order, the same
bytes whatever the chunking, appends equal to a full generation, and every validation error."""
from __future__ import annotations

import copy
import re

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from scipy.stats import spearmanr

import dbt_plotsim
from dbt_plotsim import SpecError
from dbt_plotsim.engine.calendar import date_keys
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim.engine.systems import CROSSWALK
from dbt_plotsim.templates import text

N = 12_000
BASE = {
    "unit": "customer",
    "window": {"start": "2024-01-01", "end": "2024-12-31", "grain": "month"},
    "seed": 11,
    "metrics": [{"name": "spend", "type": "amount", "range": [10, 1000]}],
    "segments": [{"name": "early", "count": N // 2, "archetype": "flat"},
                 {"name": "late", "count": N // 2, "archetype": "growth",
                  "arrivals": {"pattern": "uniform", "until": 0.8}}],
    "attributes": [
        {"name": "company_name", "type": "company_name"},
        {"name": "email", "type": "email", "domain_from": "company_name"},
        {"name": "country", "type": "country"},
        {"name": "region", "type": "category", "weights": {"north_america": 2, "emea": 1, "apac": 1}},
        {"name": "phone", "type": "phone"},
        {"name": "employees", "type": "number", "range": [1, 500], "integer": True},
    ],
    "tables": {"trajectory": False},
}
SYSTEMS = {
    "crm": {"share": 0.9, "key": {"scheme": "prefixed", "prefix": "CRM-", "width": 7},
            "columns": ["company_name", "email", "country", "employees", "customer_code"],
            "drift": {"company_name": 0.10, "email": 0.05, "country": {"rate": 0.2, "kinds": ["code"]}},
            "duplicates": 0.03},
    "billing": {"share": 0.7, "key": {"scheme": "uuid"}, "columns": ["company_name", "region", "phone"],
                "drift": {"company_name": {"rate": 0.2, "kinds": ["suffix"]}, "region": 0.3, "phone": 0.1}},
}


def spec(systems=SYSTEMS, **edits):
    data = copy.deepcopy(BASE)
    data["systems"] = copy.deepcopy(systems)
    data.update(edits)
    return dbt_plotsim.load_spec(data)


@pytest.fixture(scope="module")
def tables():
    return start(spec()).tables()


def _records(tables, system: str) -> dict:
    """The system's table joined to the truth through the crosswalk: column -> (values, truths)."""
    walk = tables[CROSSWALK].filter(pc.equal(tables[CROSSWALK]["system"], system))
    src = tables[f"src_{system}_customer"]
    keys = src.column(0).cast(pa.string()).to_pylist()
    entity_of = dict(zip(walk["system_key"].to_pylist(), walk["customer_id"].to_pylist()))
    entity = np.array([entity_of[k] for k in keys])
    dim = tables["dim_customer"]
    row = {e: i for i, e in enumerate(dim["customer_id"].to_pylist())}
    at = pa.array([row[e] for e in entity])
    out = {"_entity": entity}
    for column in src.column_names[1:-1]:
        out[column] = (src[column].to_pylist(), dim[column].take(at).to_pylist())
    return out


def _within(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(count - n * p) <= sigmas * np.sqrt(n * p * (1 - p)) + 1


def test_each_system_holds_its_share_and_every_entity_is_held(tables):
    n = tables["dim_customer"].num_rows
    walk = tables[CROSSWALK]
    first = walk.filter(pc.invert(walk["is_duplicate"]))
    held = {name: set(first.filter(pc.equal(first["system"], name))["customer_id"].to_pylist()) for name in SYSTEMS}
    for name, system in SYSTEMS.items():  # 4 sigma of the binomial
        assert _within(len(held[name]), n, system["share"]), (name, len(held[name]), n)
    everyone = set(tables["dim_customer"]["customer_id"].to_pylist())
    assert held["crm"] | held["billing"] == everyone  # exactly: every entity is in one system at least
    # two systems covering everyone overlap on s1 + s2 - 1 = 0.6 (4 sigma)
    assert _within(len(held["crm"] & held["billing"]), n, 0.9 + 0.7 - 1), len(held["crm"] & held["billing"])


def test_three_systems_overlap_as_their_arcs_say():
    """Shares 0.6, 0.7, 0.5 (S = 1.8): every entity in 1 or 2 systems, 80% in 2 (4 sigma); crm's arc [0, 0.6),
    billing's [0.6, 1.3), erp's [0.3, 0.8): crm and billing overlap on 0.3, billing and erp on 0.2."""
    three = {"crm": {"share": 0.6}, "billing": {"share": 0.7}, "erp": {"share": 0.5}}
    t = start(spec(three)).tables()
    n = t["dim_customer"].num_rows
    walk = t[CROSSWALK]
    held = {name: set(walk.filter(pc.equal(walk["system"], name))["customer_id"].to_pylist()) for name in three}
    counts = np.bincount([sum(e in held[s] for s in three) for e in t["dim_customer"]["customer_id"].to_pylist()])
    assert counts[0] == 0 and len(counts) == 3 and _within(counts[2], n, 0.8), counts
    assert _within(len(held["crm"] & held["billing"]), n, 0.3)
    assert _within(len(held["billing"] & held["erp"]), n, 0.2)
    assert _within(len(held["crm"] & held["erp"]), n, 0.3)


def test_the_crosswalk_resolves_every_record_to_one_entity(tables):
    walk = tables[CROSSWALK]
    pairs = list(zip(walk["system"].to_pylist(), walk["system_key"].to_pylist()))
    assert len(set(pairs)) == len(pairs)  # one entity per record
    for name in SYSTEMS:
        src = tables[f"src_{name}_customer"]
        mine = walk.filter(pc.equal(walk["system"], name))
        assert sorted(src.column(0).cast(pa.string()).to_pylist()) == sorted(mine["system_key"].to_pylist())
        records = _records(tables, name)
        # an undrifted column equals the truth of the entity the crosswalk names, on every row
        undrifted = [c for c in SYSTEMS[name]["columns"] if c not in SYSTEMS[name]["drift"]]
        for column in undrifted:
            values, truth = records[column]
            assert values == truth, (name, column)
    entities = set(walk["customer_id"].to_pylist())
    assert entities <= set(tables["dim_customer"]["customer_id"].to_pylist())
    by_entity: dict[int, set] = {}
    for system, entity in zip(walk["system"].to_pylist(), walk["customer_id"].to_pylist()):
        by_entity.setdefault(entity, set()).add(system)
    # an entity in both systems is resolved across them: its crm and billing records name the same entity
    crm, billing = _records(tables, "crm"), _records(tables, "billing")
    in_both = set(crm["_entity"]) & set(billing["_entity"])
    assert in_both == {e for e, s in by_entity.items() if s == {"crm", "billing"}}
    name_of = dict(zip(tables["dim_customer"]["customer_id"].to_pylist(),
                       tables["dim_customer"]["company_name"].to_pylist()))
    assert all(t == name_of[e] for e, t in zip(crm["_entity"], crm["company_name"][1]))


def test_duplicates_are_second_records_with_their_own_keys(tables):
    walk = tables[CROSSWALK]
    crm = walk.filter(pc.equal(walk["system"], "crm"))
    firsts = crm.filter(pc.invert(crm["is_duplicate"]))["customer_id"].to_numpy()
    seconds = crm.filter(crm["is_duplicate"])["customer_id"].to_numpy()
    assert len(set(firsts)) == len(firsts) and set(seconds) <= set(firsts) and len(set(seconds)) == len(seconds)
    assert _within(len(seconds), len(firsts), 0.03)  # 4 sigma of the binomial
    assert not walk.filter(pc.equal(walk["system"], "billing"))["is_duplicate"].to_numpy().any()
    src = tables["src_crm_customer"]
    created = dict(zip(src["crm_customer_id"].to_pylist(), src["created_at"].to_pylist()))
    when: dict[tuple, object] = {}
    for key, entity, dup in zip(crm["system_key"].to_pylist(), crm["customer_id"].to_pylist(),
                                crm["is_duplicate"].to_pylist()):
        when[(entity, dup)] = created[key]
    assert all(when[(e, True)] > when[(e, False)] for e in seconds)


def test_drift_rates_hold_and_every_drift_differs_from_the_truth(tables):
    for name, system in SYSTEMS.items():
        records = _records(tables, name)
        for column, drift in system["drift"].items():
            rate = drift if isinstance(drift, float) else drift["rate"]
            values, truth = records[column]
            differ = sum(v != t for v, t in zip(values, truth))
            assert _within(differ, len(values), rate), (name, column, differ, len(values))  # 4 sigma


def test_drift_kinds_are_the_declared_ones(tables):
    values, truth = _records(tables, "crm")["country"]
    changed = [(v, t) for v, t in zip(values, truth) if v != t]
    assert changed and all(v == v.upper() and len(v) <= max(3, t.count(" ") + 1) or v == t + " " for v, t in changed)
    values, truth = _records(tables, "billing")["company_name"]
    changed = [(v, t) for v, t in zip(values, truth) if v != t]
    suffix = r" (Incorporated|Inc\.|Ltd|Limited|L\.L\.C\.|P\.L\.C\.|Grp)$| & "
    suffixed = [v for v, t in changed if re.search(suffix, v)]
    assert len(suffixed) > 0.5 * len(changed)  # names without a suffix get a typo instead


def test_keys_are_unique_in_their_scheme_and_out_of_the_true_order(tables):
    uuid = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    for name, pattern in (("crm", r"^CRM-\d{7}$"), ("billing", uuid)):
        src = tables[f"src_{name}_customer"]
        keys = src.column(0).to_pylist()
        assert len(set(keys)) == len(keys) and all(re.match(pattern, k) for k in keys), name
        entity = _records(tables, name)["_entity"]
        # rows come block by block, shuffled within it: half the neighbours rise in entity id (a random order;
        # sd 0.005 here), not all of them
        assert 0.45 < np.mean(np.diff(entity) > 0) < 0.55, np.mean(np.diff(entity) > 0)
        if name == "crm":
            digits = np.array([int(k[4:]) for k in keys])
            assert abs(spearmanr(entity, digits)[0]) < 0.1, spearmanr(entity, digits)[0]


def test_numeric_keys_start_at_start_and_fit_the_width():
    t = start(spec({"erp": {"share": 1.0, "key": {"scheme": "numeric", "start": 100000}, "duplicates": 0.5}})).tables()
    keys = t["src_erp_customer"]["erp_customer_id"].to_numpy()
    assert len(np.unique(keys)) == len(keys)
    assert keys.min() >= 100000 and keys.max() < 100000 + 10**5  # 2 N = 24,000 records: 5 digits


def test_created_at_falls_in_the_arrival_period(tables):
    walk = tables[CROSSWALK].filter(pc.equal(tables[CROSSWALK]["system"], "billing"))
    created = dict(zip(tables["src_billing_customer"]["billing_customer_id"].to_pylist(),
                       tables["src_billing_customer"]["created_at"].to_numpy()))
    dim = tables["dim_customer"]
    arrived = dict(zip(dim["customer_id"].to_pylist(), dim["first_date_key"].to_pylist()))
    months = np.array([created[k] for k in walk["system_key"].to_pylist()]).astype("datetime64[M]")
    keys = date_keys(months.astype("datetime64[D]"))
    assert (keys == np.array([arrived[e] for e in walk["customer_id"].to_pylist()])).all()


def test_systems_change_no_other_table_and_one_system_not_another(tables):
    plain = start(spec({})).tables()
    for name, table in plain.items():
        assert tables[name].equals(table), name
    edited = copy.deepcopy(SYSTEMS)
    edited["billing"]["drift"] = {"phone": 0.5}
    edited["billing"]["key"] = {"scheme": "numeric"}
    other = start(spec(edited)).tables()
    assert other["src_crm_customer"].equals(tables["src_crm_customer"])


def test_the_same_bytes_whatever_the_chunking_and_run(tables):
    again = start(spec()).tables()
    small = start(spec(), chunk_entities=1024).tables()
    for name in [*(f"src_{s}_customer" for s in SYSTEMS), CROSSWALK]:
        assert again[name].equals(tables[name]) and small[name].equals(tables[name]), name


def test_entities_appear_once_they_have_arrived():
    early = start(spec(window={**BASE["window"], "as_of": "2024-04-15"})).tables()
    dim = set(early["dim_customer"]["customer_id"].to_pylist())
    walk = early[CROSSWALK]
    assert len(dim) < N and set(walk["customer_id"].to_pylist()) == dim
    crm = walk.filter(pc.and_(pc.equal(walk["system"], "crm"), pc.invert(walk["is_duplicate"])))
    assert _within(crm.num_rows, len(dim), 0.9)


SAAS_SYSTEMS = {"crm": {"share": 0.8, "key": {"scheme": "prefixed", "prefix": "C"}, "columns": ["company_name"],
                        "drift": {"company_name": 0.2}, "duplicates": 0.1},
                "billing": {"share": 0.5, "key": {"scheme": "numeric", "start": 500}, "columns": ["billing_email"]}}


def test_a_source_with_systems_grows_load_by_load_to_the_full_generation(tmp_path):
    from dbt_plotsim.materialize import materialize
    from dbt_plotsim.sources import SyntheticSource

    def source(as_of):
        data = {**yaml.safe_load(text("saas")), "systems": SAAS_SYSTEMS}
        return SyntheticSource("saas", "raw", dbt_plotsim.load_spec(data, scale=0.05, as_of=as_of), "duckdb", None)

    grown = duckdb.connect(str(tmp_path / "g.duckdb"))
    for as_of in ("2023-05-15", "2024-02-01", "2024-09-01"):
        outcome = materialize(source(as_of), grown)
    assert outcome.status == "appended"
    whole = duckdb.connect(str(tmp_path / "w.duckdb"))
    full = materialize(source("2024-09-01"), whole)
    assert {"src_crm_account", "src_billing_account", CROSSWALK} <= set(full.tables)
    for table in full.tables:
        query = f'select * from raw."{table}" order by all'
        assert grown.execute(query).fetchall() == whole.execute(query).fetchall(), table
    assert whole.execute(f"select count(*) from raw.{CROSSWALK}").fetchone()[0] > 0


def test_defects_can_target_a_numeric_keyed_system_table():
    data = {**yaml.safe_load(text("saas")), "systems": SAAS_SYSTEMS,
            "defects": {"tables": {"src_billing_account": [{"kind": "duplicate", "rate": 0.2}]}}}
    t = start(dbt_plotsim.load_spec(data, scale=0.1)).tables()
    hits = t["_plotsim_defects"].filter(pc.equal(t["_plotsim_defects"]["table_name"], "src_billing_account"))
    assert hits.num_rows > 0
    assert t["src_billing_account"].num_rows == hits.num_rows + t[CROSSWALK].filter(
        pc.equal(t[CROSSWALK]["system"], "billing")).num_rows


def test_every_column_and_table_is_described(tables):
    generation = start(spec())
    for name in [*(f"src_{s}_customer" for s in SYSTEMS), CROSSWALK]:
        schema = generation.schemas[name]
        assert (schema.metadata or {}).get(b"description"), name
        assert all((f.metadata or {}).get(b"description") for f in schema), name
    assert b"about 10% of rows differ" in generation.schemas["src_crm_customer"].field("company_name").metadata[
        b"description"]


def test_sync_registers_key_and_crosswalk_tests():
    from dbt_plotsim.sources import SyntheticSource
    from dbt_plotsim.sync import desired_tests

    data = spec()
    tests = desired_tests(SyntheticSource("shop", "raw", data, "duckdb", None), start(data))
    names = lambda table, column: [next(iter(t)) for t in tests[table].get(column, [])]  # noqa: E731
    assert names("src_crm_customer", "crm_customer_id") == ["unique", "not_null"]
    assert names("src_billing_customer", "billing_customer_id") == ["unique", "not_null"]
    assert names(CROSSWALK, "customer_id") == ["not_null", "relationships"]
    assert names(CROSSWALK, "") == ["dbt_plotsim.unique_combination"]


def _problems(systems, **edits) -> str:
    with pytest.raises(SpecError) as caught:
        spec(systems, **edits)
    return caught.value.render()


@pytest.mark.parametrize("systems, path, message", [
    ({"crm": {"share": 0.5}, "billing": {"share": 0.3}}, "systems:", "nearest that do are crm: 0.6, billing: 0.4"),
    ({"crm": {"share": 1.5}}, "systems.crm.share", "less than or equal to 1"),
    ({"crm": {"share": 0}}, "systems.crm.share", "greater than 0"),
    ({"crm": {"share": 1, "columns": ["company_nme"]}}, "systems.crm.columns", "did you mean 'company_name'"),
    ({"crm": {"share": 1, "columns": ["segment"]}}, "systems.crm.columns", "unknown column 'segment'"),
    ({"crm": {"share": 1, "columns": ["email"], "drift": {"company_name": 0.1}}}, "systems.crm.drift.company_name",
     "is not carried by crm"),
    ({"crm": {"share": 1, "columns": ["employees"], "drift": {"employees": 0.1}}}, "systems.crm.drift.employees",
     "not a text column"),
    ({"crm": {"share": 1, "columns": ["company_name"], "drift": {"company_name": {"rate": 0.1, "kinds": ["sufix"]}}}},
     "systems.crm.drift.company_name.kinds", "did you mean 'suffix'"),
    ({"crm": {"share": 1, "columns": ["email"], "drift": {"email": 1.5}}}, "systems.crm.drift.email.rate",
     "less than or equal to 1"),
    ({"crm": {"share": 1, "key": {"scheme": "prefix", "prefix": "C"}}}, "systems.crm.key.scheme",
     "did you mean 'prefixed'"),
    ({"crm": {"share": 1, "key": {"scheme": "prefixed", "prefix": "CUSTOMERS-CRM-"}}}, "systems.crm.key.prefix",
     "at most 12"),
    ({"crm": {"share": 1, "key": {"scheme": "prefixed"}}}, "systems.crm.key.prefix", "needs a prefix"),
    ({"crm": {"share": 1, "key": {"scheme": "prefixed", "prefix": "C-", "width": 3}}}, "systems.crm.key.width",
     "the nearest width that holds is 5"),
    ({"crm": {"share": 1, "duplicates": 0.1, "key": {"scheme": "numeric", "width": 4}}}, "systems.crm.key.width",
     "fewer than the 24,000 records"),
    ({"crm": {"share": 1, "key": {"scheme": "uuid", "start": 5}}}, "systems.crm.key.start",
     "applies to scheme numeric"),
    ({"crm": {"share": 1, "shares": 1}}, "systems.crm.shares", "did you mean 'share'"),
    ({"crm": {"share": 1, "duplicates": 1}}, "systems.crm.duplicates", "less than 1"),
])
def test_a_bad_system_names_its_path(systems, path, message):
    rendered = _problems(systems)
    assert path in rendered and message in rendered, rendered


def test_a_width_checked_after_scale():
    data = copy.deepcopy(BASE)
    data["systems"] = {"crm": {"share": 1, "key": {"scheme": "numeric", "width": 4}}}
    assert dbt_plotsim.load_spec(data, scale=0.5)  # 6,000 entities fit in 4 digits
    with pytest.raises(SpecError, match="nearest width that holds is 5"):
        dbt_plotsim.load_spec(data, scale=1.0)


def test_defects_on_a_text_keyed_system_table_are_refused():
    data = {**yaml.safe_load(text("saas")), "systems": SAAS_SYSTEMS,
            "defects": {"tables": {"src_crm_account": [{"kind": "duplicate", "rate": 0.2}]}}}
    with pytest.raises(SpecError, match="defects.tables.src_crm_account: .*use key scheme numeric"):
        dbt_plotsim.load_spec(data, scale=0.05)


def test_columns_placed_in_a_declared_dimension_are_carried():
    """healthcare keeps full_name in dim_patient_identity (tables.dims); the system reads it from there."""
    data = {**yaml.safe_load(text("healthcare")),
            "systems": {"ehr": {"share": 1.0, "columns": ["full_name"], "duplicates": 0.2}}}
    t = start(dbt_plotsim.load_spec(data, scale=0.05)).tables()
    identity = t["dim_patient_identity"]
    truth = dict(zip(identity["patient_id"].to_pylist(), identity["full_name"].to_pylist()))
    name_of = dict(zip(t["src_ehr_patient"]["ehr_patient_id"].cast(pa.string()).to_pylist(),
                       t["src_ehr_patient"]["full_name"].to_pylist()))
    walk = t[CROSSWALK]
    assert walk.num_rows > t["dim_patient"].num_rows
    assert all(name_of[k] == truth[e] for k, e in zip(walk["system_key"].to_pylist(), walk["patient_id"].to_pylist()))
