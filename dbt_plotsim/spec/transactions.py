"""Transaction facts whose rows per entity-period follow a metric, with child line facts under them.

`fct_<name>` has a Poisson number of rows per active entity-period (mean `per_period.mean`, scaled by the
followed series over its pooled mean), each with a timestamp and an amount from its own distribution.
`fct_<name>_line` splits every amount over `lines` lines whose amounts add up to it exactly, to the cent.
"""
from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import Field

from ..errors import Problem
from .attributes import Weights, check_label_weights, undeclared_table
from .base import Identifier, StrictModel, range_problem
from .children import followable, unknown_metric
from .lifecycle import Rate
from .metrics import Metric, check_metric
from .totals import Total

AmountFamily = Literal["normal", "lognormal", "beta", "gamma", "weibull"]
MAX_LINES = 1000


class Amount(StrictModel):
    """One transaction's amount: a family truncated to `range`, rounded to cents."""

    distribution: AmountFamily = "lognormal"
    range: tuple[float, float]
    mean: float | None = None
    params: dict[str, float] = Field(default_factory=dict)
    follows: Identifier | None = Field(None, description="trajectory or a metric: higher value, larger amounts")
    signal: float = Field(0.5, ge=0.0, le=0.95, description="latent correlation with the followed series")
    total: Total | None = Field(None, description="what the amounts add up to in each period, exactly (spec/totals.py)")

    @property
    def family(self) -> str:  # with `type`, what marginals.resolve reads
        return self.distribution

    @property
    def type(self) -> str:
        return "amount"


class Pick(StrictModel):
    """A foreign key to a reference table on each row (the product of an order line), drawn by weights."""

    table: Identifier
    weights: Weights | None = Field(None, description="how likely each row is, by label; default equal")

    @property
    def column(self) -> str:
        return f"{self.table}_id"


class Lines(StrictModel):
    """Lines per transaction: uniform in [min, max], or min + binomial with the given mean."""

    min: int = 1
    max: int = 1
    mean: float | None = None
    quantity: tuple[int, int] = Field((1, 1), description="[min, max] of a line's quantity, uniform")
    references: tuple[Pick, ...] = ()


class Transaction(StrictModel):
    name: Identifier
    per_period: Rate
    amount: Amount
    lines: Lines | None = None
    references: tuple[Pick, ...] = ()
    description: str | None = None


def check_transactions(spec) -> list[Problem]:
    transactions = getattr(spec, "transactions", ()) or ()
    problems: list[Problem] = []
    for name, count in Counter(t.name for t in transactions).items():
        if count > 1:
            problems.append(Problem(f"transactions.{name}", "transaction name used more than once; names must be unique"))
    for tx in transactions:
        path = f"transactions.{tx.name}"
        if tx.name == getattr(spec, "unit", None):
            problems.append(Problem(path, f"'{tx.name}' is the unit: {tx.name}_id would be both keys; rename it"))
        if tx.per_period.follows not in followable(spec):
            problems.append(Problem(f"{path}.per_period.follows", unknown_metric(tx.per_period.follows, spec)))
        problems.extend(_check_amount(f"{path}.amount", tx, spec))
        problems.extend(_check_picks(f"{path}.references", tx.references, spec, (tx.name,)))
        if tx.lines is not None:
            problems.extend(_check_lines(f"{path}.lines", tx.lines))
            problems.extend(_check_picks(f"{path}.lines.references", tx.lines.references, spec,
                                         (tx.name, f"{tx.name}_line")))
    return problems


def _check_amount(path: str, tx: Transaction, spec) -> list[Problem]:
    amount = tx.amount
    problems: list[Problem] = []
    if amount.follows is not None and amount.follows not in followable(spec):
        problems.append(Problem(f"{path}.follows", unknown_metric(amount.follows, spec)))
    low, high = amount.range
    wrong = range_problem(low, high)
    if wrong:
        return problems + [Problem(f"{path}.range", wrong)]
    as_metric = Metric(name="amount", type="amount", distribution=amount.distribution, range=amount.range,
                       mean=amount.mean, params=amount.params)
    problems.extend(Problem(f"{path}.{key}", message) for key, message in check_metric(as_metric) if key != "range")
    lines = tx.lines.max if tx.lines is not None else 1
    if low < 0.01 * lines:
        need = "0.01" if lines == 1 else f"{0.01 * lines:.2f} (one cent for each of up to {lines} lines)"
        problems.append(Problem(f"{path}.range", f"min {low:g} is too small: a transaction amount is at least {need}"))
    return problems


def _check_picks(path: str, picks: tuple[Pick, ...], spec, keys: tuple[str, ...]) -> list[Problem]:
    """Declared reference tables, once each, whose <table>_id is not a key the row already has."""
    tables = {t.name: t for t in getattr(spec, "reference", ()) or ()}
    problems: list[Problem] = []
    for name, count in Counter(p.table for p in picks).items():
        if count > 1:
            problems.append(Problem(f"{path}.{name}", "listed more than once; a row has one FK per table"))
    for pick in picks:
        table = tables.get(pick.table)
        if table is None:
            problems.append(Problem(f"{path}.{pick.table}.table", undeclared_table(pick.table, tables)))
        elif pick.table in keys:
            problems.append(Problem(f"{path}.{pick.table}.table", (
                f"{pick.column} is already a key of the row; a reference table cannot share the transaction's name")))
        elif pick.weights is not None:
            problems.extend(check_label_weights(f"{path}.{pick.table}.weights", pick.weights, table))
    return problems


def _check_lines(path: str, lines: Lines) -> list[Problem]:
    problems: list[Problem] = []
    if lines.min < 1:
        problems.append(Problem(f"{path}.min", f"{lines.min}: a transaction has at least 1 line"))
    if lines.max > MAX_LINES:
        problems.append(Problem(f"{path}.max", f"{lines.max:,} is above the limit of {MAX_LINES:,} lines"))
    if lines.min > lines.max:
        problems.append(Problem(f"{path}.min", f"min {lines.min} is above max {lines.max}"))
    elif lines.mean is not None and not (lines.min <= lines.mean <= lines.max):
        problems.append(Problem(f"{path}.mean", f"{lines.mean:g} lies outside [min, max] = [{lines.min}, {lines.max}]"))
    low, high = lines.quantity
    if low < 1:
        problems.append(Problem(f"{path}.quantity", f"[{low}, {high}]: a line's quantity is at least 1"))
    elif low > high:
        problems.append(Problem(f"{path}.quantity", f"[{low}, {high}]: min is above max"))
    return problems
