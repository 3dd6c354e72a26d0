"""dbt-duckdb plugin: gives dbt's DuckDB connection the `plotsim_generate(request)` and
`plotsim_report(request)` SQL functions.

Enable it in profiles.yml:

    plugins:
      - module: dbt_plotsim.plugin
        alias: plotsim
        config:
          progress_seconds: 2   # optional: seconds between progress lines in dbt's log (default 2)

The `generate_synthetic` macro calls the function once per synthetic source with a JSON request
({source, schema, block, project_dir, force, label}); it answers with a JSON outcome. A user's mistake comes back
as {"status": "error", "problems": [...]}, never as a traceback. The `plotsim_report` macro calls the second
with {source, schema, block, project_dir, out} and gets {status: "written", html, json, pass, warn}.
"""
from __future__ import annotations

import json
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

FUNCTION = "plotsim_generate"
PROGRESS_EVERY = 2.0  # seconds between progress lines in dbt's log; the plugin's config `progress_seconds` sets it
REPORT_FUNCTION = "plotsim_report"


def handle(request_json: str, conn, progress_every: float = PROGRESS_EVERY) -> str:
    """Run one request against a DuckDB connection; always returns a JSON outcome. While it writes, progress
    lines go to dbt's log at most every `progress_every` seconds, and one when the source is written."""

    def generate() -> dict:
        from .interrupts import check
        from .materialize import materialize
        from .progress import Progress
        from .sources import resolve
        from .writers.overlap import DEFAULT_WORKERS

        request = json.loads(request_json)
        source = resolve(request["source"], request["schema"], request["block"], project_dir(request.get("project_dir")),
                         request.get("as_of"))
        check()  # a Ctrl-C while the spec was loaded and calibrated
        progress = Progress(logged(request.get("label") or "", source.name), every=progress_every)
        outcome = materialize(source, conn, force=bool(request.get("force")), progress=progress,
                              workers=DEFAULT_WORKERS)
        return {"status": outcome.status, **outcome.as_dict()}

    return answered(request_json, generate)


def handle_report(request_json: str, conn) -> str:
    """Write the fidelity report of one source (its tables in `conn`, or its Parquet set); a JSON outcome."""

    def report() -> dict:
        from pathlib import Path

        from .report import write_report

        request = json.loads(request_json)
        root = Path(project_dir(request.get("project_dir")))
        block = request.get("block") or {}
        out = root / (request.get("out") or f"target/plotsim_report_{request['source']}.html")
        if isinstance(block, dict) and block.get("output") in ("parquet", "csv", "jsonl") and block.get("path"):
            written = write_report(out, parquet=root / str(block["path"]))
        else:
            written = write_report(out, conn=conn, schema=request["schema"], source=request["source"])
        return {"status": "written", "html": str(written.html), "json": str(written.json),
                "pass": written.passed, "warn": written.warned}

    return answered(request_json, report)


def answered(request_json: str, work) -> str:
    """`work()`'s outcome as JSON; a user's mistake as {"status": "error", "problems": [...]}, a signal as
    interrupted() says, anything else as a bug (one line, the traceback saved for the report)."""
    from .errors import PlotsimError, SpecError
    from .interrupts import report_bug

    # a signal since the plugin started watching (dbt's start-up, an earlier source) stops this request too
    try:
        return json.dumps(work())
    except SpecError as exc:
        return json.dumps({"status": "error", "problems": exc.lines()})
    except PlotsimError as exc:
        return json.dumps({"status": "error", "problems": [str(exc)]})
    except KeyboardInterrupt as exc:
        return interrupted(request_json, exc)
    except Exception as exc:  # noqa: BLE001 - a bug, reported as one
        return json.dumps({"status": "bug", "problems": [report_bug(exc)]})


def interrupted(request_json: str, exc: KeyboardInterrupt) -> str:
    """The answer to a request stopped by a signal: ours (Interrupted), or dbt's own SIGINT handler raising
    KeyboardInterrupt wherever our code was (even on entry to the function, before `handle`)."""
    from .interrupts import Interrupted

    stopped = exc if isinstance(exc, Interrupted) else Interrupted()
    # DuckDB sees the same signal and cancels the query that called us, so dbt may never read the answer
    # and print only "Query interrupted": say it now, through dbt's log
    _log(f"dbt-plotsim: source '{_source_name(request_json)}' {stopped.message()}")
    return json.dumps({"status": "interrupted", "problems": [stopped.message()]})


def _source_name(request_json: str) -> str:
    try:
        return str(json.loads(request_json)["source"])
    except Exception:
        return "?"


def logged(label: str, source: str):
    """A progress report (progress.Snapshot) as a line of dbt's log, worded like the macro's START/OK lines."""
    prefix = f"{label} " if label else ""

    def report(snapshot) -> None:
        _log(f"{prefix}{'DONE' if snapshot.final else 'PROGRESS'} synthetic source {source}: {snapshot.line()}")

    return report


def _log(message: str) -> None:
    try:
        from dbt_common.events.functions import fire_event
        from dbt_common.events.types import Note

        fire_event(Note(msg=message))
    except Exception:  # outside dbt: the answer carries the message anyway
        pass


def project_dir(requested: str | None) -> str:
    """Where `file:` and `path:` are relative to: the dbt project being run (whatever the working directory)."""
    if requested and requested != ".":
        return requested
    try:
        from dbt.flags import get_flags

        found = getattr(get_flags(), "PROJECT_DIR", None)
    except Exception:  # outside a dbt invocation
        found = None
    return str(found) if found else "."


def _seconds(value) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:
        raise ValueError(f"dbt-plotsim plugin: progress_seconds in profiles.yml must be a number of seconds, 0 or "
                         f"more (0: a line per chunk), not {value!r}")
    return seconds


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        from .interrupts import watch

        self.plugin_config = plugin_config
        self.progress_every = _seconds((plugin_config or {}).get("progress_seconds", PROGRESS_EVERY))
        watch()  # Ctrl-C stops a generation running inside DuckDB's call of our function

    def configure_connection(self, conn) -> None:
        def generate(request_json: str) -> str:
            try:
                cursor = conn.cursor()  # its own transaction: the source commits or rolls back as a whole
                try:
                    return handle(request_json, cursor, self.progress_every)
                finally:
                    cursor.close()
            except KeyboardInterrupt as exc:
                return interrupted(request_json, exc)

        conn.create_function(FUNCTION, generate, ["VARCHAR"], "VARCHAR", side_effects=True)

        def report(request_json: str) -> str:
            cursor = conn.cursor()
            try:
                return handle_report(request_json, cursor)
            finally:
                cursor.close()

        conn.create_function(REPORT_FUNCTION, report, ["VARCHAR"], "VARCHAR", side_effects=True)
