"""The `synthetic` block of a dbt source: a spec inline, from a bundled template or a file, plus output.

    sources:
      - name: saas
        config:
          meta:
            synthetic:
              template: saas        # or `file: specs/saas.yml`, or the spec keys inline
              seed: 7               # any spec key overrides the template's (mappings merge, lists replace)
              output: duckdb        # or parquet, csv, jsonl, with `path:` (relative to the dbt project)
              partition_by: period  # with parquet: Hive directories by date key (or by a column)
              scale: 0.1            # multiply every segment count (a quick dev sample of a big spec)
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import templates
from .errors import Problem, SpecError
from .source_blocks import block_of, misplaced
from .spec import Spec, load_spec, read_yaml

OUTSIDE_KEY = "allow_outside_project"
OUTPUT_KEYS = ("template", "file", "output", "path", "scale", "partition_by", OUTSIDE_KEY)
OUTPUTS = ("duckdb", "parquet", "csv", "jsonl")


@dataclass(frozen=True)
class SyntheticSource:
    name: str
    schema: str
    spec: Spec
    output: str  # duckdb | parquet | csv | jsonl
    path: Path | None  # the files' directory
    partition_by: str | None = None  # with parquet: Hive-partitioned by `period` or a column

    @property
    def file_layout(self) -> bool:
        """Written by writers/layouts.py (CSV, JSONL, partitioned Parquet), not as DuckDB tables or a Parquet set."""
        return self.output in ("csv", "jsonl") or self.partition_by is not None

    @property
    def yaml_path(self) -> str:
        return block_path(self.name)


def block_path(source: str) -> str:
    return f"sources.{source}.config.meta.synthetic"


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict:
    """Overrides win; nested mappings merge key by key, lists are replaced whole."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve(name: str, schema: str, block: Any, project_dir: str | os.PathLike = ".",
            as_of: str | None = None) -> SyntheticSource:
    """Validate a source's synthetic block; every problem is named under `sources.<name>.config.meta.synthetic`.
    `as_of` (dbt's var plotsim_as_of) replaces the block's `window.as_of`."""
    prefix = block_path(name)
    try:
        return _resolve(name, schema, block, Path(project_dir), as_of)
    except SpecError as exc:
        raise exc.with_prefix(prefix) from None


def _resolve(name: str, schema: str, block: Any, project_dir: Path, as_of: str | None = None) -> SyntheticSource:
    if not isinstance(block, Mapping):
        raise SpecError(Problem("", f"must be a mapping (a spec, or `template:`/`file:` with overrides), got {type(block).__name__}"))
    problems: list[Problem] = []
    for key in block:
        near = difflib.get_close_matches(str(key), ["template", "file", OUTSIDE_KEY], n=1, cutoff=0.75)
        if near and near[0] != key and near[0] not in block and str(key) not in Spec.model_fields:
            # a misspelt `template:` would otherwise show as every key of a spec missing
            raise SpecError(Problem(str(key), f"unknown key '{key}'; did you mean '{near[0]}'?"))
    anywhere = block.get(OUTSIDE_KEY, False)
    if not isinstance(anywhere, bool):
        problems.append(Problem(OUTSIDE_KEY, f"{anywhere!r} must be true or false"))
        anywhere = False
    base: Any = {}
    if "template" in block and "file" in block:
        problems.append(Problem("file", "give `template` or `file`, not both"))
    elif "template" in block:
        base = templates.load(block["template"])
    elif "file" in block:
        file_path, problem = _inside(project_dir, block["file"], "file", anywhere)
        if problem is not None:
            problems.append(problem)
        elif not file_path.is_file():
            problems.append(Problem("file", f"spec file {str(file_path)!r} does not exist"))
        else:
            base = read_yaml(file_path) or {}
            if not isinstance(base, Mapping):
                problems.append(Problem("file", f"{file_path} holds a {type(base).__name__}, not a spec (a mapping "
                                        "of unit, window, metrics, ...)"))
                base = {}
    output = block.get("output", "duckdb")
    if output not in OUTPUTS:
        problems.append(Problem("output", f"{output!r} is not an output; allowed: {list(OUTPUTS)}"))
    path = block.get("path")
    parquet_dir = None
    if output != "duckdb" and output in OUTPUTS and path is None:
        problems.append(Problem("path", f"output {output} needs `path`, the directory for the files"))
    elif path is not None:
        parquet_dir, problem = _inside(project_dir, path, "path", anywhere)
        if problem is not None:
            problems.append(problem)
    partition_by = block.get("partition_by")
    if partition_by is not None and (not isinstance(partition_by, str) or not partition_by.strip()):
        problems.append(Problem("partition_by", f"{partition_by!r} must be `period` or a column name"))
    elif partition_by is not None and output != "parquet":
        problems.append(Problem("partition_by", f"partition_by works with output parquet only (output is {output})"))
    scale = block.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        problems.append(Problem("scale", f"{scale!r} must be a number (1 = the counts as declared)"))
    if problems:
        raise SpecError(problems)
    spec = load_spec(merge(base, {k: v for k, v in block.items() if k not in OUTPUT_KEYS}), scale=float(scale),
                     as_of=None if as_of in (None, "") else str(as_of))
    return SyntheticSource(name, schema, spec, output, parquet_dir, partition_by)


def _inside(project_dir: Path, raw: Any, key: str, anywhere: bool) -> tuple[Path | None, Problem | None]:
    """`raw` as a path relative to the dbt project; outside it (after resolving symlinks and `..`) only with
    `allow_outside_project: true`, so a sources YAML cannot read or write anywhere on the machine."""
    if not isinstance(raw, str) or not raw.strip():
        return None, Problem(key, f"{raw!r} must be a path (text), relative to the dbt project")
    given = Path(os.path.abspath(project_dir / raw))  # `..` folded, symlinks kept: a Parquet set's own link stays
    candidate, root = given.resolve(), project_dir.resolve()
    if not anywhere and candidate != root and root not in candidate.parents:
        return None, Problem(key, f"{raw!r} resolves to {candidate}, outside the dbt project {root}; use a path "
                             f"inside it, or set `{OUTSIDE_KEY}: true` in this block to allow it")
    return given, None


def read_sources_yaml(path: str | os.PathLike) -> list[tuple[str, str, Any]]:
    """(source name, schema, synthetic block) of every source in a dbt sources YAML that declares one; a
    block in the wrong place (or under a misspelt key) is an error naming where it should go."""
    data = read_yaml(path) or {}
    sources = data.get("sources") if isinstance(data, Mapping) else None
    found, problems = [], []
    for source in sources if isinstance(sources, list) else []:
        if not isinstance(source, Mapping):
            continue
        problems.extend(misplaced(source))
        block = block_of(source)
        if block is not None:
            found.append((source["name"], source.get("schema") or source["name"], block))
    if problems:
        raise SpecError(problems)
    return found


def source_from_yaml(path: str | os.PathLike, name: str | None) -> SyntheticSource:
    """The named synthetic source of a sources YAML (the only one, when `name` is None)."""
    found = read_sources_yaml(path)
    names = [f[0] for f in found]
    if not found:
        raise SpecError(Problem("sources", f"{path} declares no source with config.meta.synthetic"))
    if name is None:
        if len(found) > 1:
            raise SpecError(Problem("sources", f"{path} declares several synthetic sources {names}; choose one with --source"))
        name = names[0]
    if name not in names:
        from .spec.checks import suggest

        raise SpecError(Problem("sources", f"no synthetic source '{name}' in {path}; {suggest(name, names)}"))
    source, schema, block = found[names.index(name)]
    return resolve(source, schema, block, project_root(path))


def project_root(path: str | os.PathLike) -> Path:
    """The dbt project a sources file belongs to (nearest dbt_project.yml above it), else its folder."""
    folder = Path(path).resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    return folder


def is_sources_yaml(path: str | os.PathLike) -> bool:
    """A dbt sources YAML (a `sources:` list) rather than a bare spec; unreadable files are read as specs,
    whose loading names the problem."""
    try:
        data = read_yaml(path)
    except SpecError:
        return False
    return isinstance(data, Mapping) and "sources" in data
