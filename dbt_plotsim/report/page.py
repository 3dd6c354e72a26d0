"""The report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched."""
from __future__ import annotations

from html import escape

from . import charts

CSS = """
:root { --ink:#1f2933; --muted:#7b8794; --line:#e4e7eb; --pass:#199473; --warn:#cb6e17; --info:#7b8794; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #f5f7fa; }
header { background: #102a43; color: #f0f4f8; padding: 24px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 2px 0; color: #bcccdc; }
header .summary { margin-top: 10px; font-size: 16px; color: #fff; }
nav { margin-top: 10px; color: #9fb3c8; font-size: 13px; }
nav a { color: #d9e2ec; text-decoration: none; } nav a:hover { text-decoration: underline; }
main { max-width: 1120px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 18px 0; padding: 16px 20px; }
h2 { font-size: 17px; margin: 0 0 4px; }
p.why { color: var(--muted); margin: 0 0 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 0; padding: 8px; border: 1px solid var(--line); border-radius: 6px; }
.grid figure { width: 334px; }
.grid figure svg { width: 100%; }
figcaption { font-size: 12.5px; color: var(--muted); }
svg { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; font-size: 12.5px; margin-top: 8px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid var(--line); }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.mark { display: inline-block; min-width: 38px; text-align: center; border-radius: 9px; padding: 0 7px;
        font-size: 11.5px; font-weight: 600; color: #fff; }
.mark.pass { background: var(--pass); } .mark.warn { background: var(--warn); } .mark.info { background: var(--info); }
.note { background: #fffbea; border: 1px solid #f7d070; border-radius: 6px; padding: 8px 12px; color: #513c06; }
ul.plain { margin: 4px 0; padding-left: 18px; }
"""


def mark(state: str) -> str:
    return f'<span class="mark {escape(state)}">{escape(state)}</span>'


def _num(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(anchor: str, title: str, why: str, body: str) -> str:
    return (f'<section id="{anchor}"><h2>{escape(title)}</h2><p class="why">{escape(why)}</p>{body}</section>')


def _missing(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def correlations(rows: list[dict]) -> str:
    why = ("Declared Pearson r against the r measured on the output rows, per scope; pass within "
           "±0.05.")
    if not rows:
        return _section("correlations", "1. Correlations", why, _missing("No correlations declared or recorded."))
    table = _table(["", "pair", "scope", "declared", "delivered", "difference", "pairs"],
                   [[mark(r["status"]), escape(f"{r['metric']} ~ {r['other']}"), escape(r["scope"]),
                     _num(r["declared"]), _num(r["delivered"]), _num(r["difference"]), _num(r["n"], 0)]
                    for r in rows], {3, 4, 5, 6})
    measured = f"<p class=\"why\">Delivered r measured by {escape(rows[0]['measured_by'])}.</p>"
    return _section("correlations", "1. Correlations", why,
                    _figure(charts.correlations_chart(rows), "declared (bar: ±0.05) and delivered r") + table
                    + measured)


def lags(rows: list[dict]) -> str:
    why = ("Cross-correlation of period-to-period changes (each period's mean change removed) of the metric "
           "with its driver's earlier changes; pass when the peak is at the declared lag.")
    if not rows:
        return _section("lags", "2. Lags", why, _missing("No lags declared, or no truth tables in this output."))
    figures = "".join(_figure(charts.lag_chart(r), f"{mark(r['status'])} declared {r['declared']}, peak "
                              f"{_num(r['peak'], 0)}, r at declared lag {_num(r['strength'])}") for r in rows if r["curve"])
    table = _table(["", "metric", "follows", "declared lag", "peak", "r at declared", "pairs"],
                   [[mark(r["status"]), escape(r["metric"]), escape(r["follows"]), _num(r["declared"], 0),
                     _num(r["peak"], 0), _num(r["strength"]), _num(r["n"], 0)] for r in rows], {3, 4, 5, 6})
    return _section("lags", "2. Lags", why, f'<div class="grid">{figures}</div>{table}')


def marginals(rows: list[dict], has_spec: bool) -> str:
    why = ("Each metric's output values (histogram) against the declared distribution truncated to its range "
           "(curve); warn when the Kolmogorov-Smirnov statistic is above 0.05.")
    if not rows:
        text = "No spec recorded with the output: the declared distributions are unknown." if not has_spec \
            else "No metric values found."
        return _section("marginals", "3. Marginals", why, _missing(text))
    figures = "".join(_figure(charts.marginal_chart(r), f"{mark(r['status'])} {escape(r['table'])}.{escape(r['metric'])}: "
                              f"{escape(r['family'])} {escape(_params(r['params']))}, n {r['n']:,}")
                      for r in rows)
    return _section("marginals", "3. Marginals", why, f'<div class="grid">{figures}</div>')


def _params(params: dict) -> str:
    return "(" + ", ".join(f"{k} {v:.4g}" for k, v in params.items()) + ")"


def trajectories(data: dict | None) -> str:
    why = "Per segment, the median and the 10-90% band over periods."
    if not data:
        return _section("trajectories", "4. Segment trajectories", why, _missing("No trajectory or metric table."))
    figures = "".join(_figure(charts.trajectory_chart(name, line, data["column"]),
                              f"{mark('info')} {escape(data['table'])}.{escape(data['column'])}, "
                              f"{max(line['n']):,} entities at most")
                      for name, line in data["segments"].items())
    return _section("trajectories", "4. Segment trajectories", why + f" Of {data['table']}.{data['column']}.",
                    f'<div class="grid">{figures}</div>')


def arrivals(data: dict | None) -> str:
    why = ("Active, arriving and ending entities per period (truth table); pass when the arrivals and endings "
           "match the entity dimension's own dates.")
    if not data:
        return _section("arrivals", "5. Arrivals and churn", why, _missing("No truth table in this output."))
    totals = (f"{mark(data['status'])} {sum(data['arriving']):,.0f} arrived, {sum(data['ending']):,.0f} ended, "
              f"{data['active'][-1]:,.0f} active in the last period")
    return _section("arrivals", "5. Arrivals and churn", why, _figure(charts.arrivals_chart(data), totals))


def seasonality(data: dict | None) -> str:
    why = "The overall mean of each metric per period, divided by its mean over the window (1 = an average period)."
    if not data:
        return _section("seasonality", "6. Seasonality", why, _missing("No truth table in this output."))
    declared = "Seasonality is declared in the spec." if data["declared"] else "No seasonality declared."
    return _section("seasonality", "6. Seasonality", why,
                    _figure(charts.seasonality_chart(data), f"{mark('info')} {escape(declared)}"))


def integrity(data: dict, counts: dict[str, int]) -> str:
    why = "dbt-plotsim verify: content digests, primary and foreign keys, truth figures; then rows per table."
    checked = "".join(f"<li>{escape(line)}</li>" for line in data["checked"])
    failed = "".join(f"<li>{mark('warn')} {escape(line)}</li>" for line in data["failures"])
    body = (f"<p>{mark(data['status'])} {len(data['failures'])} failing check(s)</p>"
            f'<ul class="plain">{failed}{checked}</ul>'
            + _table(["table", "rows"], [[escape(t), f"{n:,}"] for t, n in counts.items()], {1}))
    return _section("integrity", "7. Key integrity and row counts", why, body)


TITLES = (("correlations", "Correlations"), ("lags", "Lags"), ("marginals", "Marginals"),
          ("trajectories", "Trajectories"), ("arrivals", "Arrivals and churn"), ("seasonality", "Seasonality"),
          ("integrity", "Keys and rows"))


def _contents(sections: dict) -> str:
    """Links to the sections, each with its count of warns (or passes)."""
    links = []
    for key, title in TITLES:
        value = sections.get(key)
        figures = value if isinstance(value, list) else [value] if value else []
        marks = [f.get("status") for f in figures]
        badge = (mark("warn") if "warn" in marks else mark("pass") if "pass" in marks else "")
        links.append(f'<a href="#{key}">{escape(title)}</a> {badge}')
    return f'<nav>{" · ".join(links)}</nav>'


def render(report: dict) -> str:
    head = report["header"]
    summary = report["summary"]
    facts = [f"Source {escape(head['source'])} at {escape(head['location'])}"]
    if head.get("about"):
        facts.append(escape(head["about"]))
    if head.get("window"):
        facts.append(f"seed {head['seed']} · window {escape(head['window'])} · {head['entities']:,} "
                     f"{escape(head['unit'])} entities")
    notes = "".join(_missing(n) for n in report["notes"])
    s = report["sections"]
    nav = _contents(s)
    body = "".join([correlations(s["correlations"]), lags(s["lags"]), marginals(s["marginals"], head.get("window") is not None),
                    trajectories(s["trajectories"]), arrivals(s["arrivals"]), seasonality(s["seasonality"]),
                    integrity(s["integrity"], s["row_counts"])])
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Fidelity report: {escape(head['source'])}</title><style>{CSS}</style></head><body>"
            f"<header><h1>Fidelity report: {escape(head['source'])}</h1>"
            + "".join(f"<p>{f}</p>" for f in facts)
            + f"<p class=\"summary\">{mark('pass')} {summary['pass']} pass &nbsp; {mark('warn')} {summary['warn']} warn"
            f"</p>{nav}</header><main>{notes}{body}</main></body></html>\n")
