"""Checks across keys of a parsed spec: names that must exist, be unique, or not form cycles."""
from __future__ import annotations

import difflib
from collections import Counter

from ..errors import Problem
from .archetypes import BUILTIN_ARCHETYPES, check_pieces
from .attributes import check_attributes
from .children import check_children
from .experiments import check_experiments
from .features import check_features
from .history import check_history
from .metrics import check_metric
from .missing import check_missing
from .names import check_metric_names, check_table_names
from .payload import check_payload
from .schema import check_bridges, check_placement
from .seasonality import check_seasonality
from .systems import check_systems
from .totals import check_totals
from .exact_rates import check_exact_rates
from .transactions import check_transactions
from .model import Spec


def suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"known: {sorted(known)}{hint}"


def _duplicates(names: list[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def check_references(spec: Spec, declared: dict[str, list[str]] | None = None) -> list[Problem]:
    """`declared` holds names as written (when some items failed to parse), so that references to an
    item with its own mistake are not reported as unknown too."""
    problems: list[Problem] = []
    declared = declared or {}
    metric_names = [m.name for m in spec.metrics]
    known_metrics = set(metric_names) | set(declared.get("metrics", []))

    for metric in spec.metrics:
        problems.extend(Problem(f"metrics.{metric.name}.{key}", message) for key, message in check_metric(metric))
    for name in _duplicates(declared.get("metrics") or metric_names):
        problems.append(Problem(f"metrics.{name}", "metric name used more than once; names must be unique"))
    for name in _duplicates([s.name for s in spec.segments]):
        problems.append(Problem(f"segments.{name}", "segment name used more than once; names must be unique"))
    if spec.segments and spec.entity_count == 0:
        problems.append(Problem("segments", "all segment counts are 0; at least one entity is needed"))
    if spec.window is not None and spec.window.end < spec.window.start:
        problems.append(Problem("window.end", f"{spec.window.end} is before window.start {spec.window.start}"))
    elif spec.window is not None and spec.window.as_of is not None and not (
            spec.window.start <= spec.window.as_of <= spec.window.end):
        problems.append(Problem("window.as_of", f"{spec.window.as_of} lies outside the window {spec.window.start}.."
                                f"{spec.window.end}; as_of says how much of the window has happened"))

    archetype_names = sorted(set(BUILTIN_ARCHETYPES) | set(spec.archetypes) | set(declared.get("archetypes", [])))
    for name, pieces in spec.archetypes.items():
        if name in BUILTIN_ARCHETYPES:
            problems.append(Problem(f"archetypes.{name}", "is a built-in archetype; give yours another name"))
        for rel, message in check_pieces(pieces):
            problems.append(Problem(f"archetypes.{name}{rel}", message))
    for segment in spec.segments:
        if segment.archetype not in archetype_names:
            problems.append(Problem(
                f"segments.{segment.name}.archetype",
                f"unknown archetype '{segment.archetype}'; {suggest(segment.archetype, archetype_names)}",
            ))

    seen_spans: dict[tuple, list] = {}
    for corr in spec.correlations:
        path = f"correlations.{corr.key}"
        for name in corr.between:
            if name not in known_metrics:
                problems.append(Problem(f"{path}.between", f"unknown metric '{name}'; {suggest(name, sorted(known_metrics))}"))
        if corr.between[0] == corr.between[1]:
            problems.append(Problem(f"{path}.between", "a metric cannot be correlated with itself"))
        pair = (frozenset(corr.between), corr.scope)
        spans = seen_spans.setdefault(pair, [])
        span = (corr.during.start, corr.during.until) if corr.during is not None else None
        if any(other is None or span is None or (span[0] <= other[1] and other[0] <= span[1]) for other in spans):
            problems.append(Problem(path, "this pair is declared more than once for the same scope and periods"))
        spans.append(span)
        if corr.during is not None:
            problems.extend(_check_during(spec, path, corr))
        segments = [s.name for s in spec.segments]
        if corr.scope not in ("pooled", "each_segment", *segments):
            problems.append(Problem(f"{path}.scope", f"'{corr.scope}' is not pooled, each_segment or a segment; "
                                    + suggest(corr.scope, ["pooled", "each_segment", *segments])))

    followers = [lag.metric for lag in spec.lags]
    for name in _duplicates(followers):
        problems.append(Problem(f"lags.{name}", "a metric can follow one driver only; declared more than once"))
    for lag in spec.lags:
        for key in ("metric", "follows"):
            name = getattr(lag, key)
            if name not in known_metrics:
                problems.append(Problem(f"lags.{lag.metric}.{key}", f"unknown metric '{name}'; {suggest(name, sorted(known_metrics))}"))
        if lag.metric == lag.follows:
            problems.append(Problem(f"lags.{lag.metric}.follows", "a metric cannot follow itself"))
    cycle = find_lag_cycle(spec)
    if cycle:
        problems.append(Problem(f"lags.{cycle[0]}", "lags form a cycle: " + " follows ".join(cycle) + "; a driver cannot depend on its own follower"))

    problems.extend(_check_tables(spec, sorted(known_metrics)))
    problems.extend(_check_lifecycle(spec, metric_names))
    for check in (check_attributes, check_children, check_transactions, check_history, check_seasonality,
                  check_bridges, check_placement, check_table_names, check_metric_names, check_payload,
                  check_missing, check_systems, check_totals, check_experiments, check_features,
                  check_exact_rates):
        problems.extend(check(spec))
    return problems


def _check_during(spec: Spec, path: str, corr) -> list[Problem]:
    during, window = corr.during, spec.window
    if during.until < during.start:
        return [Problem(f"{path}.during.until", f"{during.until} is before `from` {during.start}")]
    if window is not None and (during.start > window.end or during.until < window.start):
        return [Problem(f"{path}.during", f"{during.label} lies outside the window {window.start}..{window.end}")]
    if corr.scope != "pooled":
        return [Problem(f"{path}.during", "a regime (`during`) is declared on pooled correlations; scope "
                        f"'{corr.scope}' with `during` is not supported: declare it pooled")]
    return []


def find_lag_cycle(spec: Spec) -> list[str] | None:
    driver = {lag.metric: lag.follows for lag in spec.lags if lag.metric != lag.follows}
    for start in driver:
        path = [start]
        node = start
        while node in driver:
            node = driver[node]
            if node == start:
                return path + [start]
            if node in path:
                break
            path.append(node)
    return None


def _check_tables(spec: Spec, metric_names: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    if spec.unit == "date":
        problems.append(Problem("unit", "'date' is taken by dim_date; name the unit after what an entity is"))
    facts = spec.tables.facts
    if facts is None:
        return problems
    for name in _duplicates([f.name for f in facts]):
        problems.append(Problem(f"tables.facts.{name}", "table name used more than once"))
    placed: Counter[str] = Counter()
    for fact in facts:
        for metric in fact.metrics:
            placed[metric] += 1
            if metric not in metric_names:
                problems.append(Problem(
                    f"tables.facts.{fact.name}.metrics", f"unknown metric '{metric}'; {suggest(metric, metric_names)}"
                ))
    for metric in metric_names:
        if placed[metric] == 0:
            problems.append(Problem("tables.facts", f"metric '{metric}' is in no fact table; add it to one"))
        elif placed[metric] > 1:
            problems.append(Problem("tables.facts", f"metric '{metric}' is in {placed[metric]} fact tables; place it once"))
    return problems


def _check_arrivals(path: str, arrivals) -> list[Problem]:
    problems = []
    if arrivals.until <= arrivals.start:
        problems.append(Problem(f"{path}.until", f"{arrivals.until} must be after `from` {arrivals.start}"))
    if arrivals.pattern == "steps":
        if not arrivals.steps:
            problems.append(Problem(f"{path}.steps", "pattern steps needs `steps: [{at, share}, ...]`"))
        elif abs(sum(s.share for s in arrivals.steps) - 1.0) > 1e-6:
            total = sum(s.share for s in arrivals.steps)
            problems.append(Problem(f"{path}.steps", f"shares add up to {total:g}; they must add up to 1"))
    elif arrivals.steps:
        problems.append(Problem(f"{path}.steps", f"`steps` belong to pattern steps, not {arrivals.pattern}"))
    return problems


def _check_lifecycle(spec: Spec, metric_names: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    if getattr(spec, "arrivals", None) is not None:
        problems.extend(_check_arrivals("arrivals", spec.arrivals))
    for segment in spec.segments:
        if segment.arrivals is not None:
            problems.extend(_check_arrivals(f"segments.{segment.name}.arrivals", segment.arrivals))
    events = getattr(spec, "events", ()) or ()
    for name in _duplicates([e.name for e in events]):
        problems.append(Problem(f"events.{name}", "event name used more than once; names must be unique"))
    terminal = [e.name for e in events if e.terminal]
    if len(terminal) > 1:
        problems.append(Problem("events", f"only one event can be terminal; {terminal} all are"))
    followable = ["trajectory", *metric_names]
    for event in events:
        path = f"events.{event.name}"
        if (event.rate is None) == (event.when is None):
            problems.append(Problem(path, "give `rate` (events per period) or `when` (a condition that fires it), one of them"))
        if event.rate is not None and event.rate.follows not in followable:
            problems.append(Problem(f"{path}.rate.follows", f"unknown metric '{event.rate.follows}'; {suggest(event.rate.follows, followable)}"))
        if event.when is not None:
            problems.extend(_check_condition(spec, f"{path}.when", event.when, followable))
    return problems


def _check_condition(spec: Spec, path: str, when, followable: list[str],
                     consequence: str = "the event would never or always fire") -> list[Problem]:
    if when.metric not in followable:
        return [Problem(f"{path}.metric", f"unknown metric '{when.metric}'; {suggest(when.metric, followable)}")]
    if (when.below is None) == (when.above is None):
        return [Problem(path, "give `below` or `above`, one of them")]
    level = when.below if when.below is not None else when.above
    key = "below" if when.below is not None else "above"
    low, high = _value_bounds(spec, when.metric)
    if low is not None and not (low < level < high):
        return [Problem(f"{path}.{key}", f"{level} lies outside the values {when.metric} can take, [{low:g}, {high:g}]; "
                        + consequence)]
    return []


def _value_bounds(spec: Spec, metric: str) -> tuple[float | None, float | None]:
    if metric == "trajectory":
        return 0.0, 1.0
    found = next(m for m in spec.metrics if m.name == metric)
    if found.range is not None:
        return found.range
    if found.type == "score":
        return 0.0, 1.0
    return None, None
