"""`sync-sources`: write the generated tables, columns, descriptions and data tests into a sources YAML.

Only the managed part changes: every synthetic source's generated tables and columns, their descriptions,
and the data tests tagged `plotsim`. Your own tables, columns, keys, comments and untagged tests stay as
they are. Running it twice changes nothing the second time.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .engine import systems
from .engine.components import components
from .engine.feeds import CHANGED_AT, OP, OPS, feed_name, fed_tables
from .engine.loads import LOADED_AT
from .engine.payload import COLUMN as PAYLOAD
from .engine.pipeline import start
from .engine.tables import TRAJECTORY_TABLE
from .errors import Problem, SpecError
from .source_blocks import block_of, misplaced
from .sources import SyntheticSource, resolve
from .spec.schema import event_tables
from .spec.yaml_input import parse_yaml, read_text

TAG = "plotsim"
TABLE_LEVEL_KEY = ""  # in desired_tests: tests on the table itself, not on a column
KEEP_DESCRIPTION = "plotsim_keep_description"  # meta flag: leave my description alone


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _flow(items: list) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _compact(value: Any) -> Any:
    """Lists of scalars in flow style ([trial, active]); a list of them one per line."""
    if isinstance(value, (list, tuple)) and not isinstance(value, CommentedSeq):
        items = [_compact(v) for v in value]
        return _flow(items) if all(not isinstance(v, (list, dict)) for v in items) else CommentedSeq(items)
    if isinstance(value, dict) and not isinstance(value, CommentedMap):
        return CommentedMap({k: _compact(v) for k, v in value.items()})
    return value


def _test(name: str, arguments: dict | None = None) -> CommentedMap:
    body = CommentedMap()
    if arguments:
        body["arguments"] = CommentedMap({key: _compact(value) for key, value in arguments.items()})
    body["config"] = CommentedMap(tags=_flow([TAG]))
    return CommentedMap({name: body})


def _is_managed(test: Any) -> bool:
    if not isinstance(test, dict) or len(test) != 1:
        return False
    body = next(iter(test.values()))
    tags = ((body or {}).get("config") or {}).get("tags") if isinstance(body, dict) else None
    return isinstance(tags, list) and TAG in tags


def desired_tests(source: SyntheticSource, generation) -> dict[str, dict[str, list[CommentedMap]]]:
    """table -> column -> the data tests dbt-plotsim registers for it."""
    spec = source.spec
    plan = generation.plan
    key = f"{spec.unit}_id"
    dim_unit = f"dim_{spec.unit}"
    ref = lambda table: f"source('{source.name}', '{table}')"  # noqa: E731
    out: dict[str, dict[str, list]] = {name: {} for name in generation.schemas}
    out["dim_date"] = {
        "date_key": [_test("unique"), _test("not_null")],
        "period_start": [_test("dbt_plotsim.date_spine", {"grain": spec.window.grain})],
    }
    out[dim_unit] = {key: [_test("unique"), _test("not_null")]}
    table_of = {plan.metric_names[m]: fact.name for fact in plan.facts for m in fact.metrics}
    entity_tables = [f.name for f in plan.facts] + ([TRAJECTORY_TABLE] if TRAJECTORY_TABLE in generation.schemas else [])
    for table in entity_tables:
        out[table] = {
            key: [_test("not_null"), _test("relationships", {"to": ref(dim_unit), "field": key})],
            "date_key": [_test("not_null"), _test("relationships", {"to": ref("dim_date"), "field": "date_key"})],
        }
    for lag in spec.lags:
        table = table_of[lag.metric]
        arguments = {"driver_column": lag.follows, "entity": key}
        if table_of[lag.follows] != table:
            arguments["driver_model"] = ref(table_of[lag.follows])
        arguments["lag"] = lag.periods
        out[table].setdefault(lag.metric, []).append(_test("dbt_plotsim.lag_coherence", arguments))
    for corr in spec.correlations:
        first, second = corr.between
        table = table_of[first]
        arguments: dict[str, Any] = {"other_column": second}
        if table_of[second] != table:
            arguments["other_model"] = ref(table_of[second])
            arguments["join_on"] = _flow([key, "date_key"])
        adjusted = plan.calibration.adjusted.get(corr.key)
        arguments["r"] = adjusted[1] if adjusted else corr.r
        arguments["tolerance"] = 0.05
        if corr.scope != "pooled":
            arguments.update(scope=corr.scope, segment_model=ref(dim_unit), segment_key=key)
        out[table].setdefault(first, []).append(_test("dbt_plotsim.correlation_within", arguments))
    arrivals = any(seg.arrivals.pattern != "start" for seg in plan.segments)
    if spec.terminal_event is not None or arrivals:
        arguments = {"entity": key, "entity_model": ref(dim_unit)}
        if arrivals:
            arguments["first_column"] = "first_date_key"
        if spec.terminal_event is not None:
            arguments["ended_column"] = "ended_date_key"
        for table in entity_tables + [table for table, _, _ in event_tables(spec)]:
            out.setdefault(table, {}).setdefault(TABLE_LEVEL_KEY, []).append(
                _test("dbt_plotsim.within_lifetime", dict(arguments)))
    for table, events, declared in event_tables(spec):
        kind = {"event_type": [_test("not_null"), _test("accepted_values", {"values": _flow(list(events))})]}
        out[table] = {**out.get(table, {}),
            (f"{events[0]}_id" if declared is None else "event_id"): [_test("unique"), _test("not_null")],
            key: [_test("not_null"), _test("relationships", {"to": ref(dim_unit), "field": key})],
            **({} if declared is None else kind),
            "date_key": [_test("not_null"), _test("relationships", {"to": ref("dim_date"), "field": "date_key"})],
            "occurred_at": [_test("dbt_plotsim.within_window", {
                "start": str(spec.window.start), "end": str(plan.starts[-1] + (plan.period_days[-1] - 1))})],
        }
        schema = generation.schemas[table]
        if PAYLOAD in schema.names and not schema.field(PAYLOAD).nullable:  # every event of the table has one
            out[table][PAYLOAD] = [_test("not_null")]
    for name in fed_tables(plan):  # change feeds: what each row is, and when the load ran
        out[feed_name(name)] = {OP: [_test("not_null"), _test("accepted_values", {"values": _flow(list(OPS))})],
                                CHANGED_AT: [_test("not_null")]}
    for name, options in spec.loads.tables.items():
        if options.loaded_at and name in out:
            out[name].setdefault(LOADED_AT, []).append(_test("not_null"))
    for component in components(plan):
        for table, columns in component.tests(plan, ref).items():
            for column, tests in columns.items():
                out.setdefault(table, {}).setdefault(column, []).extend(_test(n, a) for n, a in tests)
    for derived in generation.derived:  # derived tables (engine/derived.py) that declare tests of their own
        for table, columns in getattr(derived, "tests", lambda ref: {})(ref).items():
            for column, tests in columns.items():
                out.setdefault(table, {}).setdefault(column, []).extend(_test(n, a) for n, a in tests)
    if spec.systems:  # system tables: their keys; the crosswalk: every record's entity
        for table, columns in systems.tests(plan, ref).items():
            for column, tests in columns.items():
                out.setdefault(table, {}).setdefault(column, []).extend(_test(n, a) for n, a in tests)
    for table in generation.defects:  # raw tables with declared defects: their tests report them, as warnings
        for tests in out.get(table, {}).values():
            for test in tests:
                next(iter(test.values()))["config"]["severity"] = "warn"
    return out


def _entry(seq: CommentedSeq, name: str) -> CommentedMap | None:
    return next((e for e in seq if isinstance(e, dict) and e.get("name") == name), None)


def _set_description(entry: CommentedMap, text: str) -> None:
    if (entry.get("meta") or {}).get(KEEP_DESCRIPTION):
        return
    if "description" in entry:
        entry["description"] = text
    else:  # keep `name` first, description right after it
        entry.insert(1 if "name" in entry else 0, "description", text)


def _sync_tests(entry: CommentedMap, tests: list[CommentedMap]) -> None:
    key = "data_tests" if "data_tests" in entry or "tests" not in entry else "tests"
    existing = entry.get(key) or CommentedSeq()
    kept = CommentedSeq([t for t in existing if not _is_managed(t)])
    for test in tests:
        kept.append(test)
    if kept:
        entry[key] = kept
    elif key in entry:
        del entry[key]


def sync_source(node: CommentedMap, source: SyntheticSource) -> None:
    generation = start(source.spec)
    tests = desired_tests(source, generation)
    tables = node.get("tables")
    if not isinstance(tables, list):
        tables = CommentedSeq()
        node["tables"] = tables
    generated = list(generation.schemas)
    for table_name in generated:
        schema = generation.schemas[table_name]
        table = _entry(tables, table_name)
        if table is None:
            table = CommentedMap(name=table_name)
            tables.append(table)
        _set_description(table, (schema.metadata or {}).get(b"description", b"").decode())
        columns = table.get("columns")
        if not isinstance(columns, list):
            columns = CommentedSeq()
            table["columns"] = columns
        for field in schema:
            column = _entry(columns, field.name)
            if column is None:
                column = CommentedMap(name=field.name)
                columns.append(column)
            _set_description(column, (field.metadata or {}).get(b"description", b"").decode())
            _sync_tests(column, tests[table_name].get(field.name, []))
        _drop_stale(columns, set(schema.names))
        _sync_tests(table, tests[table_name].get(TABLE_LEVEL_KEY, []))
    stale_tables = [t for t in tables if isinstance(t, dict) and t.get("name") not in generated
                    and (_looks_generated(str(t.get("name", ""))) or _holds_managed(t))]
    for table in stale_tables:  # tables this spec no longer makes: drop what was ours, keep what is yours
        _drop_stale(table.get("columns") or [], set())
        if not table.get("columns") and "columns" in table:
            del table["columns"]
        _strip(table)
    _drop_stale(tables, set(generated) | {t.get("name") for t in tables if t not in stale_tables and isinstance(t, dict)})


def _strip(entry: CommentedMap) -> None:
    """Remove the managed parts of an entry no longer generated: its tagged tests and description."""
    _sync_tests(entry, [])
    if "description" in entry and not (entry.get("meta") or {}).get(KEEP_DESCRIPTION):
        del entry["description"]


def _drop_stale(entries: list, current: set) -> None:
    for entry in list(entries):
        if isinstance(entry, dict) and entry.get("name") not in current:
            _strip(entry)
            if set(entry) <= {"name"}:
                entries.remove(entry)


def _holds_managed(table: CommentedMap) -> bool:
    """Whether a table entry carries tests this command wrote (a declared table the spec no longer makes)."""
    columns = [c for c in table.get("columns") or [] if isinstance(c, dict)]
    return any(_is_managed(test) for entry in [table, *columns]
               for test in (entry.get("data_tests") or entry.get("tests") or []))


def _looks_generated(name: str) -> bool:
    return name.startswith(("fct_", "dim_", "evt_")) or name == TRAJECTORY_TABLE


def sync_text(text: str, path_for_errors: str, project_dir: str | os.PathLike, only: str | None = None) -> tuple[str, list[str]]:
    """The sources YAML text with its synthetic sources synced, and the names of the sources synced."""
    parse_yaml(text, path_for_errors)  # syntax, nesting, repeated keys: named as validate names them
    yaml = _yaml()
    data = yaml.load(text)
    sources = (data or {}).get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, list):
        raise SpecError(Problem("sources", f"{path_for_errors} has no `sources:` list"))
    synced: list[str] = []
    problems: list[Problem] = []
    for node in sources:
        if not isinstance(node, dict):
            continue
        problems.extend(misplaced(node))
        block = block_of(node)
        if block is None or (only and node.get("name") != only):
            continue
        try:
            source = resolve(node["name"], node.get("schema") or node["name"], _plain(block), project_dir)
        except SpecError as exc:
            problems.extend(Problem("", line) for line in exc.lines())
            continue
        sync_source(node, source)
        synced.append(source.name)
    if problems:
        raise SpecError(problems)
    if only and only not in synced:
        raise SpecError(Problem("sources", f"no synthetic source '{only}' in {path_for_errors}"))
    if not synced:
        raise SpecError(Problem("sources", f"{path_for_errors} declares no source with config.meta.synthetic; "
                                "add one (see `dbt-plotsim template saas` for a start)"))
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue(), synced


def sync_file(path: str | os.PathLike, only: str | None = None) -> list[str]:
    """Rewrite a sources YAML in place (atomically); returns the synced source names."""
    from .sources import project_root

    path = Path(path)
    if not path.is_file():
        raise SpecError(Problem("", f"sources file {str(path)!r} does not exist"))
    original = read_text(path)
    updated, synced = sync_text(original, str(path), project_root(path), only)
    if updated != original:
        staging = path.with_name(f".{path.name}.plotsim-tmp")
        staging.write_text(updated, encoding="utf-8")
        os.replace(staging, path)
    return synced


def _plain(value: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists, for validation."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
