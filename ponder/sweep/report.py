"""The sweep's report.html: arms x metrics (mean +- half-width of the 95% interval over seeds), the
pairs of arms that differ beyond their intervals, failed runs with their error line, and a plot of
a training metric against RL FLOPs (or steps) per arm from the runs' metrics.jsonl.

Same house style as the evaluation report (ponder.report.html): one file, plots inline, no scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ponder.report.html import esc, figure, fmt, page, table
from ponder.report.plots import COLORS, _plt, to_data_uri


def cell(stats: dict) -> str:
    """'0.712 ± 0.031' (n seeds in a tooltip); a single seed shows its value and 'n=1'."""
    if stats["mean"] is None:
        return "–"
    text = fmt(stats["mean"]) + (f" ± {fmt(stats['half_width'])}" if stats["half_width"] is not None else " (n=1)")
    return f'<span title="n = {stats["n"]} seeds">{text}</span>'


# -- the curve: a metric from metrics.jsonl against RL FLOPs or steps -------------------------------
def _candidates(run_dir: Path) -> list[Path]:
    """A stage's metrics.jsonl, or its sub-runs' (the demo keeps RL in train/)."""
    return [run_dir / "metrics.jsonl", *sorted(run_dir.glob("*/metrics.jsonl"))]


def curve_points(rows: list[dict], metric: str, x: str) -> tuple[str, list[tuple[float, float]]] | None:
    """(x key used, points) from logged rows, or None when they lack the metric or the x key."""
    from ponder.stats import number

    keys = ("rl_flops", "step") if x == "auto" else (x,)
    for key in keys:
        pts = [(number(r.get(key)), number(r.get(metric))) for r in rows]
        pts = [(a, b) for a, b in pts if a is not None and b is not None]
        if pts:
            return key, pts
    return None


def smooth(ys: list[float], window: int) -> list[float]:
    """Trailing moving average (the first points average what exists so far)."""
    out = []
    for i in range(len(ys)):
        part = ys[max(0, i - window + 1): i + 1]
        out.append(sum(part) / len(part))
    return out


def run_curve(spec, stage_dirs: dict[str, Path]) -> tuple[str, list[tuple[float, float]]] | None:
    from ponder.runs import read_jsonl

    c = spec.curve
    names = [c.stage] if c.stage else list(reversed(stage_dirs))
    for name in names:
        for path in _candidates(stage_dirs[name]):
            found = curve_points(read_jsonl(path), c.metric, c.x)
            if found:
                return found
    return None


def curve_figure(spec, rows: list[dict], root: Path) -> str:
    """One line per run, coloured by arm; empty when no run logged the metric."""
    from ponder.sweep.grid import Run, arms, plan

    by_name = {a.name: a for a in arms(spec)}
    lines: list[tuple[str, int, list[tuple[float, float]]]] = []
    xkeys = set()
    order = list(by_name)
    for r in rows:
        dirs = {p.name: p.run_dir for p in plan(spec, Run(by_name[r["arm"]], r["seed"]), root)}
        found = run_curve(spec, dirs)
        if found:
            xkeys.add(found[0])
            lines.append((r["arm"], order.index(r["arm"]), found[1]))
    if not lines:
        return ""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    labelled = set()
    for arm, i, pts in lines:
        pts = sorted(pts)
        ax.plot([p[0] for p in pts], smooth([p[1] for p in pts], spec.curve.smooth), "-", lw=1.2, alpha=0.85,
                color=COLORS[i % len(COLORS)], label=None if arm in labelled else arm)
        labelled.add(arm)
    xlabel = "RL FLOPs" if xkeys == {"rl_flops"} else ("step" if xkeys == {"step"} else " / ".join(sorted(xkeys)))
    ax.set_title(f"{spec.curve.metric} vs {xlabel}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(spec.curve.metric + (f" (moving average of {spec.curve.smooth})" if spec.curve.smooth > 1 else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    caption = f"{spec.curve.metric} from each run's metrics.jsonl; one line per seed, one colour per arm"
    return figure(to_data_uri(fig), caption)


# -- the page -------------------------------------------------------------------------------------
def render(spec, rows: list[dict], summary: dict, root: Path) -> str:
    arms = summary["arms"]
    columns = summary["metrics"]
    keys = [k for k, _ in spec.grid]
    parts = ["<h2>Arms</h2>"]
    head = ["arm", *keys, "seeds done", *columns]
    body: list[list[Any]] = []
    for name, a in arms.items():
        shown = [a["labels"].get(k, "") for k in keys]
        done = f"{a['done']}/{a['runs']}" + (f" (failed: {', '.join(map(str, a['failed_seeds']))})" if a["failed_seeds"] else "")
        body.append([esc(name), *map(esc, shown), esc(done), *[cell(a["metrics"][c]) for c in columns]])
    parts.append(table(head, body, raw_cols=tuple(range(len(head)))))
    parts.append('<p class="meta">mean ± half-width of the 95% t-interval over seeds; finished runs only.</p>')
    if summary["unresolved"]:
        parts.append(f"<p>No finished run has a number at: {esc(', '.join(summary['unresolved']))} "
                     "(a typo, a mapping rather than a number, or no run finished).</p>")

    parts.append("<h2>Arms that differ beyond their intervals</h2>")
    pairs = [(c, a, b, arms[a]["metrics"][c]["mean"], arms[b]["metrics"][c]["mean"])
             for c in columns for a, b in summary["differ"][c]]
    if pairs:
        parts.append(table(["metric", "arm A", "arm B", "mean A", "mean B"], pairs))
    else:
        parts.append("<p>None: every pair of arms overlaps on every metric (or has fewer than two seeds).</p>")

    fig = curve_figure(spec, rows, root)
    if fig:
        parts.append(f'<h2>Curves</h2><div class="plots">{fig}</div>')

    if summary["failed"]:
        parts.append("<h2>Failed runs</h2>")
        parts.append(table(["run", "error (last stderr line)"], [(f["run"], f["error"]) for f in summary["failed"]]))

    t = summary["timing"]
    parts.append("<h2>Runs and time</h2>")
    parts.append(table(["runs done", "failed", "not finished", "sweep wall (s)", "sum of runs' wall (s)", "speedup"],
                       [(summary["runs"]["done"], summary["runs"]["failed"],
                         summary["runs"]["pending"] + summary["runs"]["running"], t["sweep_wall_s"],
                         t["runs_wall_s"], t["speedup"])]))
    parts.append('<p class="meta">speedup = the runs\' own wall time over the sweep driver\'s, over all sessions: '
                 "what running them side by side bought against one after another with the same threads each.</p>")
    kind = " → ".join(s.name for s in spec.stages) if spec.pipeline else spec.stages[0].command
    subtitle = f"{kind}; {len(arms)} arms × {len(spec.seeds)} seeds; {root}"
    return page(f"ponder sweep: {root.name}", subtitle, "".join(parts))


def write_report(path: Path, spec, rows: list[dict], summary: dict, root: Path) -> Path:
    from ponder.runs import atomic_write_text

    return atomic_write_text(path, render(spec, rows, summary, Path(root)))
