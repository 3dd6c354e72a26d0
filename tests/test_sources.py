"""The synthetic block of a dbt source: inline, template with overrides, or file; errors under its path."""
import pytest
import yaml

from dbt_plotsim.cli import main
from dbt_plotsim.errors import SpecError
from dbt_plotsim.sources import merge, resolve, source_from_yaml

from .conftest import small_dict

PREFIX = "sources.saas.config.meta.synthetic"


def test_inline_block():
    source = resolve("saas", "raw", small_dict())
    assert source.spec.unit == "account" and source.output == "duckdb" and source.schema == "raw"


def test_template_with_overrides():
    block = {"template": "saas", "seed": 9, "segments": [{"name": "only", "count": 10, "archetype": "flat"}],
             "window": {"end": "2023-06-30"}}
    spec = resolve("saas", "raw", block).spec
    assert spec.seed == 9 and [s.name for s in spec.segments] == ["only"]
    assert str(spec.window.end) == "2023-06-30" and str(spec.window.start) == "2023-01-01"  # mappings merge


def test_scale_in_block():
    spec = resolve("saas", "raw", {"template": "saas", "scale": 0.1}).spec
    assert spec.entity_count == 200
    with pytest.raises(SpecError, match="scale"):
        resolve("saas", "raw", {"template": "saas", "scale": "big"})


def test_merge_replaces_lists_and_merges_mappings():
    assert merge({"a": {"x": 1, "y": 2}, "l": [1, 2]}, {"a": {"y": 3}, "l": [9]}) == {"a": {"x": 1, "y": 3}, "l": [9]}


def test_file_block_relative_to_project(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "s.yml").write_text(yaml.safe_dump(small_dict()))
    spec = resolve("saas", "raw", {"file": "specs/s.yml", "seed": 5}, tmp_path).spec
    assert spec.seed == 5 and spec.unit == "account"


def test_a_symlink_out_of_the_project_is_refused_unless_allowed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "s.yml").write_text(yaml.safe_dump(small_dict()))
    project = tmp_path / "project"
    project.mkdir()
    (project / "specs").symlink_to(outside)
    with pytest.raises(SpecError, match="outside the dbt project"):
        resolve("saas", "raw", {"file": "specs/s.yml"}, project)
    assert resolve("saas", "raw", {"file": "specs/s.yml", "allow_outside_project": True}, project).spec.unit == "account"


@pytest.mark.parametrize("content,fragment", [
    ("- a list\n- not a spec\n", "holds a list, not a spec"),
    ("just text\n", "holds a str, not a spec"),
    ("unit: x\nunit: y\n", "the key 'unit' is given twice"),
])
def test_a_file_that_is_not_a_spec_mapping_is_named(tmp_path, content, fragment):
    (tmp_path / "s.yml").write_text(content)
    with pytest.raises(SpecError) as err:
        resolve("saas", "raw", {"file": "s.yml"}, tmp_path)
    assert any(line.startswith(f"{PREFIX}.file:") or fragment in line for line in err.value.lines())
    assert fragment in str(err.value)


@pytest.mark.parametrize("block,path,fragment", [
    ({"template": "sas"}, "template", "did you mean 'saas'"),
    ({"file": "missing.yml"}, "file", "does not exist"),
    ({**small_dict(), "output": "xlsx"}, "output", "allowed: ['duckdb', 'parquet', 'csv', 'jsonl']"),
    ({**small_dict(), "output": "parquet"}, "path", "needs `path`"),
    ({**small_dict(), "output": "parquet", "path": 5}, "path", "5 must be a path"),
    ({**small_dict(), "output": "parquet", "path": "../elsewhere"}, "path", "outside the dbt project"),
    ({**small_dict(), "output": "parquet", "path": "/tmp/x"}, "path", "allow_outside_project: true"),
    ({"file": "/etc/passwd"}, "file", "outside the dbt project"),
    ({"template": "../../x/profiles"}, "template", "unknown template '../../x/profiles'"),
    ({"template": ["saas"]}, "template", "unknown template"),
    ({**small_dict(), "allow_outside_project": "yes"}, "allow_outside_project", "must be true or false"),
    ({**small_dict(), "metrics": [{"name": "m", "type": "amount", "range": [9, 1]}]}, "metrics.m.range", "min < max"),
])
def test_errors_are_prefixed_with_the_source_path(block, path, fragment, tmp_path):
    with pytest.raises(SpecError) as err:
        resolve("saas", "raw", block, tmp_path)
    lines = err.value.lines()
    assert any(line.startswith(f"{PREFIX}.{path}:") and fragment in line for line in lines), lines


def _sources_file(tmp_path):
    path = tmp_path / "models" / "sources.yml"
    path.parent.mkdir(exist_ok=True)
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    path.write_text(yaml.safe_dump({"version": 2, "sources": [
        {"name": "saas", "schema": "raw", "config": {"meta": {"synthetic": small_dict()}}},
        {"name": "crm", "tables": [{"name": "contacts"}]},
    ]}, sort_keys=False))
    return path


def test_source_from_sources_yaml(tmp_path):
    source = source_from_yaml(_sources_file(tmp_path), None)
    assert source.name == "saas" and source.schema == "raw"
    with pytest.raises(SpecError, match="did you mean 'saas'"):
        source_from_yaml(_sources_file(tmp_path), "sass")


def test_cli_generate_from_sources_yaml(tmp_path, capsys):
    path = _sources_file(tmp_path)
    assert main(["generate", str(path), "--source", "saas", "--out", str(tmp_path / "pq")]) == 0
    assert (tmp_path / "pq" / "fct_mrr.parquet").exists()


def test_cli_templates(capsys):
    assert main(["templates"]) == 0
    assert "saas" in capsys.readouterr().out
    assert main(["template", "saas"]) == 0
    assert "unit: account" in capsys.readouterr().out
    assert main(["template", "nope"]) == 2
