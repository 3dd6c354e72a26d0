"""The `dbt-plotsim` command line, run in-process: exit codes, what it prints, what it writes."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

import dbt_plotsim
from dbt_plotsim.cli import main
from dbt_plotsim.writers.duckdb import STAGING

from .conftest import tiny_dict

BASE: dict = tiny_dict()

ENTITIES = 40
PERIODS = 12
EXPECTED_ROWS = {
    "dim_date": PERIODS,
    "dim_account": ENTITIES,
    "fct_engagement": ENTITIES * PERIODS,
    "fct_mrr": ENTITIES * PERIODS,
    "fct_support_tickets": ENTITIES * PERIODS,
    "trajectory": ENTITIES * PERIODS,
}
TRUTH_TABLES = {"_plotsim_truth", "_plotsim_truth_relations", "_plotsim_truth_lags"}  # sizes: test_truth.py


def without_truth(rows: dict) -> dict:
    assert TRUTH_TABLES <= set(rows)
    return {name: count for name, count in rows.items() if name not in TRUTH_TABLES}


def write_spec(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


@pytest.fixture
def good_file(tmp_path) -> str:
    return write_spec(tmp_path / "good.yml", copy.deepcopy(BASE))


@pytest.fixture
def bad_file(tmp_path) -> str:
    data = copy.deepcopy(BASE)
    data["metrics"][1]["range"] = [500, 50]  # min > max
    data["segments"][0]["archetype"] = "grwoth"  # typo
    data["lags"][0]["follows"] = "engagment"  # typo
    return write_spec(tmp_path / "bad.yml", data)


BAD_PATHS = ["lags.support_tickets.follows", "metrics.mrr.range", "segments.growers.archetype"]


def parse_info(out: str) -> dict[str, int]:
    """{table: rows} from `info` output lines '<table> <rows> <columns> <size> <unit>'."""
    rows = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1].replace(",", "").isdigit():
            rows[fields[0]] = int(fields[1].replace(",", ""))
    return rows


def test_validate_good_file(good_file, capsys):
    assert main(["validate", good_file]) == 0
    captured = capsys.readouterr()
    assert "valid" in captured.out
    assert "40 account entities" in captured.out and "3 metrics" in captured.out
    assert captured.err == ""


def test_validate_bad_file(bad_file, capsys):
    assert main(["validate", bad_file]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert captured.err.startswith("error: 3 problems in the synthetic spec:")
    for path in BAD_PATHS:
        assert f"  - {path}: " in captured.err
    assert "did you mean 'growth'?" in captured.err
    assert "did you mean 'engagement'?" in captured.err
    # listed sorted by path
    positions = [captured.err.index(f"  - {path}: ") for path in BAD_PATHS]
    assert positions == sorted(positions)


def test_validate_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yml")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_validate_yaml_syntax_error(tmp_path, capsys):
    spec_file = tmp_path / "broken.yml"
    spec_file.write_text("unit: account\nwindow:\n  start: 2024-01\n    end: 2024-12-31\n", encoding="utf-8")
    assert main(["validate", str(spec_file)]) == 2
    err = capsys.readouterr().err
    assert "not valid YAML" in err and "line 4" in err and "Traceback" not in err


def test_info_lists_tables_with_row_counts(good_file, capsys):
    assert main(["info", good_file]) == 0
    out = capsys.readouterr().out
    assert without_truth(parse_info(out)) == EXPECTED_ROWS
    assert "total (uncompressed)" in out


def test_generate_parquet(good_file, tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert main(["generate", good_file, "--out", str(out_dir), "--format", "parquet"]) == 0
    assert "wrote 9 tables" in capsys.readouterr().out
    written = {p.stem: pq.read_metadata(p).num_rows for p in out_dir.glob("*.parquet")}
    assert without_truth(written) == EXPECTED_ROWS


def test_generate_picks_duckdb_from_the_file_name(good_file, tmp_path, capsys):
    database = tmp_path / "sample.duckdb"
    assert main(["generate", good_file, "--out", str(database)]) == 0
    assert "(schema main)" in capsys.readouterr().out
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("select count(*) from dim_date").fetchone()[0] == EXPECTED_ROWS["dim_date"]
        staging = conn.execute("select count(*) from information_schema.tables where starts_with(table_name, ?)",
                               [STAGING])
        assert staging.fetchone()[0] == 0
    assert main(["generate", good_file, "--out", str(tmp_path / "files")]) == 0
    assert (tmp_path / "files" / "dim_date.parquet").exists()


def test_generate_duckdb_into_schema(good_file, tmp_path, capsys):
    database = tmp_path / "db" / "plotsim.duckdb"
    assert main(["generate", good_file, "--out", str(database), "--format", "duckdb", "--schema", "s"]) == 0
    assert "(schema s)" in capsys.readouterr().out
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = {name for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 's'").fetchall()}
        assert tables == set(EXPECTED_ROWS) | TRUTH_TABLES | {  # state: appends; spec and digests: verify
            "_plotsim_state", "_plotsim_relations", "_plotsim_digests", "_plotsim_spec"}
        for name, rows in EXPECTED_ROWS.items():
            assert conn.execute(f'select count(*) from s."{name}"').fetchone()[0] == rows
        assert conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'main'").fetchone()[0] == 0


def test_generate_duckdb_appends_when_only_as_of_moves(good_file, tmp_path, capsys):
    database = tmp_path / "grow.duckdb"
    assert main(["generate", good_file, "--out", str(database), "--as-of", "2024-03-15"]) == 0
    assert capsys.readouterr().out.startswith("wrote ")
    assert main(["generate", good_file, "--out", str(database), "--as-of", "2024-07-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("appended to ") and "window.as_of moved forward 4 period(s)" in out
    full = tmp_path / "full.duckdb"
    assert main(["generate", good_file, "--out", str(full), "--as-of", "2024-07-01"]) == 0
    with duckdb.connect(str(database), read_only=True) as grown, duckdb.connect(str(full), read_only=True) as whole:
        for name in EXPECTED_ROWS:
            query = f'select * from "{name}" order by all'
            assert grown.execute(query).fetchall() == whole.execute(query).fetchall(), name
    assert main(["generate", good_file, "--out", str(database)]) == 0  # to the end: appends again
    assert "appended" in capsys.readouterr().out


def test_generate_parquet_appends_a_file_per_load(good_file, tmp_path, capsys):
    out = tmp_path / "files"
    assert main(["generate", good_file, "--out", str(out), "--as-of", "2024-03-15"]) == 0
    assert main(["generate", good_file, "--out", str(out)]) == 0
    assert "appended to " in capsys.readouterr().out
    assert (out / "fct_mrr.20241201.parquet").exists()
    full = tmp_path / "full"
    assert main(["generate", good_file, "--out", str(full)]) == 0
    with duckdb.connect() as conn:
        for name in EXPECTED_ROWS:
            grown = sorted(conn.execute(f"select * from read_parquet('{out}/{name}*.parquet')").fetchall())
            whole = sorted(conn.execute(f"select * from read_parquet('{full}/{name}.parquet')").fetchall())
            assert grown == whole and len(whole) == EXPECTED_ROWS[name], name


def test_generate_parquet_with_bad_spec_writes_nothing(bad_file, tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert main(["generate", bad_file, "--out", str(out_dir), "--format", "parquet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "metrics.mrr.range" in err
    assert not out_dir.exists() or not list(out_dir.rglob("*.parquet"))


def test_generate_parquet_with_bad_spec_keeps_existing_files(good_file, bad_file, tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert main(["generate", good_file, "--out", str(out_dir)]) == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir() if p.is_file()}
    assert main(["generate", bad_file, "--out", str(out_dir)]) == 2
    capsys.readouterr()
    after = {p.name: p.read_bytes() for p in out_dir.iterdir() if p.is_file()}
    assert after == before


def test_generate_duckdb_with_bad_spec_creates_no_database(bad_file, tmp_path, capsys):
    database = tmp_path / "db" / "plotsim.duckdb"
    assert main(["generate", bad_file, "--out", str(database), "--format", "duckdb", "--schema", "s"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not database.exists()
    assert not database.parent.exists()


def test_scale_halves_entity_counts(good_file, tmp_path, capsys):
    assert main(["info", good_file, "--scale", "0.5"]) == 0
    rows = parse_info(capsys.readouterr().out)
    assert rows["dim_account"] == ENTITIES // 2
    assert rows["fct_mrr"] == ENTITIES // 2 * PERIODS
    out_dir = tmp_path / "half"
    assert main(["generate", good_file, "--out", str(out_dir), "--scale", "0.5"]) == 0
    capsys.readouterr()
    dim = pq.read_table(out_dir / "dim_account.parquet")
    assert dim.num_rows == ENTITIES // 2
    assert sorted(dim.column("segment").to_pylist()) == ["churners"] * 10 + ["growers"] * 10


def test_scale_must_be_positive(good_file, capsys):
    assert main(["validate", good_file, "--scale", "0"]) == 2
    err = capsys.readouterr().err
    assert "scale: 0.0 must be a positive, finite number" in err and "Traceback" not in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"dbt-plotsim {dbt_plotsim.__version__}"


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["generate"])
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_spec_in_subprocess_exits_2_without_traceback(bad_file):
    code = "from dbt_plotsim.cli import main; import sys; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", code, "validate", bad_file],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for path in BAD_PATHS:
        assert f"  - {path}: " in result.stderr
    assert result.stdout == ""


def test_scale_beyond_count_limit_is_a_user_error(good_file, capsys):
    assert main(["validate", good_file, "--scale", "1e7"]) == 2  # 20 x 1e7 = 2e8 entities per segment
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "scale" in err or "segments.growers.count" in err


def test_infinite_scale_is_a_user_error(good_file, capsys):
    assert main(["validate", good_file, "--scale", "inf"]) == 2
    assert "scale: inf" in capsys.readouterr().err


def test_validate_shows_the_fitted_model(tmp_path, capsys):
    """Fitted or set signals and weights, declared vs delivered r, and the r of pairs nobody declared."""
    data = copy.deepcopy(BASE)
    data["metrics"][1]["signal"] = 0.6
    path = write_spec(tmp_path / "spec.yml", data)
    assert main(["validate", path]) == 0
    out = capsys.readouterr().out
    names = [m["name"] for m in data["metrics"]]
    assert any(line.split()[:3] == [names[1], "0.60", "(set)"] for line in out.splitlines()), out
    assert "(fitted)" in out and "persistence" in out
    for corr in data.get("correlations", []):
        assert "~".join(corr["between"]) in out
    assert "declared  delivered" in out and "undeclared pairs (expected r)" in out


def test_validate_warns_about_a_terminal_event_that_never_fires(tmp_path, capsys):
    data = copy.deepcopy(BASE)
    data["events"] = [{"name": "close", "when": {"metric": "trajectory", "below": 0.001, "for": 6}, "terminal": True}]
    assert main(["validate", write_spec(tmp_path / "spec.yml", data)]) == 0
    out = capsys.readouterr().out
    assert "ends about 0% of entities" in out and "warning: events.close.when never held" in out


def test_output_closed_by_its_reader_is_not_a_bug(tmp_path):
    """`dbt-plotsim generate ... | head -0`: the files are written; the closed pipe ends the command quietly."""
    import subprocess
    import sys

    spec = tmp_path / "tiny.yml"
    spec.write_text(yaml.safe_dump(tiny_dict()))
    out = tmp_path / "out"
    reader = subprocess.Popen(["head", "-c", "0"], stdin=subprocess.PIPE)
    done = subprocess.run([sys.executable, "-m", "dbt_plotsim.cli", "generate", str(spec), "--out", str(out), "--quiet"],
                          stdout=reader.stdin, stderr=subprocess.PIPE, text=True)
    reader.stdin.close()
    reader.wait()
    assert done.returncode == 141, done.stderr
    assert "bug" not in done.stderr and "Nothing was changed" not in done.stderr
    assert (out / "dim_date.parquet").exists()
