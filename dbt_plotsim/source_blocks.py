"""Where a `synthetic` block sits in a dbt source, and the places a newcomer puts it by mistake.

The block belongs at `sources[].config.meta.synthetic` (a source-level `meta.synthetic` is read too, as dbt
does). A block directly under the source, under `config:` without `meta:`, or under a misspelt key is named
with the fix by every command, instead of being silently ignored.
"""
from __future__ import annotations

import difflib
from typing import Any, Mapping

from .errors import Problem

KEY = "synthetic"


def _mapping(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def block_of(source: Mapping) -> Any:
    """The source's synthetic block, or None."""
    block = _mapping(_mapping(source.get("config")).get("meta")).get(KEY)
    if block is None:
        block = _mapping(source.get("meta")).get(KEY)
    return block


def misplaced(source: Mapping) -> list[Problem]:
    """Problems for synthetic blocks that dbt-plotsim would not see where they are."""
    name = source.get("name") if isinstance(source.get("name"), str) else "?"
    where = f"sources.{name}"
    fix = f"move it to {where}.config.meta.{KEY}"
    problems = []
    config = _mapping(source.get("config"))
    if KEY in source:
        problems.append(Problem(f"{where}.{KEY}", f"a synthetic block directly under the source is not read; {fix}"))
    if KEY in config:
        problems.append(Problem(f"{where}.config.{KEY}", f"a synthetic block under `config:` needs `meta:` between; {fix}"))
    for parent, path in ((source, where), (config, f"{where}.config"), (_mapping(config.get("meta")), f"{where}.config.meta"),
                         (_mapping(source.get("meta")), f"{where}.meta")):
        for key in parent:
            if isinstance(key, str) and key != KEY and difflib.get_close_matches(key.lower(), [KEY], n=1, cutoff=0.75):
                problems.append(Problem(f"{path}.{key}", f"unknown key '{key}'; did you mean '{KEY}'? ({fix})"))
    return problems
