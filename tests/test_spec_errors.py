"""Every class of spec mistake is reported as a SpecError naming its YAML path, with a helpful message."""
from __future__ import annotations

import copy

import pytest

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.errors import Problem

from .conftest import tiny_dict

BASE: dict = tiny_dict()


@pytest.fixture
def base_spec() -> dict:
    return copy.deepcopy(BASE)


def variant(*edits, **top) -> dict:
    """A deep copy of BASE with each edit (a function mutating the dict) applied, then top-level keys set."""
    data = copy.deepcopy(BASE)
    for edit in edits:
        edit(data)
    data.update(top)
    return data


def metric(name: str, **changes):
    def edit(data):
        next(m for m in data["metrics"] if m["name"] == name).update(changes)
    return edit


def segment(name: str, **changes):
    def edit(data):
        next(s for s in data["segments"] if s["name"] == name).update(changes)
    return edit


def window(**changes):
    return lambda data: data["window"].update(changes)


def append(section: str, *items):
    return lambda data: data.setdefault(section, []).extend(copy.deepcopy(items))


def custom_archetype(name: str, pieces: list, used_by: str | None = "growers"):
    def edit(data):
        data.setdefault("archetypes", {})[name] = pieces
        if used_by:
            next(s for s in data["segments"] if s["name"] == used_by)["archetype"] = name
    return edit


def problems_of(source) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec(source)
    assert caught.value.problems, "a SpecError always carries at least one problem"
    return caught.value.problems


def find(problems: list[Problem], path: str) -> Problem:
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path!r}; got:\n" + "\n".join(p.render() for p in problems)
    return matching[0]


def corr(a: str, b: str, r: float) -> dict:
    return {"between": [a, b], "r": r}


def lag(metric_name: str, follows: str, periods: int = 1) -> dict:
    return {"metric": metric_name, "follows": follows, "periods": periods}


def test_base_spec_is_valid(base_spec):
    spec = load_spec(base_spec)
    assert spec.entity_count == 40
    assert [m.name for m in spec.metrics] == ["engagement", "mrr", "support_tickets"]


# (id, spec, expected path, fragments the message must contain)
CASES = [
    pytest.param(variant(metricz=[]), "metricz",
                 ["unknown key 'metricz'", "did you mean 'metrics'?"], id="unknown-top-level-key"),
    pytest.param(variant(metric("mrr", distrbution="lognormal")), "metrics.mrr.distrbution",
                 ["unknown key 'distrbution'", "did you mean 'distribution'?"], id="unknown-nested-key"),
    pytest.param(variant(window(grian="day")), "window.grian",
                 ["unknown key 'grian'", "did you mean 'grain'?"], id="unknown-key-in-window"),
    pytest.param(variant(custom_archetype("mine", [{"shpe": "plateau", "level": 0.5}])), "archetypes.mine[0].shpe",
                 ["unknown key 'shpe'", "did you mean 'shape'?"], id="unknown-key-in-archetype-piece"),
    pytest.param(variant(correlations=[corr("engagment", "mrr", 0.5)]), "correlations.engagment~mrr.between",
                 ["unknown metric 'engagment'", "did you mean 'engagement'?"], id="typo-metric-in-correlation"),
    pytest.param(variant(lags=[lag("support_tickets", "engagment", 2)]), "lags.support_tickets.follows",
                 ["unknown metric 'engagment'", "did you mean 'engagement'?"], id="typo-metric-in-lag-follows"),
    pytest.param(variant(lags=[lag("suport_tickets", "engagement", 2)]), "lags.suport_tickets.metric",
                 ["unknown metric 'suport_tickets'", "did you mean 'support_tickets'?"], id="typo-metric-in-lag-metric"),
    pytest.param(variant(append("lags", lag("engagement", "support_tickets"))), "lags.support_tickets",
                 ["cycle", "support_tickets follows engagement follows support_tickets"], id="lag-cycle-of-two"),
    pytest.param(variant(lags=[lag("engagement", "mrr"), lag("mrr", "support_tickets"), lag("support_tickets", "engagement")]),
                 "lags.engagement",
                 ["cycle", "engagement follows mrr follows support_tickets follows engagement"], id="lag-cycle-of-three"),
    pytest.param(variant(correlations=[corr("mrr", "support_tickets", -0.95)]), "correlations.mrr~support_tickets.r",
                 ["-0.95", "cannot be reached by these two distributions", "the most their shapes allow is [",
                  "nearest value that holds: r: "],
                 id="correlation-unreachable-by-distributions"),
    pytest.param(variant(append("metrics", *({"name": n, "type": "measure", "signal": 0.0} for n in "abc")),
                         correlations=[corr("a", "b", 0.9), corr("a", "c", 0.9), corr("b", "c", -0.9)]),
                 "correlations.b~c.r",
                 ["-0.9 cannot hold together with", "not positive semi-definite", "nearest value that holds: r: "],
                 id="correlations-not-psd"),
    pytest.param(variant(correlations=[corr("engagement", "support_tickets", 0.9)]),
                 "correlations.engagement~support_tickets.r",
                 ["0.9 cannot hold together", "support_tickets has negative polarity", "works against that",
                  "nearest value that holds: r: "],
                 id="correlation-out-of-reach-by-trajectory-and-lag"),
    pytest.param(variant(window(start="2024-12", end="2024-01-01")), "window.end",
                 ["2024-01-01 is before window.start 2024-12-01"], id="window-end-before-start"),
    pytest.param(variant(metric("mrr", range=[500, 50])), "metrics.mrr.range",
                 ["[500.0, 50.0]", "min < max"], id="range-min-above-max"),
    pytest.param(variant(metric("mrr", range=[50, 50])), "metrics.mrr.range",
                 ["[50.0, 50.0]", "min < max"], id="range-min-equals-max"),
    pytest.param(variant(metric("engagement", range=[0, 2])), "metrics.engagement.range",
                 ["[0.0, 2.0]", "a score lies within [0, 1]"], id="score-range-outside-unit-interval"),
    pytest.param(variant(metric("support_tickets", range=[-5, 10])), "metrics.support_tickets.range",
                 ["[-5.0, 10.0]", "a count cannot go below 0"], id="negative-count-range"),
    pytest.param(variant(segment("growers", count=-3)), "segments.growers.count",
                 ["greater than or equal to 0", "-3"], id="negative-segment-count"),
    pytest.param(variant(segment("growers", count=0), segment("churners", count=0)), "segments",
                 ["all segment counts are 0"], id="all-segment-counts-zero"),
    pytest.param(variant(segment("growers", archetype="grwoth")), "segments.growers.archetype",
                 ["unknown archetype 'grwoth'", "did you mean 'growth'?"], id="unknown-archetype"),
    pytest.param(variant(metric("mrr", distribution="lognorm")), "metrics.mrr.distribution",
                 ["'lognormal'", "got 'lognorm'"], id="unknown-distribution"),
    pytest.param(variant(metric("mrr", distribution="poisson")), "metrics.mrr.distribution",
                 ["poisson is for type count, not amount"], id="poisson-on-non-count"),
    pytest.param(variant(metric("mrr", range=[50, 1e308])), "metrics.mrr.range", ["reaches beyond +/-1e+15"],
                 id="range-near-float-max"),
    pytest.param(variant(metric("mrr", range=None, mean=float("nan"))), "metrics.mrr.mean",
                 ["must be a finite number"], id="mean-not-a-number"),
    pytest.param(variant(metric("mrr", distribution="negative_binomial")), "metrics.mrr.distribution",
                 ["negative_binomial is for type count, not amount"], id="negative-binomial-on-non-count"),
    pytest.param(variant(metric("support_tickets", distribution="negative_binomial", params={"dispersion": 0})),
                 "metrics.support_tickets.params.dispersion", ["0", "must be a positive number"],
                 id="zero-dispersion"),
    pytest.param(variant(append("metrics", {"name": "date_key", "type": "score"})), "metrics.date_key",
                 ["is a key column of every fact table"], id="metric-named-date-key"),
    pytest.param(variant(append("metrics", {"name": "account_id", "type": "score"})), "metrics.account_id",
                 ["is a key column of every fact table (date_key, account_id)"], id="metric-named-unit-id"),
    pytest.param(variant(tables={"trajectory": False, "facts": [
                     {"name": "trajectory", "metrics": ["engagement", "mrr", "support_tickets"]}]}),
                 "tables.facts.trajectory", ["kept for the ground-truth trajectory table"], id="fact-named-trajectory"),
    pytest.param(variant(append("metrics", {"name": "mrr", "type": "amount"})), "metrics.mrr",
                 ["used more than once"], id="duplicate-metric-name"),
    pytest.param(variant(append("segments", {"name": "growers", "count": 5, "archetype": "flat"})), "segments.growers",
                 ["used more than once"], id="duplicate-segment-name"),
    pytest.param(variant(append("correlations", corr("mrr", "engagement", 0.3))), "correlations.mrr~engagement",
                 ["declared more than once"], id="duplicate-correlation-pair"),
    pytest.param(variant(correlations=[corr("mrr", "mrr", 0.3)]), "correlations.mrr~mrr.between",
                 ["cannot be correlated with itself"], id="metric-correlated-with-itself"),
    pytest.param(variant(lags=[lag("support_tickets", "support_tickets", 2)]), "lags.support_tickets.follows",
                 ["cannot follow itself"], id="metric-follows-itself"),
    pytest.param(variant(append("lags", lag("support_tickets", "mrr"))), "lags.support_tickets",
                 ["one driver only"], id="metric-with-two-lags"),
    pytest.param(variant(lags=[lag("support_tickets", "engagement", 0)]), "lags.support_tickets.periods",
                 ["greater than or equal to 1", "got 0"], id="lag-periods-zero"),
    pytest.param(variant(metric("mrr", params={"mean": 3.0})), "metrics.mrr.params.mean",
                 ["is not a parameter of lognormal", "'median', 'sigma'"], id="unknown-param-for-family"),
    pytest.param(variant(custom_archetype("mine", [
                     {"shape": "plateau", "level": 0.5, "until": 0.5},
                     {"shape": "linear", "from": 0.3, "to": 0.8}])),
                 "archetypes.mine[1].from", ["only the first piece sets a starting level"],
                 id="archetype-later-piece-sets-from"),
    pytest.param(variant(custom_archetype("mine", [
                     {"shape": "plateau", "level": 0.5},
                     {"shape": "linear", "to": 0.8}])),
                 "archetypes.mine[0].until", ["every piece but the last needs `until`"],
                 id="archetype-missing-until"),
    pytest.param(variant(custom_archetype("wavy", [{"shape": "oscillation", "from": 0.9, "amplitude": 0.4}])),
                 "archetypes.wavy", ["curve 'wavy' reaches", "positions live in [0, 1]", "amplitude"],
                 id="archetype-curve-leaves-unit-interval"),
    pytest.param(variant(custom_archetype("growth", [{"shape": "plateau", "level": 0.5}], used_by=None)),
                 "archetypes.growth", ["is a built-in archetype"], id="archetype-named-like-builtin"),
    pytest.param(variant(tables={"facts": [{"name": "fct_usage", "metrics": ["engagement", "mrr", "support_ticket"]},
                                           {"name": "fct_tickets", "metrics": ["support_tickets"]}]}),
                 "tables.facts.fct_usage.metrics",
                 ["unknown metric 'support_ticket'", "did you mean 'support_tickets'?"], id="fact-table-unknown-metric"),
    pytest.param(variant(tables={"facts": [{"name": "fct_usage", "metrics": ["engagement", "mrr"]}]}), "tables.facts",
                 ["metric 'support_tickets' is in no fact table"], id="metric-in-no-fact-table"),
    pytest.param(variant(tables={"facts": [{"name": "fct_a", "metrics": ["engagement", "mrr"]},
                                           {"name": "fct_b", "metrics": ["mrr", "support_tickets"]}]}), "tables.facts",
                 ["metric 'mrr' is in 2 fact tables"], id="metric-in-two-fact-tables"),
    pytest.param(variant(unit="date"), "unit", ["'date' is taken by dim_date"], id="unit-named-date"),
    pytest.param(variant(unit="Account"), "unit", ["lower-case letters", "'Account'"], id="unit-not-an-identifier"),
    pytest.param(variant(window(start="1800-01-01", end="2199-12-31", grain="day"),
                         append("metrics", *({"name": f"m{i}", "type": "measure"} for i in range(20)))),
                 "window", ["day periods x 23 metrics", "GiB", "coarser grain"], id="spec-too-large-for-memory"),
    pytest.param(["unit", "account"], "", ["a spec is a mapping of keys", "got list"], id="spec-not-a-mapping"),
    pytest.param(None, "", ["a spec is a mapping of keys", "got NoneType"], id="spec-is-empty"),
]


@pytest.mark.parametrize("data, path, fragments", CASES)
def test_bad_spec_reports_path_and_message(data, path, fragments):
    problem = find(problems_of(data), path)
    for fragment in fragments:
        assert fragment in problem.message, f"{fragment!r} not in {problem.message!r}"


def test_bad_spec_does_not_report_spurious_problems():
    """A single mistake gives a single problem, not a cascade of follow-ups."""
    problems = problems_of(variant(metric("mrr", range=[500, 50])))
    assert [p.path for p in problems] == ["metrics.mrr.range"]


def test_yaml_syntax_error_names_the_line(tmp_path):
    spec_file = tmp_path / "spec.yml"
    spec_file.write_text("unit: account\nwindow:\n  start: 2024-01\n    end: 2024-12-31\n", encoding="utf-8")
    problem = find(problems_of(spec_file), "")
    assert "not valid YAML" in problem.message
    assert "line 4" in problem.message
    assert str(spec_file) in problem.message


def test_missing_spec_file(tmp_path):
    missing = tmp_path / "nope.yml"
    problem = find(problems_of(missing), "")
    assert "does not exist" in problem.message and "nope.yml" in problem.message


def test_yaml_file_is_validated_like_a_dict(tmp_path):
    import yaml

    spec_file = tmp_path / "spec.yml"
    spec_file.write_text(yaml.safe_dump(variant(metric("mrr", range=[500, 50]))), encoding="utf-8")
    assert [p.path for p in problems_of(spec_file)] == ["metrics.mrr.range"]


def test_many_problems_reported_at_once_sorted_by_path():
    data = variant(
        metric("mrr", range=[10, 5]),
        segment("growers", count=-1),
        window(grian="day"),
        lambda d: d["lags"][0].update(follows="engagment"),
        windoe=1,
    )
    with pytest.raises(SpecError) as caught:
        load_spec(data)
    error = caught.value
    paths = [p.path for p in error.problems]
    assert paths == [
        "lags.support_tickets.follows",
        "metrics.mrr.range",
        "segments.growers.count",
        "windoe",
        "window.grian",
    ]
    assert paths == sorted(paths)
    text = str(error)
    assert text.startswith("5 problems in the synthetic spec:")
    positions = [text.index(f"  - {path}: ") for path in paths]
    assert positions == sorted(positions)


def test_problems_name_list_items_by_name_not_index():
    data = variant(
        metric("mrr", signal=2),
        segment("churners", variation=5),
        lambda d: d["lags"][0].update(weight=0),
        lambda d: d["correlations"][0].update(r=1.5),
        custom_archetype("mine", [{"shape": "plateau", "level": 1.5}]),
        tables={"facts": [{"name": "fct_x", "metrics": []},
                          {"name": "fct_y", "metrics": ["engagement", "mrr", "support_tickets"]}]},
    )
    problems = problems_of(data)
    paths = {p.path for p in problems}
    assert {
        "metrics.mrr.signal",
        "segments.churners.variation",
        "lags.support_tickets.weight",
        "correlations.engagement~mrr.r",
        "archetypes.mine[0].level",
        "tables.facts.fct_x.metrics",
    } <= paths
    assert "2" in find(problems, "metrics.mrr.signal").message
    # no path uses a bare list index for a named item
    for path in paths:
        for section in ("metrics.", "segments.", "lags.", "correlations.", "tables.facts."):
            if path.startswith(section):
                assert not path[len(section):][:1].isdigit() and not path[len(section):].startswith("["), path


def test_nameless_item_falls_back_to_index():
    problems = problems_of(variant(append("metrics", {"type": "amount"})))
    assert find(problems, "metrics[3].name").message == "is required"


def test_error_renders_with_prefix():
    with pytest.raises(SpecError) as caught:
        load_spec(variant(metric("mrr", range=[500, 50]), unit="date"))
    prefixed = caught.value.with_prefix("sources.saas.config.meta.synthetic")
    assert isinstance(prefixed, SpecError)
    assert prefixed.problems == caught.value.problems
    lines = prefixed.lines()
    assert lines == [
        "sources.saas.config.meta.synthetic.metrics.mrr.range: [500.0, 50.0] must be two finite numbers with min < max",
        "sources.saas.config.meta.synthetic.unit: 'date' is taken by dim_date; name the unit after what an entity is",
    ]
    rendered = prefixed.render()
    assert rendered == str(prefixed)
    assert "  - sources.saas.config.meta.synthetic.metrics.mrr.range: [500.0, 50.0]" in rendered
    # the original error is unchanged; prefixes nest outer-first
    assert caught.value.lines()[0].startswith("metrics.mrr.range: ")
    nested = prefixed.with_prefix("models")
    assert nested.lines()[0].startswith("models.sources.saas.config.meta.synthetic.metrics.mrr.range: ")


def test_prefix_on_problem_without_path():
    with pytest.raises(SpecError) as caught:
        load_spec([1, 2])
    line = caught.value.with_prefix("sources.saas.config.meta.synthetic").lines()[0]
    assert line.startswith("sources.saas.config.meta.synthetic: a spec is a mapping of keys")


def test_spec_error_is_a_plotsim_error():
    assert issubclass(SpecError, dbt_plotsim.PlotsimError)
    error = SpecError(Problem("b", "second"))
    assert str(error) == "1 problem in the synthetic spec:\n  - b: second"


def test_scale_must_be_positive(base_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(base_spec, scale=0)
    assert find(caught.value.problems, "scale").message == "0 must be a positive, finite number"


def test_fact_table_reference_to_invalid_metric_is_not_reported_as_unknown():
    data = variant(
        metric("mrr", distribution="lognorm"),
        tables={"facts": [{"name": "fct_all", "metrics": ["engagement", "mrr", "support_tickets"]}]},
    )
    problems = problems_of(data)
    assert [p.path for p in problems] == ["metrics.mrr.distribution"]


def test_correlation_and_lag_references_to_invalid_metric_are_not_reported_as_unknown():
    """The same situation as above, for correlations and lags, works: only the metric's own mistake."""
    problems = problems_of(variant(metric("engagement", distribution="lognorm")))
    assert [p.path for p in problems] == ["metrics.engagement.distribution"]


def test_infinite_scale_is_a_spec_error(base_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(base_spec, scale=float("inf"))
    assert find(caught.value.problems, "scale")


def test_scale_beyond_count_limit_is_a_spec_error(base_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(base_spec, scale=1e7)
    assert any(p.path in ("scale", "segments.growers.count") for p in caught.value.problems)
