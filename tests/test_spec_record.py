"""The spec recorded with the data parses back to the spec that made it."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from dbt_plotsim.spec.loading import load_spec, parse_spec, scaled
from dbt_plotsim.writers.spec_record import SPEC_TABLE, record_spec, spec_document

TEMPLATES = sorted((Path(__file__).parents[1] / "dbt_plotsim" / "templates").glob("*.yml"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_every_template_round_trips(path):
    spec = load_spec(path)
    assert parse_spec(json.loads(json.dumps(spec_document(spec)))) == spec


def test_a_scaled_spec_with_an_as_of_round_trips():
    spec = scaled(load_spec(TEMPLATES[0]), 0.1)
    spec = spec.model_copy(update={"window": spec.window.model_copy(update={"as_of": spec.window.start})})
    back = parse_spec(spec_document(spec))
    assert back == spec and back.segments[0].count == spec.segments[0].count


def test_recording_replaces_the_source_row_only():
    conn = duckdb.connect()
    conn.execute("create table _plotsim_state (source_name varchar)")
    conn.execute("insert into _plotsim_state values ('a'), ('b')")
    spec = load_spec(TEMPLATES[0])
    for source in ("a", "b", "a"):
        record_spec(conn, "main", source, spec)
    rows = conn.execute(f"select source_name, spec_json from {SPEC_TABLE} order by 1").fetchall()
    assert [r[0] for r in rows] == ["a", "b"]
    assert parse_spec(json.loads(rows[0][1])) == spec
