"""One in-process dbt for every dbt project test: dbt's import and start-up are paid once per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Dbt:
    """Runs dbt commands in this process (dbtRunner) against a project with its own profiles.yml."""

    def __init__(self) -> None:
        from dbt.cli.main import dbtRunner

        self.runner = dbtRunner()

    def __call__(self, project: Path, *args: str, vars: dict | None = None):
        import json

        argv = [*args, "--project-dir", str(project), "--profiles-dir", str(project)]
        if vars:
            argv += ["--vars", json.dumps(vars)]
        return self.runner.invoke(argv)


@pytest.fixture(scope="session")
def dbt() -> Dbt:
    return Dbt()


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Path:
    """A fresh DuckDB file per session; profiles read it from PLOTSIM_*_DB."""
    return tmp_path_factory.mktemp("warehouse")


def failures(result) -> list[str]:
    """Names of the nodes that errored or failed in a dbt result."""
    nodes = getattr(result.result, "results", None) or []
    return [r.node.name for r in nodes if str(r.status) in ("error", "fail")]


def why_failed(result, db: Path | None = None) -> list[tuple]:
    """(node, status, dbt's message, the failing test's rows) per failed node: what an assertion should show."""
    import duckdb

    out = []
    for r in getattr(result.result, "results", None) or []:
        if str(r.status) not in ("error", "fail"):
            continue
        rows = None
        if db is not None and str(r.status) == "fail" and getattr(r.node, "compiled_code", None):
            try:
                with duckdb.connect(str(db)) as conn:
                    rows = conn.execute(r.node.compiled_code).fetchmany(5)
            except duckdb.Error as exc:  # the diagnosis must not hide the failure it describes
                rows = f"could not re-run the test's query: {exc}"
        out.append((r.node.name, str(r.status), r.message, rows))
    return out


def set_env(name: str, value: str) -> None:
    os.environ[name] = value
