"""The fitted model in words: what `validate` and `info` show before anything is generated.

Every figure comes from the calibration: signals and lag weights (fitted or set), and what the pilot
measured on the rows that exist: each declared pair's r, the r of pairs nobody declared, how closely each
metric follows the trajectory, the lag margins, the share of entities a terminal event ends.
"""
from __future__ import annotations

from .missingness import null_lines, null_relations
from .visibility import lag_margins


def fitted_lines(plan) -> list[str]:
    spec = plan.spec
    calibration = plan.calibration
    measured = calibration.measured
    names = plan.metric_names
    lines = [f"persistence {plan.model.persistence:.2f} ({'set' if spec.persistence is not None else 'fitted'})",
             "metric            signal          follows trajectory (r with position)"]
    for m, metric in enumerate(spec.metrics):
        origin = "set" if metric.signal is not None else "fitted"
        follow = measured["trajectory_r"][m] if "trajectory_r" in measured else float("nan")
        tag = f"({origin})"
        lines.append(f"  {metric.name:<16}{plan.model.loads[m].signal:>5.2f} {tag:<9}{follow:+.2f}")
    if spec.lags:
        margins = lag_margins(plan.model, plan.noise_corr, plan.lags)
        lines.append("lag                                weight          expected peak margin")
        for lag in spec.lags:
            m = names.index(lag.metric)
            origin = "set" if lag.weight is not None else "fitted"
            label = f"{lag.metric} follows {lag.follows} by {lag.periods}"
            tag = f"({origin})"
            lines.append(f"  {label:<33}{plan.lags[m][2]:>5.2f} {tag:<9}{margins[m]:.2f}")
    within = [*zip(calibration.scoped, measured.get("scoped_measured", [])),
              *zip(calibration.regimes, measured.get("regime_measured", []))]
    if within:
        lines.append("within segments or periods          declared  delivered")
        for target, r in within:
            label = f"{target.corr.key}" + (f" in {target.segment}" if target.segment and
                                             target.corr.scope == "each_segment" else "")
            lines.append(f"  {label:<33}{target.corr.r:>+8.2f}  {r:>+8.3f}")
    matrix = measured.get("matrix")
    declared = {frozenset(c.between): c for c in spec.correlations}
    if declared:
        adjusted = calibration.adjusted
        lines.append("declared correlation               declared  delivered"
                     + ("  (nearest value used instead)" if adjusted else ""))
        for corr, r in zip(calibration.declared, measured.get("measured", [])):
            if corr.key in adjusted:
                user, used = adjusted[corr.key]
                lines.append(f"  {corr.key:<33}{user:>+8.2f}  {r:>+8.3f}  ({used:+g})")
            else:
                lines.append(f"  {corr.key:<33}{corr.r:>+8.2f}  {r:>+8.3f}")
    if matrix is not None and len(names) > 1:
        lines.append("undeclared pairs (expected r)")
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                if frozenset((names[a], names[b])) not in declared:
                    lines.append(f"  {names[a] + '~' + names[b]:<33}{matrix[a, b]:>+8.2f}")
    lines += null_lines(plan)
    event = spec.terminal_event
    if event is not None and "ended_share" in measured:
        share = measured["ended_share"]
        lines.append(f"terminal event {event.name}: ends about {share:.0%} of entities in the window")
        if share == 0:
            lines.append(f"warning: events.{event.name}.when never held on the calibration pilot, so it will "
                         "probably never fire: loosen its level or shorten `for`")
    return lines


def relations(plan) -> list[dict]:
    """Declared lags, correlations and null mechanisms as the data delivers them, for `_plotsim_relations` and the manifest:
    `value` is what the tests hold the data to (the declared r, or the nearest one used instead), `declared`
    what the spec says, `delivered` what the calibration pilot measured, `weight` the lag weight in use."""
    names = plan.metric_names
    calibration = plan.calibration
    rows = [{"kind": "lag", "metric": lag.metric, "other": lag.follows, "value": float(lag.periods),
             "weight": plan.lags[names.index(lag.metric)][2], "declared": float(lag.periods), "delivered": None,
             "scope": "pooled"} for lag in plan.spec.lags]
    measured = dict(zip((c.key for c in calibration.declared), calibration.measured.get("measured", [])))
    regimes = zip(calibration.regimes, calibration.measured.get("regime_measured", []))
    for target, r in [*zip(calibration.scoped, calibration.measured.get("scoped_measured", [])), *regimes]:
        key = target.corr.key  # each_segment: the segment furthest from the declared r
        if key not in measured or abs(r - target.corr.r) > abs(measured[key] - target.corr.r):
            measured[key] = r
    adjusted = calibration.adjusted
    for corr in plan.spec.correlations:
        used = adjusted[corr.key][1] if corr.key in adjusted else corr.r
        delivered = measured.get(corr.key)
        rows.append({"kind": "correlation", "metric": corr.between[0], "other": corr.between[1], "value": used,
                     "weight": None, "declared": corr.r,
                     "scope": corr.scope + (f"[{corr.during.label}]" if corr.during is not None else ""),
                     "delivered": None if delivered is None else round(float(delivered), 4)})
    return rows + null_relations(plan)
