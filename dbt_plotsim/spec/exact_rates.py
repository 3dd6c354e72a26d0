"""Exact rates: `events[].rate` and `transactions[].per_period` with `exact: true` hold each period's count
of rows exactly (engine/exact_rates.py). Sub-entity events are drawn per sub-entity and period as before;
`exact` there, or on an event without a rate, is a problem naming where it is."""
from __future__ import annotations

from ..errors import Problem

NO_RATE = ("`exact` belongs under the event's rate (rate: {mean: 3, exact: true}); an event with `when` has no "
           "rate, it fires at most once per entity, so it has no count per period to hold")


def check_exact_rates(spec) -> list[Problem]:
    problems: list[Problem] = []
    for child in getattr(spec, "children", ()) or ():
        for event in child.events:
            if event.rate.exact:
                problems.append(Problem(f"children.{child.name}.events.{event.name}.rate.exact",
                                        "`exact` is held on events[].rate and transactions[].per_period; "
                                        "sub-entity events are drawn per sub-entity and period without it: "
                                        "remove exact here"))
    return problems


def misplaced(key: str, model) -> str | None:
    """The message for `exact` given where a rate is expected (on an event beside `rate` or `when`)."""
    if key == "exact" and model is not None and "rate" in getattr(model, "model_fields", {}):
        return NO_RATE
    return None
