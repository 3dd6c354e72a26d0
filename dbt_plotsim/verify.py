"""`dbt-plotsim verify`: re-derive a generated source's invariants from the data alone.

What is checked, each named in the findings:
- content: every table's digest (DuckDB) or every file's SHA-256 (Parquet) against what generation recorded,
  so one changed value anywhere is caught;
- keys: the primary keys (unique, not null) and foreign keys (every key joins) that sync-sources registers,
  on the tables without declared defects (whose duplicates and orphans are meant);
- truth: each period's rows, non-null cells and sums of every table in `_plotsim_truth`, recomputed from the
  rows (tables with declared defects are left out: the truth is of their clean rows);
- experiments: each experiment's group sizes and delivered lift in `_plotsim_truth_experiments`, recomputed
  from `dim_<unit>_experiment` and the metric's fact table (verify_experiments.py);
- totals and rates: each period's declared money totals, to the cent, and the row counts of exact rates.
The spec is the one recorded with the data (`_plotsim_spec`, or the Parquet manifest's `spec`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .engine.defects import KEY_TABLE as DEFECTS_TABLE
from .errors import WriteError
from .state import STATE_TABLE
from .verify_experiments import check_experiments
from .verify_periods import check_rates, check_totals
from .verify_truth import TRUTH_TABLE, check_truth
from .writers.digests import file_sha256, recorded_digests, table_digest
from .writers.duckdb import quote
from .writers.spec_record import SPEC_TABLE
from .writers.parquet_set import MANIFEST


_REF = re.compile(r"source\('[^']*', '([^']+)'\)")


@dataclass
class Findings:
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def verify_duckdb(database: str | Path, schema: str, source: str | None = None) -> Findings:
    if not Path(database).is_file():
        raise WriteError(f"no DuckDB file at {database}")
    conn = duckdb.connect(str(database), read_only=True)
    try:
        return verify_connection(conn, schema, source)
    finally:
        conn.close()


def verify_connection(conn, schema: str, source: str | None = None) -> Findings:
    """The checks of a source's tables in an open DuckDB connection (dbt's, inside the plugin)."""
    source = source or _only_source(conn, schema)
    found = Findings()
    recorded = recorded_digests(conn, schema, source)
    if recorded is None:
        found.failures.append(f"content: no digests recorded for source {source} in schema {schema}")
    else:
        _check_digests(conn, schema, recorded, found)
    spec = _spec_from_table(conn, schema, source)
    _check_data(conn, schema, source, spec, found)
    return found


def read_manifest(directory: Path) -> tuple[dict, dict[str, list[str]]]:
    """A Parquet set's manifest and its files per table; WriteError when it is not one."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        files = manifest.get("files") or {t: [f"{t}.parquet"] for t in manifest["tables"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WriteError(f"{directory} is not a Parquet set written by dbt-plotsim ({exc})") from None
    return manifest, files


def parquet_views(directory: Path, files: dict[str, list[str]], schema: str = "data", manifest: dict | None = None):
    """An in-memory DuckDB with a view per table over the set's files that exist, in `schema`."""
    conn = duckdb.connect()
    conn.execute(f"create schema {quote(schema)}")
    if manifest is not None and manifest.get("layout"):  # partitioned Parquet, CSV or JSONL: typed relations
        from .writers.file_views import relation_sql

        for table in files:
            relation = relation_sql(directory, manifest, table)
            if relation is not None:
                conn.execute(f"create view {quote(schema)}.{quote(table)} as {relation}")
        return conn
    for table, names in files.items():
        listed = ", ".join("'" + str((directory / n).resolve()).replace("'", "''") + "'" for n in names
                           if (directory / n).is_file())
        if listed:
            conn.execute(f"create view {quote(schema)}.{quote(table)} as select * from read_parquet([{listed}])")
    return conn


def verify_parquet(directory: str | Path) -> Findings:
    directory = Path(directory)
    manifest, files = read_manifest(directory)
    found = Findings()
    hashes = manifest.get("sha256")
    if not hashes:
        found.failures.append("content: the manifest records no file hashes")
    for table, names in files.items():
        for name in names:
            path = directory / name
            if not path.is_file():
                found.failures.append(f"content: {table}: file {name} is missing")
            elif hashes and file_sha256(path) != hashes.get(name):
                found.failures.append(f"content: {table}: file {name} changed since generation (SHA-256 differs)")
    found.checked.append(f"content: {sum(len(n) for n in files.values())} files")
    conn = parquet_views(directory, files, manifest=manifest)
    try:
        spec = _parsed(manifest.get("spec"))
        _check_data(conn, "data", directory.name, spec, found)
    finally:
        conn.close()
    return found


def _only_source(conn, schema: str) -> str:
    try:
        names = [r[0] for r in conn.execute(f"select source_name from {quote(schema)}.{STATE_TABLE}").fetchall()]
    except duckdb.CatalogException:
        raise WriteError(f"schema {schema} holds no synthetic source (no {STATE_TABLE} table)") from None
    if len(names) != 1:
        raise WriteError(f"schema {schema} holds the sources {', '.join(sorted(names))}: name one with --source")
    return names[0]


def _check_digests(conn, schema: str, recorded: dict, found: Findings) -> None:
    for table, (rows, digest, version) in recorded.items():
        if version != duckdb.__version__:
            found.checked.append(f"content: {table} recorded with DuckDB {version}, now {duckdb.__version__}: "
                                 "digest not comparable, skipped")
            continue
        try:
            now_rows, now_digest = table_digest(conn, f"{quote(schema)}.{quote(table)}")
        except duckdb.CatalogException:
            found.failures.append(f"content: table {table} is missing")
            continue
        if now_rows != rows:
            found.failures.append(f"content: {table} has {now_rows:,} rows, {rows:,} at generation")
        elif now_digest != digest:
            found.failures.append(f"content: {table} changed since generation (same {rows:,} rows, digest differs)")
    found.checked.append(f"content: {len(recorded)} tables")


def _spec_from_table(conn, schema: str, source: str):
    try:
        row = conn.execute(f"select spec_json from {quote(schema)}.{SPEC_TABLE} where source_name = ?",
                           [source]).fetchone()
    except duckdb.CatalogException:
        row = None
    return _parsed(row[0] if row else None)


def _parsed(text):
    if not text:
        return None
    from .spec.loading import parse_spec

    return parse_spec(json.loads(text) if isinstance(text, str) else text)


def _check_data(conn, schema: str, source: str, spec, found: Findings) -> None:
    present = {r[0] for r in conn.execute("select table_name from information_schema.tables where table_schema = ?",
                                          [schema]).fetchall()}
    defected = set()
    if DEFECTS_TABLE in present:
        defected = {r[0] for r in conn.execute(f"select distinct table_name from {quote(schema)}.{DEFECTS_TABLE}")
                    .fetchall()}
    if spec is None:
        found.failures.append("keys: no spec recorded with the data, keys, totals and rates not checked")
    else:
        from .engine.pipeline import start

        generation = start(spec)
        _check_keys(conn, schema, source, generation, present, defected, found)
        check_totals(conn, schema, generation.plan, present - defected, found)
        check_rates(conn, schema, generation.plan, present - defected, found)
    check_experiments(conn, schema, spec, present - defected, found)
    if TRUTH_TABLE in present:
        check_truth(conn, schema, present - defected, found)
    else:
        found.failures.append(f"truth: no {TRUTH_TABLE} table")


def _check_keys(conn, schema: str, source: str, generation, present: set, defected: set, found: Findings) -> None:
    from .sources import SyntheticSource
    from .sync import desired_tests

    tests = desired_tests(SyntheticSource(source, schema, generation.plan.spec, "duckdb", None), generation)
    checked = 0
    for table, columns in tests.items():
        if table not in present or table in defected:
            continue
        relation = f"{quote(schema)}.{quote(table)}"
        for column, listed in columns.items():
            for test in listed:
                name, body = next(iter(test.items()))
                problem = _key_problem(conn, schema, relation, table, column, name, (body or {}).get("arguments") or {})
                if problem is not None:
                    checked += 1
                    if problem:
                        found.failures.append(f"keys: {problem}")
    found.checked.append(f"keys: {checked} key tests")


def _key_problem(conn, schema: str, relation: str, table: str, column: str, name: str, arguments) -> str | None:
    """'' when the key holds, a sentence when not, None for a test that is not a key test."""
    col = quote(column)
    if name == "unique":
        bad = conn.execute(f"select count(*) - count(distinct {col}) from {relation} where {col} is not null").fetchone()[0]
        return f"{table}.{column}: {bad:,} duplicated values" if bad else ""
    if name == "not_null":
        bad = conn.execute(f"select count(*) - count({col}) from {relation}").fetchone()[0]
        return f"{table}.{column}: {bad:,} nulls" if bad else ""
    if name == "relationships":
        target = _REF.fullmatch(str(arguments.get("to", "")))
        if target is None:
            return None
        other = f"{quote(schema)}.{quote(target.group(1))}"
        key = quote(str(arguments.get("field", column)))
        bad = conn.execute(f"select count(*) from {relation} t where t.{col} is not null and not exists "
                           f"(select 1 from {other} o where o.{key} = t.{col})").fetchone()[0]
        return f"{table}.{column}: {bad:,} values without a row in {target.group(1)}" if bad else ""
    return None
