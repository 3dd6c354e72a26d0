"""Output layouts: Hive-partitioned Parquet, CSV and JSON Lines read back to the DuckDB writer's rows, are
byte-identical across chunk sizes and runs, and are replaced as a whole (nothing partial on a failure)."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import dbt_plotsim
from dbt_plotsim import templates
from dbt_plotsim.cli import main
from dbt_plotsim.errors import WriteError
from dbt_plotsim.spec import load_spec
from dbt_plotsim.writers import hive
from dbt_plotsim.writers.file_set import MANIFEST
from dbt_plotsim.writers.layouts import write_layout

from .conftest import small_dict


def saas():
    """Every column type the engine writes: dates, timestamps, decimals, booleans, small ints, text."""
    return load_spec(templates.load("saas"), scale=0.05)


def bigger() -> dict:
    """Enough entities (2,500) for several entity chunks of 1,024."""
    spec = small_dict()
    for segment in spec["segments"]:
        segment["count"] *= 25
    return spec


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The DuckDB writer's rows of the saas spec, per table sorted, with each column's DuckDB type."""
    db = tmp_path_factory.mktemp("ref") / "ref.duckdb"
    dbt_plotsim.write_duckdb(saas(), db, "s")
    with duckdb.connect(str(db)) as conn:
        names = [r[0] for r in conn.execute(
            "select table_name from duckdb_tables() where schema_name = 's' order by 1").fetchall()]
        out = {}
        for name in names:
            types = conn.execute(f'describe s."{name}"').fetchall()
            rows = conn.execute(f'select * from s."{name}" order by all').fetchall()
            out[name] = ([(c[0], c[1]) for c in types], rows)
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    spec = saas()
    dbt_plotsim.write_partitioned_parquet(spec, root / "hive")
    dbt_plotsim.write_partitioned_parquet(spec, root / "by_segment", "segment")
    dbt_plotsim.write_partitioned_parquet(spec, root / "by_date", "signup_date")  # a date, in dim_account
    dbt_plotsim.write_partitioned_parquet(spec, root / "by_flag", "is_duplicate")  # a boolean, in the crosswalk
    dbt_plotsim.write_csv(spec, root / "csv")
    dbt_plotsim.write_jsonl(spec, root / "jsonl")
    return root


def _typed_select(columns, relation: str) -> str:
    """The reference's columns in its order, each cast to its reference type."""
    return "select " + ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in columns) + f" from {relation} order by all"


def _hive_relation(out: Path, name: str) -> str:
    partitions = json.loads((out / MANIFEST).read_text())["partitions"]
    types = ""
    if name in partitions:
        types = f", hive_types = {{'{partitions[name]['column']}': {partitions[name]['type']}}}"
    return f"read_parquet('{out}/{name}/**/*.parquet', hive_partitioning = true{types})"


@pytest.mark.parametrize("layout", ["hive", "by_segment", "by_date", "by_flag"])
def test_partitioned_parquet_reads_back_the_duckdb_rows(reference, written, layout):
    out = written / layout
    conn = duckdb.connect()
    for name, (columns, rows) in reference.items():
        # no cast needed: Parquet carries every type and hive_types the partition column's
        listed = ", ".join(f'"{c}"' for c, _ in columns)
        got = conn.execute(f"select {listed} from {_hive_relation(out, name)} order by all").fetchall()
        assert got == rows, name
    assert len(reference) == len(json.loads((out / MANIFEST).read_text())["tables"])


def test_partitions_by_period_and_by_a_column(written):
    facts = sorted(p.name for p in (written / "hive" / "fct_account_monthly").iterdir())
    assert facts[0] == "date_key=20230101" and len(facts) == 36  # 36 months of the saas template
    assert (written / "hive" / "dim_account" / "part-00000.parquet").is_file()  # no date key: one file
    segments = sorted(p.name for p in (written / "by_segment" / "dim_account").iterdir())
    assert segments == sorted(f"segment={s['name']}" for s in templates.load("saas")["segments"])
    assert sorted(p.name for p in (written / "by_flag" / "_plotsim_crosswalk").iterdir()) == \
        ["is_duplicate=false", "is_duplicate=true"]
    dates = [p.name for p in (written / "by_date" / "dim_account").iterdir()]
    assert dates and all(re.fullmatch(r"signup_date=\d{4}-\d{2}-\d{2}", d) for d in dates), dates[:3]  # ISO
    listed = json.loads((written / "hive" / MANIFEST).read_text())["files"]["fct_account_monthly"]
    assert listed == sorted(listed) and len(listed) == 36


def test_csv_reads_back_the_duckdb_rows(reference, written):
    conn = duckdb.connect()
    for name, (columns, rows) in reference.items():
        # every field read as text, then cast: what each value prints as must parse back to the same value
        relation = f"read_csv('{written}/csv/{name}.csv', header = true, all_varchar = true)"
        assert conn.execute(_typed_select(columns, relation)).fetchall() == rows, name
    first = (written / "csv" / "dim_date.csv").read_text().splitlines()[:2]
    assert first[0].startswith('"date_key","period_start"') and ",2023-01-01,2023-01-31," in first[1]


def test_csv_auto_detection_gives_the_same_values(reference, written):
    """As `dbt seed` and read_csv_auto see them: detected types, values equal to the reference's."""
    conn = duckdb.connect()
    columns, rows = reference["fct_invoice"]
    relation = f"read_csv_auto('{written}/csv/fct_invoice.csv')"
    assert conn.execute(_typed_select(columns, relation)).fetchall() == rows


def test_jsonl_reads_back_the_duckdb_rows(reference, written):
    conn = duckdb.connect()
    for name, (columns, rows) in reference.items():
        relation = f"read_json_auto('{written}/jsonl/{name}.jsonl', format = 'newline_delimited')"
        assert conn.execute(_typed_select(columns, relation)).fetchall() == rows, name
    line = (written / "jsonl" / "dim_date.jsonl").read_text().splitlines()[0]
    assert json.loads(line)["period_start"] == "2023-01-01"


def _hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt, partition_by", [("parquet", "period"), ("parquet", "segment"), ("csv", None),
                                               ("jsonl", None)])
def test_same_bytes_whatever_the_chunk_size_and_workers(tmp_path, monkeypatch, fmt, partition_by):
    # small row groups and parts, so that chunk edges fall inside them and parts are numbered
    monkeypatch.setattr(hive, "ROW_GROUP_ROWS", 500)
    monkeypatch.setattr(hive, "PART_ROWS", 1500)
    runs = [dict(chunk_entities=1024), dict(chunk_entities=4096, workers=2), dict(chunk_entities=1024)]
    for index, options in enumerate(runs):
        dbt_plotsim.write_files(bigger(), tmp_path / str(index), fmt, partition_by=partition_by, **options)
    first = _hashes(tmp_path / "0")
    assert first == _hashes(tmp_path / "1") == _hashes(tmp_path / "2")
    if partition_by == "period":  # 2,500 entities per month: parts 0 and 1 of each month
        assert "fct_mrr/date_key=20240101/part-00001.parquet" in first
        assert "fct_mrr/date_key=20240101/part-00002.parquet" not in first


class FailingGeneration:
    """A generation that breaks after two entity chunks, like a crash (or Ctrl-C) halfway through."""

    def __init__(self, spec, error=RuntimeError):
        self.inner = dbt_plotsim.stream(spec, chunk_entities=1024)
        self.schemas, self.row_counts, self.plan = self.inner.schemas, self.inner.row_counts, self.inner.plan
        self.workers, self.since = 1, None
        self.error = error

    def chunks(self):
        for index, chunk in enumerate(self.inner.chunks()):
            if index == 2:
                raise self.error("simulated failure halfway")
            yield chunk


LAYOUTS = [("parquet", "period"), ("csv", None), ("jsonl", None)]


@pytest.mark.parametrize("fmt, partition_by", LAYOUTS)
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_leaves_no_output_and_no_temporary_directory(tmp_path, fmt, partition_by, error):
    with pytest.raises(error):
        write_layout(FailingGeneration(bigger(), error), tmp_path / "out", fmt, partition_by)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == [".out.lock"]  # no .out.tmp-* left


@pytest.fixture(params=["exchange", "two renames"])
def swap(request, monkeypatch):
    """Both ways of swapping a set in: one renameat2 exchange (Linux) and the two-rename fallback."""
    from dbt_plotsim.writers import file_set

    if request.param == "two renames":
        monkeypatch.setattr(file_set, "exchange", lambda a, b: False)
    return request.param


@pytest.mark.parametrize("fmt, partition_by", LAYOUTS)
def test_failure_keeps_the_previous_set(tmp_path, fmt, partition_by, swap):
    out = tmp_path / "out"
    dbt_plotsim.write_files(small_dict(), out, fmt, partition_by=partition_by)
    before = _hashes(out)
    with pytest.raises(RuntimeError):
        write_layout(FailingGeneration(bigger()), out, fmt, partition_by)
    assert _hashes(out) == before
    dbt_plotsim.write_files(bigger(), out, fmt, partition_by=partition_by)  # and a good run replaces it
    assert _hashes(out) != before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out"]


def test_the_exchange_swaps_two_directories_in_one_step(tmp_path):
    from dbt_plotsim.writers.file_set import exchange

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "from_a").touch()
    if not exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("this system cannot exchange directories (the two-rename path is tested)")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from_a"] and not any((tmp_path / "a").iterdir())


def test_a_set_left_aside_by_a_killed_writer_is_put_back(tmp_path):
    """A kill between the fallback's two renames leaves no output and the old set aside: the next writer
    restores it before anything else."""
    from dbt_plotsim.writers.file_set import FileSet

    out = tmp_path / "out"
    dbt_plotsim.write_csv(small_dict(), out)
    before = _hashes(out)
    (tmp_path / ".out.old-x1").mkdir()
    os.rename(out, tmp_path / ".out.old-x1" / "set")
    (tmp_path / ".out.tmp-x2").mkdir()  # the new set's staging, never renamed in
    with FileSet(out):
        pass
    assert _hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out"]


def test_refuses_a_directory_it_did_not_write(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(WriteError, match="did not write"):
        dbt_plotsim.write_csv(small_dict(), tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def _spec_file(tmp_path) -> str:
    path = tmp_path / "spec.yml"
    path.write_text(yaml.safe_dump(small_dict()))
    return str(path)


@pytest.mark.parametrize("args, message", [
    (["--format", "csv", "--partition-by", "period"], "--partition-by works with --format parquet only"),
    (["--partition-by", "nosuch"], "no table has a column 'nosuch'"),
    (["--partition-by", "segmnt"], "did you mean 'segment'?"),
    (["--partition-by", "mrr"], "fct_mrr.mrr is double"),
])
def test_cli_rejects_a_bad_partition_by(tmp_path, capsys, args, message):
    code = main(["generate", _spec_file(tmp_path), "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    if "nosuch" in args:
        assert "period" in err and "segment" in err and "date_key" in err  # the allowed values are named
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, first", [(["--format", "csv"], "dim_date.csv"), (["--format", "jsonl"], "dim_date.jsonl"),
                                         (["--partition-by", "period"], "fct_mrr/date_key=20240101/part-00000.parquet")])
def test_cli_writes_each_layout(tmp_path, capsys, args, first):
    assert main(["generate", _spec_file(tmp_path), "--out", str(tmp_path / "out"), *args]) == 0
    assert "wrote 9 tables" in capsys.readouterr().out
    assert (tmp_path / "out" / first).is_file()


@pytest.mark.parametrize("fmt, partition_by", LAYOUTS)
def test_verify_reads_each_layout_through_typed_views(tmp_path, fmt, partition_by):
    from dbt_plotsim.verify import verify_parquet

    out = tmp_path / "out"
    files = dbt_plotsim.write_files(small_dict(), out, fmt, partition_by=partition_by)
    found = verify_parquet(out)
    assert found.ok, found.failures
    victim = files["fct_mrr"][0]  # one row fewer, the file still readable: its hash no longer matches
    if victim.suffix == ".parquet":
        pq.write_table(pq.read_table(victim).slice(1), victim)
    else:
        victim.write_text("".join(victim.read_text().splitlines(keepends=True)[:-1]))
    failures = verify_parquet(out).failures
    assert any("fct_mrr" in line and "changed since generation" in line for line in failures), failures


def test_typed_views_give_the_duckdb_types(reference, written):
    from dbt_plotsim.writers.file_views import relation_sql

    conn = duckdb.connect()
    for layout in ("hive", "csv", "jsonl"):
        manifest = json.loads((written / layout / MANIFEST).read_text())
        for name, (columns, rows) in reference.items():
            relation = relation_sql(written / layout, manifest, name)
            assert [tuple(c[:2]) for c in conn.execute(f"describe {relation}").fetchall()] == columns, (layout, name)
            assert conn.execute(f"select * from ({relation}) order by all").fetchall() == rows, (layout, name)


def _request(block, project_dir, force=False):
    return json.dumps({"source": "saas", "schema": "raw", "block": block, "project_dir": str(project_dir),
                       "force": force})


@pytest.mark.parametrize("output", [{"output": "csv"}, {"output": "jsonl"},
                                    {"output": "parquet", "partition_by": "period"}])
def test_dbt_source_writes_files_with_typed_views_and_skips_when_unchanged(tmp_path, output):
    from dbt_plotsim.plugin import handle

    block = {**small_dict(), **output, "path": "files"}
    conn = duckdb.connect()
    for seed, status in ((3, "generated"), (3, "skipped"), (11, "generated")):
        outcome = json.loads(handle(_request({**block, "seed": seed}, tmp_path), conn))
        assert outcome["status"] == status, outcome
        assert json.loads((tmp_path / "files" / MANIFEST).read_text())["seed"] == seed
        assert conn.execute("select seed from raw._plotsim_state").fetchone()[0] == seed
    assert conn.execute("select count(*), count(distinct date_key) from raw.fct_mrr").fetchone() == (1200, 12)
    kinds = dict(conn.execute("select table_name, table_type from information_schema.tables "
                              "where table_schema = 'raw'").fetchall())
    assert kinds["fct_mrr"] == "VIEW" and kinds["_plotsim_state"] == "BASE TABLE"
    expected = duckdb.connect()
    dbt_plotsim.write_duckdb({**small_dict(), "seed": 11}, expected, "raw")
    for table in ("dim_account", "fct_mrr", "dim_date"):
        query = f"select * from raw.{table} order by all"
        assert conn.execute(query).fetchall() == expected.execute(query).fetchall(), table
        assert conn.execute(f"describe raw.{table}").fetchall() == expected.execute(f"describe raw.{table}").fetchall()


def test_a_failed_dbt_run_puts_the_previous_files_back(tmp_path, monkeypatch, swap):
    from dbt_plotsim import materialize
    from dbt_plotsim.plugin import handle

    block = {**small_dict(), "output": "csv", "path": "files"}
    conn = duckdb.connect()
    handle(_request(block, tmp_path), conn)
    before = _hashes(tmp_path / "files")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(materialize, "_record_relations", broken)  # fails inside the views' transaction
    outcome = json.loads(handle(_request({**block, "seed": 12}, tmp_path), conn))
    assert outcome["status"] == "bug"
    assert _hashes(tmp_path / "files") == before
    assert conn.execute("select seed from raw._plotsim_state").fetchone()[0] == 3
    assert conn.execute("select count(*) from raw.fct_mrr").fetchone()[0] == 1200  # the views read the old files
    assert sorted(p.name for p in tmp_path.iterdir()) == [".files.lock", "files"]


@pytest.mark.parametrize("extra, message", [
    ({"output": "csv", "path": "f", "partition_by": "period"}, "partition_by works with output parquet only"),
    ({"output": "jsonl"}, "output jsonl needs `path`"),
    ({"output": "parquet", "path": "f", "partition_by": 3}, "must be `period` or a column name"),
])
def test_dbt_source_block_errors(tmp_path, extra, message):
    from dbt_plotsim.plugin import handle

    outcome = json.loads(handle(_request({**small_dict(), **extra}, tmp_path), duckdb.connect()))
    assert outcome["status"] == "error" and any(message in p for p in outcome["problems"]), outcome


def _complete_set(out: Path) -> int | None:
    """The seed of a complete set at `out` (every listed file there with its recorded hash), else None."""
    manifest = json.loads((out / MANIFEST).read_text())
    for name, digest in manifest["sha256"].items():
        if hashlib.sha256((out / name).read_bytes()).hexdigest() != digest:
            return None
    return manifest["seed"]


@pytest.mark.parametrize("args, signum", [(["--format", "csv"], "SIGINT"), (["--partition-by", "period"], "SIGTERM")])
def test_a_signalled_cli_run_leaves_the_old_or_the_new_set(tmp_path, args, signum):
    import signal
    import subprocess
    import sys
    import time

    def command(seed: int) -> list[str]:
        spec = tmp_path / f"spec_{seed}.yml"
        spec.write_text(yaml.safe_dump({**small_dict(), "seed": seed}))
        return [sys.executable, "-m", "dbt_plotsim.cli", "generate", str(spec), "--out", str(tmp_path / "out"),
                "--scale", "150", *args]

    # seed 2 first, so its plan is cached and the signalled run reaches its writing within the delay
    assert [subprocess.run(command(seed), capture_output=True).returncode for seed in (2, 1)] == [0, 0]
    process = subprocess.Popen(command(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ))
    time.sleep(2.5)  # about when it writes on this machine (whenever it lands, the set must be whole)
    process.send_signal(getattr(signal, signum))
    process.communicate(timeout=120)
    assert _complete_set(tmp_path / "out") in (1, 2)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".out.lock"]


def test_csv_set_carries_dbt_seed_column_types(reference, written):
    """`dbt seed` would guess DOUBLE for decimals and INTEGER for every integer; the properties file beside
    the CSV files gives it the DuckDB output's types (checked with a real `dbt seed` of the saas template)."""
    from dbt_plotsim.writers.text import SEED_PROPERTIES

    seeds = yaml.safe_load((written / "csv" / SEED_PROPERTIES).read_text())["seeds"]
    assert {s["name"]: list(s["config"]["column_types"].items()) for s in seeds} == \
        {name: columns for name, (columns, _) in reference.items()}
    assert not (written / "jsonl" / SEED_PROPERTIES).exists()


class TinyGeneration:
    """Two tables, one of them empty (a spec whose event never fires), in one chunk with an empty slice."""

    schemas = {"evt_never": pa.schema([("never_id", pa.int64()), ("date_key", pa.int32())]),
               "fct_x": pa.schema([("date_key", pa.int32()), ("x", pa.float64())])}
    plan, workers, since = None, 1, None

    def row_counts(self):
        return {"evt_never": 0, "fct_x": 3}

    def chunks(self):
        yield {"evt_never": self.schemas["evt_never"].empty_table(),
               "fct_x": pa.table({"date_key": pa.array([20240101, 20240201, 20240101], pa.int32()),
                                  "x": [0.5, None, 1e-300]})}


@pytest.mark.parametrize("fmt, partition_by", LAYOUTS)
def test_an_empty_table_reads_back_empty_with_its_types(tmp_path, fmt, partition_by):
    from dbt_plotsim.writers.file_views import relation_sql

    out = tmp_path / "out"
    write_layout(TinyGeneration(), out, fmt, partition_by)
    manifest = json.loads((out / MANIFEST).read_text())
    conn = duckdb.connect()
    empty = relation_sql(out, manifest, "evt_never")
    assert conn.execute(empty).fetchall() == []
    assert [r[:2] for r in conn.execute(f"describe {empty}").fetchall()] == [("never_id", "BIGINT"),
                                                                             ("date_key", "INTEGER")]
    assert conn.execute(f"select * from ({relation_sql(out, manifest, 'fct_x')}) order by all").fetchall() == \
        [(20240101, 1e-300), (20240101, 0.5), (20240201, None)]


def test_write_files_without_partitions_is_the_parquet_set(tmp_path):
    files = dbt_plotsim.write_files(small_dict(), tmp_path / "out", "parquet")
    assert files["fct_mrr"] == [tmp_path / "out" / "fct_mrr.parquet"] and (tmp_path / "out").is_symlink()
    with pytest.raises(WriteError, match="unknown file format 'xlsx'"):
        dbt_plotsim.write_files(small_dict(), tmp_path / "other", "xlsx")
