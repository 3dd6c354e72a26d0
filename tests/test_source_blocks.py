"""A synthetic block in the wrong place, or under a misspelt key, is named with the fix by every command."""
from __future__ import annotations

import pytest
import yaml

from dbt_plotsim.cli import main

from .conftest import small_dict


def _write(tmp_path, source: dict) -> str:
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"version": 2, "sources": [{"name": "saas", **source}]}))
    return str(path)


@pytest.mark.parametrize("source,where,fragment", [
    ({"synthetic": small_dict()}, "sources.saas.synthetic", "directly under the source is not read"),
    ({"config": {"synthetic": small_dict()}}, "sources.saas.config.synthetic", "needs `meta:` between"),
    ({"config": {"meta": {"synthetics": small_dict()}}}, "sources.saas.config.meta.synthetics", "did you mean 'synthetic'"),
    ({"meta": {"synthetc": small_dict()}}, "sources.saas.meta.synthetc", "did you mean 'synthetic'"),
], ids=["under-source", "config-without-meta", "misspelt", "misspelt-source-meta"])
@pytest.mark.parametrize("command", ["validate", "generate", "sync-sources"])
def test_misplaced_blocks_are_named(tmp_path, capsys, source, where, fragment, command):
    path = _write(tmp_path, source)
    args = {"validate": ["validate", path], "generate": ["generate", path, "--out", str(tmp_path / "o")],
            "sync-sources": ["sync-sources", path]}[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert where in err and fragment in err and "config.meta.synthetic" in err, err
    assert not (tmp_path / "o").exists()


def test_source_level_meta_is_read_by_every_command(tmp_path, capsys):
    path = _write(tmp_path, {"meta": {"synthetic": small_dict()}})
    assert main(["validate", path]) == 0
    assert main(["sync-sources", path]) == 0
    assert "fct_mrr" in (tmp_path / "sources.yml").read_text()


def test_sync_sources_without_any_block_says_so(tmp_path, capsys):
    path = _write(tmp_path, {"tables": [{"name": "x"}]})
    assert main(["sync-sources", path]) == 2
    assert "declares no source with config.meta.synthetic" in capsys.readouterr().err


def test_a_misspelt_template_key_is_one_problem(tmp_path, capsys):
    path = _write(tmp_path, {"config": {"meta": {"synthetic": {"templte": "saas"}}}})
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert "1 problem" in err and "did you mean 'template'?" in err
