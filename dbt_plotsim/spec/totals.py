"""Declared totals: what a metric (or a transaction's amount) adds up to in each period, to the cent.

    metrics:
      - {name: mrr, type: amount, range: [50, 50000], total: {start: 120000, growth: 0.02}}
    transactions:
      - {name: invoice, ..., amount: {range: [20, 50000], total: [90000, 91000, ...]}}

A total is one of: a list with one number per period of the window; `{start, growth}`, compounding per
period (period p: start x (1 + growth)^p); `{curve: [[position, total], ...]}`, piecewise linear over the
window's relative position (0 = first period, 1 = last). engine/totals.py makes the rows that exist add up
to it exactly.
"""
from __future__ import annotations

import math

from typing import Annotated

from pydantic import Discriminator, Field, Tag

from ..errors import Problem
from .base import MAX_MAGNITUDE, StrictModel

TOTAL_FAMILIES = ("normal", "lognormal", "beta", "gamma", "weibull")  # continuous: scaled (normal: shifted)
NON_NEGATIVE = ("lognormal", "beta", "gamma", "weibull")
FORMS = "a list with one number per period, {start: <total>, growth: <rate per period>} or {curve: [[0, <total>], ..., [1, <total>]]}"


class Rule(StrictModel):
    """`{start, growth}` or `{curve}`: a total per period by a rule rather than listed."""

    start: float | None = None
    growth: float | None = Field(None, description="compounding rate per period: period p is start x (1 + growth)^p")
    curve: tuple[tuple[float, float], ...] | None = Field(None, description="[position in the window (0-1), total] points")


def _form(value) -> str | None:
    if isinstance(value, (list, tuple)):
        return "[list]"  # bracketed: the loader's error paths skip the tag
    if isinstance(value, (dict, Rule)):
        return "[rule]"
    return None


Total = Annotated[
    Annotated[tuple[float, ...], Tag("[list]")] | Annotated[Rule, Tag("[rule]")],
    Discriminator(_form, custom_error_type="total_form", custom_error_message=f"a total is {FORMS}"),
]


def period_totals(total: Total, periods: int) -> list[float]:
    """The declared total of every period, in currency units (not yet rounded)."""
    if isinstance(total, Rule) and total.curve is None:
        return [total.start * (1.0 + (total.growth or 0.0)) ** p for p in range(periods)]
    if isinstance(total, Rule):
        xs, ys = zip(*total.curve)
        import numpy as np

        where = np.arange(periods) / max(periods - 1, 1)
        return [float(v) for v in np.interp(where, xs, ys)]
    return [float(v) for v in total]


def total_cents(total: Total, periods: int) -> list[int]:
    """Each period's total in whole cents: what the output adds up to exactly."""
    return [int(round(v * 100)) for v in period_totals(total, periods)]


def scaled_total(total: Total | None, scale: float) -> Total | None:
    """The same total for a population `scale` times the size (load_spec's `scale`)."""
    if total is None or scale == 1.0:
        return total
    if isinstance(total, Rule) and total.curve is None:
        return total.model_copy(update={"start": total.start * scale})
    if isinstance(total, Rule):
        return total.model_copy(update={"curve": tuple((x, y * scale) for x, y in total.curve)})
    return tuple(v * scale for v in total)


def with_scaled_totals(spec, scale: float):
    """The spec with every declared total `scale` times as large: the same story for `scale` times the entities."""
    if scale == 1.0 or not declares_totals(spec):
        return spec
    metrics = tuple(m.model_copy(update={"total": scaled_total(m.total, scale)}) for m in spec.metrics)
    transactions = tuple(t.model_copy(update={"amount": t.amount.model_copy(update={
        "total": scaled_total(t.amount.total, scale)})}) for t in spec.transactions)
    return spec.model_copy(update={"metrics": metrics, "transactions": transactions})


def check_total(path: str, total: Total | None, kind: str, family: str, low: float | None,
                starts: list[str] | None) -> list[Problem]:
    """Problems of one declared total at `path` (`metrics.<name>.total`, `transactions.<name>.amount.total`)."""
    if total is None:
        return []
    if kind in ("score", "count"):
        return [Problem(path, f"a total is declared on amount or measure metrics; this one is a {kind} "
                              "(a sum of scores or counts is not kept exactly)")]
    if family not in TOTAL_FAMILIES:
        return [Problem(path, f"a total needs a continuous family, not {family}; allowed: {list(TOTAL_FAMILIES)}")]
    periods = len(starts) if starts is not None else None
    problems: list[Problem] = []
    if family == "beta" and low is not None and low < 0:
        problems.append(Problem(path, f"a total scales beta's values, so its range must start at 0 or above, "
                                      f"not {low:g}; use distribution normal (totals shift it) for values on both "
                                      "sides of 0"))
    if isinstance(total, Rule) and (total.curve is None) == (total.start is None):
        problems.append(Problem(path, f"give `start` (with `growth`) or `curve`, one of them: a total is {FORMS}"))
    elif isinstance(total, Rule) and total.curve is not None:
        if total.growth is not None:
            problems.append(Problem(f"{path}.growth", "belongs with `start`, not with `curve`"))
        problems.extend(_check_curve(f"{path}.curve", total.curve))
    elif isinstance(total, Rule):
        if not math.isfinite(total.start) or abs(total.start) > MAX_MAGNITUDE:
            problems.append(Problem(f"{path}.start",
                                    f"{total.start:g} must be a finite number within +/-{MAX_MAGNITUDE:g}"))
        if total.growth is not None and not (math.isfinite(total.growth) and total.growth > -1):
            problems.append(Problem(f"{path}.growth",
                                    f"{total.growth:g} must be a finite rate above -1 (-0.05 is 5% less each period)"))
    elif periods is not None and len(total) != periods:
        problems.append(Problem(path, f"has {len(total)} numbers; the window has {periods} periods, one total each "
                                      f"(or give {FORMS})"))
    if problems:
        return problems
    values = period_totals(total, periods or 1)
    bad = [v for v in values if not math.isfinite(v) or abs(v) > MAX_MAGNITUDE]
    if bad:
        return [Problem(path, f"{bad[0]:g} must be a finite number within +/-{MAX_MAGNITUDE:g}")]
    if family in NON_NEGATIVE or (low is not None and low >= 0):
        negative = [(p, v) for p, v in enumerate(values) if v < 0]
        if negative:
            p, v = negative[0]
            when = starts[p] if starts is not None else f"{p}"
            why = f"{family} takes no negative values" if family in NON_NEGATIVE else f"the range starts at {low:g}"
            problems.append(Problem(path, f"period {when} totals {v:g}: {why}, so every total must be at least 0"))
    return problems


def _check_curve(path: str, points) -> list[Problem]:
    if len(points) < 2:
        return [Problem(path, f"has {len(points)} point(s); give at least two, [[0, <total>], [1, <total>]]")]
    xs = [x for x, _ in points]
    if any(not math.isfinite(x) for x in xs) or xs[0] != 0 or xs[-1] != 1:
        return [Problem(path, f"positions {xs} must run from 0 (the first period) to 1 (the last)")]
    if any(b <= a for a, b in zip(xs, xs[1:])):
        return [Problem(path, f"positions {xs} must increase")]
    return []


def window_periods(spec) -> list[str] | None:
    """First day of each period of the spec's window, or None when the window itself is wrong (reported
    elsewhere)."""
    window = getattr(spec, "window", None)
    if window is None or window.end < window.start:
        return None
    from ..engine.calendar import period_starts  # the engine's calendar: one definition of a period

    return [str(day) for day in period_starts(window.start, window.end, window.grain)]


def check_totals(spec) -> list[Problem]:
    starts = window_periods(spec)
    problems: list[Problem] = []
    for metric in spec.metrics:
        low = metric.range[0] if metric.range is not None else None
        problems.extend(check_total(f"metrics.{metric.name}.total", metric.total, metric.type, metric.family, low,
                                    starts))
    for tx in getattr(spec, "transactions", ()) or ():
        amount = tx.amount
        problems.extend(check_total(f"transactions.{tx.name}.amount.total", amount.total, "amount", amount.family,
                                    amount.range[0], starts))
    return problems


def declares_totals(spec) -> bool:
    return any(m.total is not None for m in spec.metrics) or any(
        t.amount.total is not None for t in getattr(spec, "transactions", ()) or ())
