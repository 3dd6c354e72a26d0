"""The validated spec recorded with the data, so the data can be checked and reported on without the YAML.

DuckDB: `_plotsim_spec(source_name, spec_json)` beside `_plotsim_state`; a Parquet set: its manifest's `spec`.
The JSON holds the keys the spec set (defaults are the package's to fill) and parses back to the same spec.
"""
from __future__ import annotations

import json

from ..state import STATE_TABLE
from .duckdb import quote

SPEC_TABLE = "_plotsim_spec"


def spec_document(spec) -> dict:
    """The spec as plain JSON data that `spec.loading.parse_spec` turns back into an equal spec."""
    from ..spec.loading import parse_spec

    document = spec.model_dump(mode="json", exclude_unset=True)
    if parse_spec(json.loads(json.dumps(document))) != spec:
        raise ValueError("bug: the recorded spec does not parse back to the spec it records")
    return document


def record_spec(conn, schema: str, source: str, spec) -> None:
    """Record a source's spec, inside the transaction that wrote its tables."""
    s = quote(schema)
    conn.execute(f"create table if not exists {s}.{SPEC_TABLE} (source_name varchar, spec_json varchar)")
    conn.execute(f"delete from {s}.{SPEC_TABLE} where source_name = ? or source_name not in "
                 f"(select source_name from {s}.{STATE_TABLE})", [source])  # and those of overwritten sources
    conn.execute(f"insert into {s}.{SPEC_TABLE} values (?, ?)", [source, json.dumps(spec_document(spec))])
