"""Matplotlib figures rendered to base64 PNG data URIs, so a report is one self-contained file.

Every plot takes one or more named *series* so the single-run report and the compare report
share them: a series is (label, {x: y}) or (label, {x: (y, lo, hi)}) for error bars.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def to_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return x


def line_plot(series: Sequence[tuple[str, dict]], title: str, xlabel: str, ylabel: str,
              ylim: tuple[float, float] | None = None, logx: bool = False, styles: Sequence[str] | None = None) -> str:
    """Lines over x for each series; y may be (y, lo, hi) for an error band. Returns a data URI."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for i, (label, points) in enumerate(series):
        pts = sorted(((_num(x), v) for x, v in points.items() if v is not None), key=lambda p: p[0])
        if not pts:
            continue
        xs = [p[0] for p in pts]
        ys = [p[1][0] if isinstance(p[1], (tuple, list)) else p[1] for p in pts]
        style = styles[i] if styles else "-o"
        ax.plot(xs, ys, style, color=COLORS[i % len(COLORS)], label=label, markersize=4)
        if isinstance(pts[0][1], (tuple, list)):
            ax.fill_between(xs, [p[1][1] for p in pts], [p[1][2] for p in pts], color=COLORS[i % len(COLORS)], alpha=0.15)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    all_x = sorted({_num(x) for _, pts in series for x in pts})
    if logx:
        ax.set_xscale("log", base=2)
    if all_x and len(all_x) <= 12 and all(isinstance(x, (int, float)) and float(x).is_integer() for x in all_x):
        ax.set_xticks(all_x, [str(int(x)) for x in all_x])  # difficulty levels and k are integers
        ax.minorticks_off()
    ax.grid(alpha=0.3)
    if len(series) > 1 or (series and series[0][0]):
        ax.legend(fontsize=8)
    return to_data_uri(fig)


def scatter_plot(series: Sequence[tuple[str, list[tuple[float, float, str]]]], title: str, xlabel: str,
                 ylabel: str) -> str:
    """Labelled points (x, y, annotation) per series."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for i, (label, pts) in enumerate(series):
        if not pts:
            continue
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=COLORS[i % len(COLORS)], label=label, s=22)
        for x, y, note in pts:
            ax.annotate(note, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return to_data_uri(fig)
