"""The report's figures drawn as inline SVG strings (matplotlib, Agg backend: static, offline, no script)."""
from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # no display, whatever the environment says
import matplotlib.pyplot as plt  # noqa: E402

INK, MUTED, GRID = "#1f2933", "#7b8794", "#e4e7eb"
DECLARED, DELIVERED, WARN = "#3e4c59", "#2680c2", "#d64545"
PALETTE = ("#2680c2", "#e8833a", "#3ebd93", "#9446ed", "#d64545", "#7b8794", "#f7c948", "#2d3a8c")
STYLE = {
    "svg.fonttype": "none",  # text stays text: small files, the page's font
    "svg.hashsalt": "dbt-plotsim",  # stable element ids: the same data gives the same page
    "font.size": 8.5, "axes.edgecolor": MUTED, "axes.labelcolor": INK, "axes.titlesize": 9.5,
    "axes.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": GRID, "grid.linewidth": 0.6, "xtick.color": MUTED, "ytick.color": MUTED,
    "legend.frameon": False, "legend.fontsize": 7.5,
}
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)


def _svg(fig) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return _PROLOGUE.sub("", out.getvalue(), count=1)  # inline: no XML declaration or doctype


def _ticks(ax, labels: list[str], most: int = 8) -> None:
    step = max(1, len(labels) // most)
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels(labels[::step], rotation=0)


def correlations_chart(rows: list[dict]) -> str:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(rows) + 0.9))
        for i, row in enumerate(rows):
            ax.plot([row["declared"] - row["tolerance"], row["declared"] + row["tolerance"]], [i, i],
                    color=GRID, linewidth=7, solid_capstyle="butt")
            ax.plot([row["declared"]], [i], marker="|", markersize=14, color=DECLARED, linestyle="none",
                    label="declared ± tolerance" if i == 0 else None)
            if row["delivered"] is not None:
                ax.plot([row["delivered"]], [i], marker="o", markersize=6, linestyle="none",
                        color=DELIVERED if row["status"] == "pass" else WARN, label="delivered" if i == 0 else None)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{r['metric']} ~ {r['other']}" + ("" if r["scope"] == "pooled" else f" ({r['scope']})")
                            for r in rows])
        ax.set_ylim(len(rows) - 0.4, -0.6)  # first row on top, half a row of margin
        ax.set_xlim(-1.05, 1.05)
        ax.axvline(0, color=MUTED, linewidth=0.6)
        ax.set_xlabel("Pearson r")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
        return _svg(fig)


def lag_chart(fig_data: dict) -> str:
    curve = [p for p in fig_data["curve"] if p["r"] is not None]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(3.2, 2.3))
        lags = [p["lag"] for p in curve]
        ax.plot(lags, [p["r"] for p in curve], color=DELIVERED, marker="o", markersize=3, linewidth=1.4)
        ax.axhline(0, color=MUTED, linewidth=0.6)
        ax.axvline(fig_data["declared"], color=DECLARED, linestyle="--", linewidth=1,
                   label=f"declared lag {fig_data['declared']}")
        peak = next((p for p in curve if p["lag"] == fig_data["peak"]), None)
        if peak is not None:
            ax.plot([peak["lag"]], [peak["r"]], marker="o", markersize=8, fillstyle="none", linestyle="none",
                    color=DELIVERED if fig_data["status"] == "pass" else WARN, label=f"peak at {peak['lag']}")
        ax.set_title(f"{fig_data['metric']} after {fig_data['follows']}")
        ax.set_xlabel("lag (periods)")
        ax.set_ylabel("r of changes")
        ax.legend(loc="best")
        return _svg(fig)


def marginal_chart(fig_data: dict) -> str:
    edges = fig_data["histogram"]["edges"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(3.2, 2.3))
        ax.stairs(fig_data["histogram"]["density"], edges, fill=True, color="#b6d4ec", label="output")
        ax.plot(fig_data["declared"]["x"], fig_data["declared"]["density"], color=DECLARED, linewidth=1.4,
                label=f"declared {fig_data['family']}")
        ax.set_title(f"{fig_data['metric']}  (KS {fig_data['ks']:.3f})")
        ax.set_yticks([])
        ax.legend(loc="best")
        return _svg(fig)


def trajectory_chart(name: str, line: dict, column: str) -> str:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(3.2, 2.2))
        x = range(len(line["periods"]))
        ax.fill_between(x, line["p10"], line["p90"], color="#b6d4ec", linewidth=0, label="10-90%")
        ax.plot(x, line["median"], color=DELIVERED, linewidth=1.6, label="median")
        title = name if not line.get("archetype") else f"{name} ({line['archetype']})"
        ax.set_title(title)
        ax.set_ylabel(column)
        _ticks(ax, line["periods"], 4)
        ax.legend(loc="best")
        return _svg(fig)


def arrivals_chart(fig_data: dict) -> str:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 2.6))
        x = list(range(len(fig_data["periods"])))
        ax.bar([i - 0.2 for i in x], fig_data["arriving"], width=0.4, color=PALETTE[2], label="arriving")
        ax.bar([i + 0.2 for i in x], fig_data["ending"], width=0.4, color=PALETTE[4], label="ending")
        ax.set_ylabel("entities arriving / ending")
        twin = ax.twinx()
        twin.plot(x, fig_data["active"], color=DELIVERED, linewidth=1.8, label="active")
        twin.set_ylabel("active entities")
        twin.set_ylim(bottom=0)
        twin.grid(False)
        _ticks(ax, fig_data["periods"])
        handles = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
        return _svg(fig)


def seasonality_chart(fig_data: dict) -> str:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 2.6))
        keys = fig_data["date_keys"]
        for i, (metric, line) in enumerate(fig_data["metrics"].items()):
            at = {k: v for k, v in zip(line["date_keys"], line["normalised"])}
            ax.plot(range(len(keys)), [at.get(k) for k in keys], color=PALETTE[i % len(PALETTE)], linewidth=1.4,
                    label=metric)
        ax.axhline(1.0, color=MUTED, linewidth=0.6)
        ax.set_ylabel("mean / window mean")
        _ticks(ax, fig_data["periods"])
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(5, len(fig_data["metrics"])))
        return _svg(fig)
