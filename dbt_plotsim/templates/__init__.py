"""Bundled domain specs, usable as `template: <name>` in a synthetic block, with overrides on top."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import Problem, SpecError

TEMPLATE_DIR = Path(__file__).parent


def names() -> list[str]:
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yml"))


def text(name: str) -> str:
    """A bundled template by name (never a path: `../x` is just an unknown name)."""
    known = names()
    if not isinstance(name, str) or name not in known:
        from ..spec.checks import suggest

        shown = name if isinstance(name, str) else repr(name)
        raise SpecError(Problem("template", f"unknown template '{shown[:80]}'; {suggest(str(name), known)}"))
    return (TEMPLATE_DIR / f"{name}.yml").read_text(encoding="utf-8")


def load(name: str) -> dict:
    return yaml.safe_load(text(name))


def describe(name: str) -> str:
    """The first comment line of a template: what it models."""
    first = text(name).splitlines()[0]
    return first.lstrip("# ").strip()
