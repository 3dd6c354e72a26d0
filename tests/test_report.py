"""The fidelity report: its figures (JSON) from DuckDB and Parquet output, its page in headless Chromium, a
warn when the data misses a declared r, the CLI's errors and the plugin's SQL function."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import duckdb
import pytest

from dbt_plotsim.cli import main
from dbt_plotsim.report import collect_report, write_report

from .conftest import small_dict

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
PERIODS = 18
R_TOLERANCE = 0.05  # the report's pass band for correlations
KS_BOUND = 0.05  # the report's warn threshold; a few thousand values of the declared family stay below it


def spec() -> dict:
    """The small accounts (conftest.small_dict) over 18 months, larger: one segment arriving, one churning,
    a terminal event."""
    out = small_dict()
    out.update(about="report test accounts", seed=11, noise=None)
    out["window"]["end"] = "2025-06-30"
    out["metrics"][1]["range"] = [50, 20000]
    out["metrics"][2]["mean"] = 3
    out["segments"] = [
        {"name": "growers", "count": 200, "archetype": "growth", "arrivals": {"pattern": "uniform", "until": 0.5}},
        {"name": "churners", "count": 150, "archetype": "churn"},
    ]
    out["correlations"][0]["r"] = 0.6
    out["lags"] = [{"metric": "mrr", "follows": "engagement", "periods": 2}]
    out["events"] = [{"name": "churn", "when": {"metric": "engagement", "below": 0.2, "for": 2}, "terminal": True}]
    return {key: value for key, value in out.items() if value is not None}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    import yaml

    root = tmp_path_factory.mktemp("report")
    path = root / "accounts.yml"
    path.write_text(yaml.safe_dump(spec()))
    assert main(["generate", str(path), "--out", str(root / "accounts.duckdb")]) == 0
    assert main(["generate", str(path), "--out", str(root / "pq")]) == 0
    duck = write_report(root / "duck" / "report.html", duckdb=root / "accounts.duckdb")
    parquet = write_report(root / "pq_report.html", parquet=root / "pq")
    return {"root": root, "duckdb": root / "accounts.duckdb", "duck": duck, "parquet": parquet,
            "figures": json.loads(duck.json.read_text()), "parquet_figures": json.loads(parquet.json.read_text())}


def test_header_and_summary_count_the_marks(outputs):
    figures = outputs["figures"]
    head = figures["header"]
    assert head["source"] == "accounts" and head["seed"] == 11 and head["entities"] == 350
    assert head["window"].startswith("2024-01-01..2025-06-30")
    sections = figures["sections"]
    marks = [c["status"] for c in sections["correlations"] + sections["lags"] + sections["marginals"]]
    marks += [s["status"] for s in (sections["arrivals"], sections["integrity"]) if s]
    assert figures["summary"] == {"pass": marks.count("pass"), "warn": marks.count("warn")}
    assert outputs["duck"].summary == f"{marks.count('pass')} pass, {marks.count('warn')} warn"


def test_correlations_and_lags_declared_against_delivered(outputs):
    sections = outputs["figures"]["sections"]
    (pair,) = sections["correlations"]
    assert (pair["metric"], pair["other"], pair["scope"], pair["declared"]) == ("engagement", "mrr", "pooled", 0.6)
    assert abs(pair["delivered"] - 0.6) <= R_TOLERANCE and pair["status"] == "pass"
    assert pair["measured_by"] == "the output rows" and pair["n"] > 4000
    (lag,) = sections["lags"]
    assert (lag["metric"], lag["follows"], lag["declared"]) == ("mrr", "engagement", 2)
    assert [p["lag"] for p in lag["curve"]] == list(range(13))
    assert lag["peak"] == 2 and lag["status"] == "pass"
    assert max(lag["curve"], key=lambda p: abs(p["r"]))["lag"] == 2


def test_marginals_hold_to_the_declared_families(outputs):
    marginals = {m["metric"]: m for m in outputs["figures"]["sections"]["marginals"]}
    assert set(marginals) == {"engagement", "mrr", "tickets"}
    assert (marginals["engagement"]["family"], marginals["mrr"]["family"],
            marginals["tickets"]["family"]) == ("beta", "lognormal", "negative_binomial")
    for m in marginals.values():
        assert m["ks"] < KS_BOUND and m["status"] == "pass", m["ks"]
        widths = [b - a for a, b in zip(m["histogram"]["edges"], m["histogram"]["edges"][1:])]
        assert abs(sum(d * w for d, w in zip(m["histogram"]["density"], widths)) - 1) < 0.01  # a density
    assert marginals["tickets"]["params"]["mean"] == 3


def test_trajectories_rows_and_integrity(outputs):
    sections = outputs["figures"]["sections"]
    segments = sections["trajectories"]["segments"]
    assert set(segments) == {"growers", "churners"}
    for line in segments.values():
        assert len(line["median"]) <= PERIODS
        assert all(lo <= mid <= hi for lo, mid, hi in zip(line["p10"], line["median"], line["p90"]))
    growers = segments["growers"]["median"]
    assert growers[-1] > growers[0]  # growth
    with duckdb.connect(str(outputs["duckdb"]), read_only=True) as conn:
        assert sections["row_counts"]["fct_mrr"] == conn.execute("select count(*) from fct_mrr").fetchone()[0]
    assert sections["integrity"]["checked"]
    arrivals = sections["arrivals"]
    assert arrivals["status"] == "pass" and sum(arrivals["ending"]) > 0
    assert len(arrivals["active"]) == PERIODS and sum(arrivals["arriving"]) == 350
    seasonality = sections["seasonality"]["metrics"]
    assert set(seasonality) == {"engagement", "mrr", "tickets"}
    assert all(abs(sum(line["normalised"]) / len(line["normalised"]) - 1) < 1e-9 for line in seasonality.values())


def test_parquet_gives_the_same_figures(outputs):
    duck, parquet = outputs["figures"]["sections"], outputs["parquet_figures"]["sections"]
    for name in ("correlations", "lags", "marginals", "trajectories", "arrivals", "seasonality"):
        assert json.dumps(duck[name], sort_keys=True) == json.dumps(parquet[name], sort_keys=True), name
    tables = {t: n for t, n in duck["row_counts"].items() if not t.startswith("_plotsim")}
    assert {t: parquet["row_counts"][t] for t in tables} == tables
    assert "_plotsim_relations" not in parquet["row_counts"]  # only the set's own tables


def test_a_missed_declared_r_is_a_warn(outputs, tmp_path):
    copy = tmp_path / "edited.duckdb"
    shutil.copy(outputs["duckdb"], copy)
    with duckdb.connect(str(copy)) as conn:
        tables = {r[0] for r in conn.execute("select table_name from information_schema.tables").fetchall()}
        table = "_plotsim_truth_relations" if "_plotsim_truth_relations" in tables else "_plotsim_relations"
        conn.execute(f"update {table} set declared = 0.9 where kind = 'correlation'")
    figures = collect_report(duckdb=copy)
    (pair,) = figures["sections"]["correlations"]
    assert pair["declared"] == 0.9 and pair["status"] == "warn"
    assert figures["summary"]["warn"] >= outputs["figures"]["summary"]["warn"] + 1


def test_older_output_without_spec_is_said_not_failed(outputs, tmp_path):
    copy = tmp_path / "older.duckdb"
    shutil.copy(outputs["duckdb"], copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute("drop table if exists _plotsim_spec")
        conn.execute("drop table trajectory")
    figures = collect_report(duckdb=copy)
    assert figures["sections"]["marginals"] == []
    assert any("No spec is recorded" in note for note in figures["notes"])
    trajectories = figures["sections"]["trajectories"]  # without a trajectory table: of the first metric
    assert (trajectories["table"], trajectories["column"]) == ("fct_engagement", "engagement")
    assert set(trajectories["segments"]) == {"growers", "churners"}
    assert "Fidelity report: accounts" in write_report(tmp_path / "older.html", duckdb=copy).html.read_text()


def test_user_mistakes_are_one_line_exit_2(outputs, tmp_path, capsys):
    assert main(["report", "--duckdb", str(tmp_path / "missing.duckdb")]) == 2
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert main(["report", "--duckdb", str(empty), "--out", str(tmp_path / "r.html")]) == 2
    assert main(["report", "--parquet", str(tmp_path)]) == 2
    assert main(["report", "--duckdb", str(outputs["duckdb"]), "--out", str(tmp_path / "r.pdf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err), err
    assert "no DuckDB file" in err[0] and "no synthetic source" in err[1] and "not a Parquet set" in err[2]
    assert "an HTML page" in err[3] and not (tmp_path / "r.json").exists()


def test_cli_prints_paths_and_summary(outputs, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert main(["report", "--duckdb", str(outputs["duckdb"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and str(out.with_suffix(".json")) in printed
    assert re.search(r"\d+ pass, \d+ warn", printed)


def test_plugin_function_writes_the_report(outputs, tmp_path):
    """The SQL function dbt's connection gets, on that connection (a copy of the generated file here)."""
    from dbt_plotsim.plugin import REPORT_FUNCTION, Plugin

    copy = tmp_path / "dbt.duckdb"
    shutil.copy(outputs["duckdb"], copy)
    conn = duckdb.connect(str(copy))
    try:
        Plugin("plotsim", None, {}).configure_connection(conn)
        request = {"source": "accounts", "schema": "main", "block": spec(), "project_dir": str(tmp_path),
                   "out": "out/r.html"}
        answer = json.loads(conn.execute(f"select {REPORT_FUNCTION}(?)", [json.dumps(request)]).fetchone()[0])
        assert answer["status"] == "written", answer
        assert (tmp_path / "out" / "r.html").is_file() and (tmp_path / "out" / "r.json").is_file()
        assert (answer["pass"], answer["warn"]) == (outputs["duck"].passed, outputs["duck"].warned)
        wrong = json.loads(conn.execute(f"select {REPORT_FUNCTION}(?)",
                                        [json.dumps({**request, "schema": "nowhere"})]).fetchone()[0])
        assert wrong["status"] == "error" and "no synthetic source" in wrong["problems"][0]
    finally:
        conn.close()


def _chromium(page, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=90)


def test_page_renders_in_headless_chromium(outputs, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    page = outputs["duck"].html
    shot = tmp_path / "page.png"
    _chromium(page, tmp_path, "--window-size=1200,2000", f"--screenshot={shot}")
    assert shot.is_file() and shot.stat().st_size > 10_000
    try:
        from PIL import Image, ImageStat
    except ImportError:
        pass
    else:
        spread = ImageStat.Stat(Image.open(shot).convert("L")).stddev[0]
        assert spread > 5, spread  # not a blank page
    dom = _chromium(page, tmp_path, "--dump-dom").stdout
    svgs = re.findall(r"<svg\b.*?</svg>", dom, re.S)
    assert len(svgs) >= 5, len(svgs)
    assert all(re.search(r"<path\b[^>]*\bd=\"M", svg) for svg in svgs)
    assert "Fidelity report: accounts" in dom
    assert not re.search(r"""(?:src|href)=["']https?:""", page.read_text())  # nothing fetched


def test_truth_tables_as_the_contract_gives_them(outputs, tmp_path):
    """Lags, arrivals and seasonality from hand-made truth tables of the documented layout."""
    copy = tmp_path / "truth.duckdb"
    shutil.copy(outputs["duckdb"], copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute("""create or replace table _plotsim_truth as
            select first_date_key as date_key, null::varchar as segment, 'dim_account' as table_name,
                   null::varchar as column_name, null::varchar as category, 'arriving_entities' as measure,
                   count(*)::double as value from dim_account group by 1
            union all select ended_date_key, null, 'dim_account', null, null, 'ending_entities', count(*)
                   from dim_account where ended_date_key is not null group by 1
            union all select d.date_key, null, 'dim_account', null, null, 'active_entities', count(*)
                   from dim_date d join dim_account a on a.first_date_key <= d.date_key
                   and (a.ended_date_key is null or a.ended_date_key >= d.date_key) group by 1
            union all select date_key, null, 'fct_mrr', 'mrr', null, 'mean', avg(mrr) from fct_mrr group by 1""")
        conn.execute("""create or replace table _plotsim_truth_relations as
            select * from (values ('lag', 'mrr', 'engagement', 'pooled', 2.0, 2.0, 0.31, 5000::bigint),
                                  ('lag', 'tickets', 'mrr', 'pooled', 3.0, 1.0, 0.05, 5000::bigint),
                                  ('correlation', 'engagement', 'mrr', 'pooled', 0.6, 0.58, null, 6000::bigint))
            t(kind, metric, other, scope, declared, delivered, strength, n)""")
        conn.execute("""create or replace table _plotsim_truth_lags as
            select 'mrr' as metric, 'engagement' as follows, lag::int as lag,
                   0.31 - 0.05 * abs(lag - 2) as r, 5000::bigint as n from range(13) t(lag)
            union all select 'tickets', 'mrr', lag::int, 0.2 - 0.04 * abs(lag - 1), 5000 from range(13) t(lag)""")
    sections = collect_report(duckdb=copy)["sections"]
    lags = {lag["metric"]: lag for lag in sections["lags"]}
    assert (lags["mrr"]["peak"], lags["mrr"]["status"], len(lags["mrr"]["curve"])) == (2, "pass", 13)
    assert (lags["tickets"]["declared"], lags["tickets"]["peak"], lags["tickets"]["status"]) == (3, 1, "warn")
    (pair,) = sections["correlations"]
    assert pair["n"] == 6000 and pair["measured_by"] == "the output rows" and pair["status"] == "pass"
    arrivals = sections["arrivals"]
    assert arrivals["status"] == "pass" and len(arrivals["active"]) == PERIODS
    with duckdb.connect(str(copy), read_only=True) as conn:
        entities, ended = conn.execute("select count(*), count(ended_date_key) from dim_account").fetchone()
    assert sum(arrivals["arriving"]) == entities and sum(arrivals["ending"]) == ended > 0
    line = sections["seasonality"]["metrics"]["mrr"]
    assert len(line["normalised"]) == PERIODS and abs(sum(line["normalised"]) / PERIODS - 1) < 1e-9
    page = write_report(tmp_path / "truth.html", duckdb=copy).html.read_text()
    assert page.count("<svg") >= 5 + 2  # the two lag curves, arrivals and seasonality drawn too


def test_ks_statistic_matches_scipy_and_sees_the_seasonal_mixture():
    import numpy as np
    from scipy import stats

    from dbt_plotsim.engine.marginals import resolve
    from dbt_plotsim.report.marginals import Component, ks_statistic
    from dbt_plotsim.spec.metrics import Metric

    base = resolve(Metric(name="spend", type="measure", distribution="lognormal", range=[10, 5000]))
    rng = np.random.default_rng(5)
    values = base.values(rng.random(4000))
    lo, hi = base.u_bounds
    expected = stats.kstest(values, lambda x: (base.dist.cdf(x) - lo) / (hi - lo)).statistic
    assert abs(ks_statistic(values, [Component(base, 1.0)], False) - expected) < 1e-12
    # half the rows in months scaled by 1.5: held to the mixture they pass, to the plain family they do not
    seasonal = np.concatenate([base.values(rng.random(4000)), base.scaled(1.5).values(rng.random(4000))])
    mixture = [Component(base, 0.5), Component(base.scaled(1.5), 0.5)]
    assert ks_statistic(seasonal, mixture, False) < 0.03 < 0.1 < ks_statistic(seasonal, [Component(base, 1.0)], False)
    counts = resolve(Metric(name="tickets", type="count", mean=3))
    drawn = counts.values(rng.random(4000))
    assert ks_statistic(drawn, [Component(counts, 1.0)], True) < 0.03
    assert ks_statistic(drawn + 1, [Component(counts, 1.0)], True) > 0.1  # shifted by one: caught


def test_ks_statistic_reads_the_declared_totals_factors():
    """A declared total scales (shifts) each period's values, clipped to the range: the mixture of the family
    through those factors fits them, the plain family does not."""
    import numpy as np

    from dbt_plotsim.engine.marginals import resolve
    from dbt_plotsim.report.marginals import Component, ks_statistic
    from dbt_plotsim.spec.metrics import Metric

    rng = np.random.default_rng(8)
    base = resolve(Metric(name="fee", type="measure", distribution="lognormal", range=[1, 60], mean=20))
    factors = (0.4, 2.5)  # the second pushes the upper tail onto 60
    scaled = np.concatenate([np.clip(f * base.values(rng.random(5000)), 1, 60) for f in factors])
    assert (scaled == 60).mean() > 0.01
    mixture = [Component(base, 0.5, f) for f in factors]
    assert ks_statistic(scaled, mixture, False) < 0.03 < 0.1 < ks_statistic(scaled, [Component(base, 1.0)], False)
    level = resolve(Metric(name="margin", type="measure", distribution="normal", mean=12, params={"sd": 6}))
    shifted = np.concatenate([level.values(rng.random(5000)) + d for d in (-4.0, 7.0)])
    mixture = [Component(level, 0.5, d, shift=True) for d in (-4.0, 7.0)]
    assert ks_statistic(shifted, mixture, False) < 0.03 < 0.1 < ks_statistic(shifted, [Component(level, 1.0)], False)
