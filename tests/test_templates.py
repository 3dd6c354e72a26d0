"""Bundled templates: each is a complete spec that uses every part of the star schema, generates with unique
keys that all join, keeps every row inside its entity's lifetime, and still validates when a user replaces
its segments. The templates' dbt build (integration_tests/templates) is checked to carry exactly the tests
sync-sources writes."""
from __future__ import annotations

from functools import lru_cache

import duckdb
import pytest

import dbt_plotsim
from dbt_plotsim import load_spec, templates
from dbt_plotsim.sources import project_root, resolve
from dbt_plotsim.spec.schema import event_tables
from dbt_plotsim.sync import sync_text

from .integration.conftest import ROOT

NAMES = templates.names()
SCALE = 0.05  # 50 to 100 entities a template: every table has rows, some entities arrive late or end
FAKER_KINDS = {"first_name", "last_name", "person_name", "email", "phone", "company_name", "city", "country"}
TEMPLATES_SOURCES = ROOT / "integration_tests" / "templates" / "models" / "sources.yml"


@lru_cache(maxsize=None)
def generated(name: str):
    spec = load_spec(templates.load(name), scale=SCALE)
    tables = dbt_plotsim.generate(spec)
    conn = duckdb.connect()
    for table, data in tables.items():
        conn.register(table, data)
    return spec, tables, conn


def primary_keys(spec, tables) -> dict[str, str]:
    """key column -> table: a table's first column when it is an `_id` (entity-period facts start with the
    unit's key, which is dim_<unit>'s)."""
    unit_key = f"{spec.unit}_id"
    out = {}
    for table, data in tables.items():
        first = data.column_names[0]
        if first.endswith("_id") and (first != unit_key or table == f"dim_{spec.unit}"):
            assert first not in out, f"{first} is the first column of {out[first]} and {table}"
            out[first] = table
    return out


def test_there_are_templates():
    assert {"saas", "hr", "ecommerce", "education", "healthcare"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_uses_every_part_of_the_star_schema(name):
    spec = load_spec(templates.load(name))
    assert spec.arrivals.pattern != "start" or any(s.arrivals and s.arrivals.pattern != "start" for s in spec.segments)
    assert spec.terminal_event is not None and spec.terminal_event.when is not None
    assert any(e.rate is not None for e in [*spec.events, *(e for c in spec.children for e in c.events)])
    kinds = {a.type for a in spec.attributes}
    assert kinds & FAKER_KINDS and {"category", "number", "date"} <= kinds
    referenced = {a.references for a in spec.attributes if a.references}
    assert referenced and referenced <= {t.name for t in spec.reference}
    assert any(a.follows for a in spec.attributes if a.type == "number")
    assert spec.children and all(child.events for child in spec.children)
    assert spec.transactions and any(tx.lines for tx in spec.transactions)
    assert spec.history and all(h.up_when and h.down_when for h in spec.history)
    triggers = {k for move in spec.stages.transitions for k in ("after", "when", "event") if getattr(move, k)}
    assert triggers == {"after", "when", "event"}
    assert any(move.event == spec.terminal_event.name for move in spec.stages.transitions)
    assert templates.describe(name)  # the opening comment says what story it tells


def test_the_templates_between_them_show_the_declared_schema():
    """Bridges, reference keys on transactions and lines, declared dimensions and event tables: each used by
    at least one template, so each reaches the dbt build of the templates."""
    specs = [load_spec(templates.load(name)) for name in NAMES]
    assert any(spec.tables.bridges for spec in specs)
    assert any(b.per_entity.polarity == "negative" for spec in specs for b in spec.tables.bridges)
    assert any(tx.references for spec in specs for tx in spec.transactions)
    assert any(tx.lines and tx.lines.references for spec in specs for tx in spec.transactions)
    assert any(spec.tables.dims for spec in specs) and any(spec.tables.events for spec in specs)
    assert any(spec.tables.facts for spec in specs)


@pytest.mark.parametrize("name", NAMES)
def test_every_table_and_column_is_described(name):
    _, tables, _ = generated(name)
    for table, data in tables.items():
        assert (data.schema.metadata or {}).get(b"description"), table
        undescribed = [f.name for f in data.schema if not (f.metadata or {}).get(b"description")]
        assert undescribed == [], table


@pytest.mark.parametrize("name", NAMES)
def test_keys_are_unique_and_every_foreign_key_joins(name):
    spec, tables, conn = generated(name)
    keys = primary_keys(spec, tables)
    for key, table in keys.items():
        rows, distinct, nulls = conn.execute(
            f"select count(*), count(distinct {key}), count(*) - count({key}) from {table}").fetchone()
        assert rows > 0 and rows == distinct and nulls == 0, (table, key, rows, distinct, nulls)
    checked = set()
    for table, data in tables.items():
        for column in data.column_names:
            if column.endswith("date_key"):
                target, field = "dim_date", "date_key"
            elif column in keys and keys[column] != table:
                target, field = keys[column], column
            else:
                continue
            orphans = conn.execute(f"select count(*) from {table} t where t.{column} is not null and not exists "
                                   f"(select 1 from {target} p where p.{field} = t.{column})").fetchone()[0]
            assert orphans == 0, f"{table}.{column}: {orphans} rows not in {target}.{field}"
            checked.add(column)
    must = {f"{spec.unit}_id", "date_key", "first_date_key", "ended_date_key"}
    must |= {f"{a.references}_id" for a in spec.attributes if a.references} | {f"{c.name}_id" for c in spec.children}
    must |= {f"{tx.name}_id" for tx in spec.transactions if tx.lines}
    assert must <= checked, must - checked


@pytest.mark.parametrize("name", NAMES)
def test_no_rows_outside_an_entitys_lifetime(name):
    """Facts, events, stages, sub-entities, transactions (and their lines) and history versions stay between
    the entity's arrival and its terminal event."""
    spec, tables, conn = generated(name)
    unit, key = spec.unit, f"{spec.unit}_id"
    ended = conn.execute(f"select count(ended_date_key) from dim_{unit}").fetchone()[0]
    late = conn.execute(f"select count(*) from dim_{unit} where first_date_key > (select min(date_key) "
                        "from dim_date)").fetchone()[0]
    assert ended > 0 and late > 0  # the checks below have something to catch
    periods = {}
    for table, data in tables.items():
        if table == f"dim_{unit}" or key not in data.column_names:
            continue
        for column in ("date_key", "created_date_key", "added_date_key"):
            if column in data.column_names:
                periods[table] = f"t.{column}"
        if "valid_from" in data.column_names:
            periods[table] = "cast(strftime(t.valid_from, '%Y%m%d') as integer)"
    lines = {f"fct_{tx.name}_line": f"fct_{tx.name}" for tx in spec.transactions if tx.lines}
    expected = {f"dim_{c.name}" for c in spec.children} | {f"fct_{tx.name}" for tx in spec.transactions} \
        | {table for table, _, _ in event_tables(spec)} | {b.table(unit) for b in spec.tables.bridges} \
        | {f"fct_{unit}_stage", f"dim_{unit}_{spec.history[0].attribute}_history"}
    assert expected <= set(periods), expected - set(periods)
    for table, period in periods.items():
        outside = conn.execute(f"""
            select count(*) from {table} t join dim_{unit} e using ({key})
            where {period} < e.first_date_key or {period} > coalesce(e.ended_date_key, 99991231)""").fetchone()[0]
        assert outside == 0, f"{table}: {outside} rows outside the {unit}'s lifetime"
    for line, parent in lines.items():  # a line belongs to its transaction
        tx_key = f"{parent.removeprefix('fct_')}_id"
        orphans = conn.execute(f"select count(*) from {line} l left join {parent} p using ({tx_key}) "
                               f"where p.{key} is null").fetchone()[0]
        assert orphans == 0, line


@pytest.mark.parametrize("name", NAMES)
def test_replacing_the_segments_still_gives_a_valid_spec(name):
    """A sources YAML with `template: <name>` and its own segments: nothing in a template names a segment
    (by_segment weights or a seasonality sensitivity would make this fail with 'unknown segment')."""
    block = {"template": name, "segments": [{"name": "everyone", "count": 30, "archetype": "flat"}]}
    source = resolve("custom", "raw_custom", block)  # validated in full, feasibility included
    assert [(s.name, s.count) for s in source.spec.segments] == [("everyone", 30)]


def test_templates_build_carries_exactly_the_synced_tests():
    """integration_tests/templates is built in CI with the tests sync-sources writes: syncing again changes
    nothing (after changing a template, run `dbt-plotsim sync-sources` on that file)."""
    text = TEMPLATES_SOURCES.read_text(encoding="utf-8")
    synced, names = sync_text(text, str(TEMPLATES_SOURCES), project_root(TEMPLATES_SOURCES))
    assert sorted(names) == sorted(f"tpl_{name}" for name in NAMES if name != "saas")
    assert synced == text
