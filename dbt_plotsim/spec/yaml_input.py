"""Reading YAML a user gave us: UTF-8 text of bounded size, nesting and alias expansion, no repeated keys.

A mistake (or a hostile file) becomes one clear SpecError naming the file and the place, never a traceback,
a hang or gigabytes of memory: a 500-deep nesting would overflow the parser's recursion, and a few lines of
nested aliases expand to a billion values once anything walks them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, SpecError

MAX_BYTES = 8 << 20  # a spec or sources file above 8 MiB is not something a person wrote
MAX_DEPTH = 60  # levels of nesting
MAX_VALUES = 500_000  # values once every alias is expanded
MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    def __init__(self, reason: str, mark=None):
        super().__init__(reason)
        self.reason, self.mark = reason, mark


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and keys given twice in one mapping."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"it nests more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue  # `<<: *base` merges are meant to be overridden
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it
                if first is not key_node.start_mark:
                    raise _Refused(f"the key {_short(key)!r} is given twice in one mapping (line {first.line + 1} "
                                   f"and line {key_node.start_mark.line + 1}); keep one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _expanded_values(root) -> int:
    """How many values the document holds with every alias expanded (aliases share nodes, so memoized)."""
    sizes: dict[int, int] = {}

    def size(node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        else:
            total = 1
        sizes[id(node)] = total = min(total, MAX_VALUES + 1)
        return total

    return size(root)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_yaml(text: str, where: str) -> Any:
    """The data of one YAML document; SpecError naming `where` (a file) and the line on any problem."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_values(node) > MAX_VALUES:
            raise _Refused(f"its aliases expand to more than {MAX_VALUES:,} values")
        return loader.construct_document(node)
    except _Refused as exc:
        at = f" at line {exc.mark.line + 1}" if exc.mark is not None else ""
        raise SpecError(Problem("", f"{where} cannot be read{at}: {exc.reason}")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecError(Problem("", f"{where} is not valid YAML{at}: {reason}")) from None
    finally:
        loader.dispose()


def read_text(path: str | os.PathLike) -> str:
    """A user's YAML file as text: it must exist, be at most MAX_BYTES and be UTF-8."""
    path = Path(path)
    try:
        if path.is_dir():
            raise SpecError(Problem("", f"{str(path)!r} is a directory, not a YAML file"))
        if not path.is_file():
            raise SpecError(Problem("", f"spec file {str(path)!r} does not exist"))
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError(Problem("", f"{path} is {size:,} bytes; a spec file may be at most {MAX_BYTES:,}"))
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(Problem("", f"cannot read {path}: {exc.strerror or exc}")) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError(Problem("", f"{path} is UTF-16 text; save it as UTF-8"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(Problem("", f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                                    f"{exc.start}); save it as UTF-8")) from None


def read_yaml(path: str | os.PathLike) -> Any:
    return parse_yaml(read_text(path), str(path))
