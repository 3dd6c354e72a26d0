"""The Spark engine (dbt_plotsim/spark): in local mode (local[2]) it writes every table with the rows and values
of the local engine's Parquet output, in the same order; it refuses the specs it cannot split, by name."""
from __future__ import annotations

import copy
import importlib.util
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import dbt_plotsim
from dbt_plotsim.cli import main
from dbt_plotsim.engine.defects import KEY_TABLE
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim.spark.replay import CLEAN
from dbt_plotsim.spark.runner import MARKER, SparkEngineError, generate_spark
from dbt_plotsim.spark.units import Run, offsets_of, refused, runs_of
from dbt_plotsim.templates import text

from .conftest import small_dict
from .test_defects import DEFECTS
from .test_loads import LOADS
from .test_totals import _stores

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
needs_spark = pytest.mark.skipif(not HAVE_SPARK, reason="needs pyspark (pip install '.[spark]') and Java 17+ on PATH")


def _no_truth(data: dict) -> dict:
    data = copy.deepcopy(data)
    data.setdefault("tables", {})["truth"] = False
    return data


def _saas() -> dict:
    """The saas template (sub-entities, transactions, history, stages, systems, truth tables) with loads,
    feeds, defects (the truth tables see the rows before them)."""
    data = yaml.safe_load(text("saas"))
    data["history"][0]["current_table"] = True
    data["loads"], data["defects"] = copy.deepcopy(LOADS), copy.deepcopy(DEFECTS)
    return data


def _stores_spread() -> dict:
    """Metric totals, a terminal event and arrivals; a segment of three blocks."""
    data = _no_truth(_stores())
    data["segments"][0]["count"] = 2500
    return data


def _stores_derived() -> dict:
    """_stores_spread with every derived set: truth tables, an experiment, features (one run per block, so
    the derived sets see other chunks than locally)."""
    data = _stores_spread()
    data["tables"]["truth"] = True
    data["experiments"] = [{"name": "promo", "metric": "revenue", "lift": 0.1, "start": "2023-09-01"}]
    data["holdout"] = {"last": 4}
    data["features"] = {"label": {"event": "closed", "within": 3}}
    return data


TRUTH = ["_plotsim_truth", "_plotsim_truth_relations", "_plotsim_truth_lags"]
DERIVED = {"saas": TRUTH, "totals": [],
           "derived": TRUTH + ["dim_store_experiment", "_plotsim_truth_experiments", "features_store"]}
CASES = {
    "saas": lambda: dbt_plotsim.load_spec(_saas(), scale=0.15, as_of="2024-06-15"),
    "totals": lambda: dbt_plotsim.load_spec(_stores_spread()),
    "derived": lambda: dbt_plotsim.load_spec(_stores_derived()),
}


@pytest.fixture(scope="module")
def spark():
    if not HAVE_SPARK:
        pytest.skip("needs pyspark (pip install '.[spark]') and Java 17+ on PATH")
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("dbt-plotsim-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _spark_tables(out: Path) -> dict[str, pa.Table]:
    manifest = json.loads((out / MARKER).read_text())
    return {name: pa.concat_tables([pq.read_table(out / f) for f in files])
            for name, files in manifest["files"].items()}


def _sorted(table: pa.Table) -> list[str]:
    return sorted(map(repr, table.to_pylist()))


def _local_tables(spec, out: Path) -> dict[str, pa.Table]:
    return {name: pq.read_table(path) for name, path in dbt_plotsim.write_parquet(spec, out).items()}


@needs_spark
@pytest.mark.spark
@pytest.mark.parametrize("case", sorted(CASES))
def test_spark_writes_the_local_rows(spark, tmp_path, case):
    spec = CASES[case]()
    manifest = generate_spark(spec, tmp_path / "spark", session=spark)
    assert manifest["engine"] == "spark"
    got, want = _spark_tables(tmp_path / "spark"), _local_tables(spec, tmp_path / "local")
    assert list(got) == list(want)
    for name, table in want.items():
        assert got[name].schema.equals(table.schema, check_metadata=True), name
        assert got[name].num_rows == table.num_rows == manifest["rows"][name], name
        if name == KEY_TABLE:  # as locally: the same answer key whatever the chunking, its order the chunks'
            assert _sorted(got[name]) == _sorted(table)
        else:
            assert got[name].equals(table), f"{name}: rows or values differ from the local engine's"  # in order
    assert sum(t.num_rows for t in want.values()) > 0
    derived = [name for d in start(spec).derived for name in d.schemas()]
    assert derived == DERIVED[case] and all(want[name].num_rows for name in derived), "derived tables not covered"
    assert not (tmp_path / "spark" / CLEAN).exists(), "the clean copies of defected tables were left in the output"


@needs_spark
@pytest.mark.spark
def test_cli_spark_replaces_its_own_output_and_keeps_others(spark, tmp_path, capsys):
    spec_file = tmp_path / "small.yml"
    spec_file.write_text(yaml.safe_dump(small_dict()))  # truth tables on, as by default
    out = tmp_path / "out"
    args = ["generate", str(spec_file), "--out", str(out), "--engine", "spark", "--spark-master", "local[2]"]
    assert main(args) == 0
    assert main(args + ["--scale", "2"]) == 0  # its own output: replaced as a whole
    printed = capsys.readouterr().out
    assert "with Spark (local[2])" in printed and "derived tables on the driver" in printed
    want = _local_tables(dbt_plotsim.load_spec(small_dict(), scale=2), tmp_path / "local")
    got = _spark_tables(out)
    assert {n: t.num_rows for n, t in got.items()} == {n: t.num_rows for n, t in want.items()}
    assert not [p for p in tmp_path.iterdir() if "spark-" in p.name], "staging or old output left behind"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["generate", str(spec_file), "--out", str(foreign), "--engine", "spark"]) == 2
    assert "not written by the Spark engine" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "mine"


class _Unreplayed:
    """A derived set the Spark engine does not know to be replayable run by run."""

    def __init__(self, plan, loaded):
        pass

    def schemas(self):
        return {"_whole_population": pa.schema([("n", pa.int64())])}

    def row_estimate(self):
        return {"_whole_population": 1}

    def observe(self, chunk):
        return {}

    def finish(self):
        return {}


def test_spark_refuses_derived_tables_it_cannot_replay_by_name(tmp_path, monkeypatch):
    import sys

    from dbt_plotsim.engine import derived

    assert refused(start(dbt_plotsim.load_spec(_stores_derived()))) == []  # truth, experiments, features: replayed
    module = type(sys)("_plotsim_unreplayed")
    module.made = lambda plan, loaded: _Unreplayed(plan, loaded)
    monkeypatch.setitem(sys.modules, "_plotsim_unreplayed", module)
    monkeypatch.setattr(derived, "FACTORIES", derived.FACTORIES + (("_plotsim_unreplayed", "made"),))
    with pytest.raises(SparkEngineError, match=r"derived tables \(_whole_population\).*not known to be replayable"):
        generate_spark(dbt_plotsim.load_spec(small_dict()), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_spark_writes_parquet_only(tmp_path, capsys):
    spec_file = tmp_path / "small.yml"
    spec_file.write_text(yaml.safe_dump(small_dict()))
    assert main(["generate", str(spec_file), "--out", str(tmp_path / "x.duckdb"), "--engine", "spark"]) == 2
    assert "--engine spark writes Parquet only" in capsys.readouterr().err
    assert not (tmp_path / "x.duckdb").exists()


def test_runs_cover_the_units_in_order_and_ids_continue():
    generation = start(dbt_plotsim.load_spec(_stores_spread()))
    runs = runs_of(generation, tasks=3)
    units = [u for run in runs for u in run]
    assert len(units) == len(generation._units()) == 4 and len(runs) >= 2
    assert [(generation.plan.segments[s].name, b) for s, b in units] == [(s.name, b) for s, b in generation._units()]
    assert offsets_of([{"a": 2}, {"a": 3, "b": 1}, {}]) == [{}, {"a": 2}, {"a": 5, "b": 1}]
    counts = [Run(generation.plan, generation.chunk_blocks, units=run).counted() for run in runs]
    whole = Run(generation.plan, generation.chunk_blocks, units=tuple(units)).counted()
    assert {name: sum(c.get(name, 0) for c in counts) for name in whole} == whole and whole["evt_closed"] > 0


def test_spark_connect_is_refused_before_anything_is_written(tmp_path):
    spec = dbt_plotsim.load_spec(small_dict())
    with pytest.raises(SparkEngineError, match="not Spark Connect"):
        generate_spark(spec, tmp_path / "out", master="sc://localhost:15002")
    assert list(tmp_path.iterdir()) == []


class _FailingContext:
    """A SparkContext whose jobs fail (a task that died): the driver must leave the previous output alone."""

    defaultParallelism = 2

    def broadcast(self, value):
        return type("Broadcast", (), {"value": value, "unpersist": lambda self: None})()

    def parallelize(self, items, slices):
        raise RuntimeError("a task failed")


def test_a_failed_job_leaves_the_previous_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text("{}")  # an earlier Spark output
    (out / "dim_date").mkdir()
    (out / "dim_date" / "part-000000.parquet").write_bytes(b"earlier")
    session = type("Session", (), {"sparkContext": _FailingContext()})()
    with pytest.raises(RuntimeError, match="a task failed"):
        generate_spark(dbt_plotsim.load_spec(small_dict()), out, session=session)
    assert (out / "dim_date" / "part-000000.parquet").read_bytes() == b"earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "staging left behind"


class _InProcessContext:
    """A SparkContext running its jobs here, one item after another: the runner's whole path without a JVM
    (so a test may change the engine's settings, which Spark's Python workers would not see)."""

    defaultParallelism, master = 2, "in-process"

    def broadcast(self, value):
        return type("Broadcast", (), {"value": value, "unpersist": lambda self: None})()

    def parallelize(self, items, slices):
        items = list(items)
        job = type("Job", (), {})()
        job.map = lambda f: type("Mapped", (), {"collect": lambda self: [f(item) for item in items]})()
        return job


def test_truth_tables_of_blocks_made_in_parts_are_the_local_ones(tmp_path, monkeypatch):
    """Blocks split into parts (engine/parts.py) give a run several chunks; its tables, replayed as one chunk,
    give the local truth tables, features and experiment tables (here a local chunk holds two runs)."""
    from dbt_plotsim.engine import parts

    from .test_parts import SMALL, SPEC as PARTED

    monkeypatch.setattr(parts, "PART_BUDGET", SMALL)
    data = {**copy.deepcopy(PARTED), "holdout": {"last": 2},
            "experiments": [{"name": "trial", "metric": "engagement", "lift": 0.1, "start": "2024-03-01"}]}
    data["segments"] = [{**segment, "count": 1100} for segment in data["segments"]]  # two blocks each
    spec = dbt_plotsim.load_spec(data)
    session = type("Session", (), {"sparkContext": _InProcessContext()})()
    generation = start(spec)
    assert parts.spans(generation.plan, generation.drawn, _first_block(generation)) is not None, "no parts"
    assert len(runs_of(generation, 2 * 4)) > 1 and generation.chunk_blocks > 1
    generate_spark(spec, tmp_path / "spark", session=session)
    got, want = _spark_tables(tmp_path / "spark"), _local_tables(spec, tmp_path / "local")
    assert list(got) == list(want)
    for name in [name for d in generation.derived for name in d.schemas()]:
        assert want[name].num_rows and got[name].equals(want[name]), name
    assert all(got[name].equals(table) for name, table in want.items())


def _first_block(generation):
    from dbt_plotsim.engine.block import block_base

    return block_base(generation.plan, generation.plan.segments[0], 0)

