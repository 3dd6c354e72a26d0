"""The package's generic tests as plain SQL: a macro's `default__` body rendered with jinja, to run on DuckDB
in unit tests (the dbt path itself is covered by integration_tests/)."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import jinja2

MACROS = Path(__file__).resolve().parents[1] / "macros" / "generic_tests"


def render(test: str, model_columns: list[tuple[str, str]] | None = None, **arguments) -> str:
    """The compiled SQL of macros/generic_tests/test_<test>.sql's default__ macro (what dbt runs on DuckDB);
    `model_columns` ((name, type) pairs) is what adapter.get_columns_in_relation answers for the model."""
    source = (MACROS / f"test_{test}.sql").read_text()
    body = re.search(r"{% macro default__.*?{% endmacro %}", source, re.DOTALL).group(0)
    env = jinja2.Environment(extensions=["jinja2.ext.do"])

    def fail(message):
        raise ValueError(message)

    env.globals.update(
        exceptions=SimpleNamespace(raise_compiler_error=fail),
        dbt=SimpleNamespace(dateadd=lambda part, n, expr: f"({expr} + interval {n} {part})",
                            string_literal=lambda text: "'" + str(text) + "'",
                            type_int=lambda: "integer", type_float=lambda: "double",
                            type_string=lambda: "varchar"),
        execute=model_columns is not None,
        adapter=SimpleNamespace(
            get_columns_in_relation=lambda relation: [SimpleNamespace(name=n, data_type=t) for n, t in model_columns or []],
            quote=lambda name: f'"{name}"'),
    )
    return str(getattr(env.from_string(body).module, f"default__{test}")(**arguments))
