"""A user's YAML: bounded nesting, alias expansion and size, UTF-8 only, no key given twice; each refusal is
one SpecError naming the file (exit 2 through the CLI), never a traceback or a hang."""
from __future__ import annotations

import pytest

from dbt_plotsim.cli import main
from dbt_plotsim.errors import SpecError
from dbt_plotsim.spec import yaml_input
from dbt_plotsim.spec.yaml_input import parse_yaml, read_yaml


def _bomb(levels: int) -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text,fragment", [
    ("a: " + "[" * 600 + "]" * 600, "nests more than"),
    ("".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v: 1\n", "nests more than"),
    (_bomb(9), "aliases expand to more than"),
    ("seed: 1\nunit: x\nseed: 2\n", "the key 'seed' is given twice in one mapping (line 1 and line 3)"),
    ("a: [1, 2\n", "is not valid YAML at line 2"),
], ids=["deep-flow", "deep-block", "alias-bomb", "duplicate-key", "syntax"])
def test_refused_with_the_reason(text, fragment):
    with pytest.raises(SpecError) as err:
        parse_yaml(text, "spec.yml")
    assert "spec.yml" in str(err.value) and fragment in str(err.value)


def test_merge_keys_may_be_overridden():
    assert parse_yaml("b: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n", "s")["c"] == {"x": 3, "y": 2}


def test_modest_aliases_are_fine():
    assert len(parse_yaml(_bomb(3), "s")["l2"]) == 10


@pytest.mark.parametrize("data,fragment", [
    (b"\xff\xfeu\x00n\x00", "is UTF-16 text; save it as UTF-8"),
    (b"unit: \xff\n", "is not UTF-8 text (byte 0xff at offset 6)"),
])
def test_not_utf8(tmp_path, data, fragment):
    path = tmp_path / "s.yml"
    path.write_bytes(data)
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        read_yaml(path)


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "s.yml"
    path.write_bytes(b"\xef\xbb\xbfunit: x\n")
    assert read_yaml(path) == {"unit": "x"}


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_input, "MAX_BYTES", 100)
    path = tmp_path / "s.yml"
    path.write_text("a: " + "x" * 200 + "\n")
    with pytest.raises(SpecError, match="a spec file may be at most 100"):
        read_yaml(path)


@pytest.mark.parametrize("command", ["validate", "info", "sync-sources"])
@pytest.mark.parametrize("text", ["a: " + "[" * 600 + "]" * 600, "sources:\n  - name: a\n    tables: [\n"])
def test_every_command_exits_2_with_one_line(tmp_path, capsys, command, text):
    path = tmp_path / "s.yml"
    path.write_text(text)
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err


def test_a_directory_is_named(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert "is a directory, not a YAML file" in capsys.readouterr().err
