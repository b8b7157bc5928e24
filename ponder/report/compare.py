"""The compare report: two evaluation runs side by side, with deltas and overlaid curves.

    from ponder.report.compare import write_compare
    write_compare("runs/eval-before", "runs/eval-after", "runs/demo/compare.html", names=("baseline", "trained"))

The demo uses it for its before/after page. Like the single-run report it is one self-contained
HTML file (inline PNGs, no scripts, no network).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ponder.report import plots
from ponder.report.headline import headline
from ponder.report.html import (accuracy_series, budget_series, by_int_key, effort_series, esc, figure, page,
                                table)


def _delta(a, b, better: int = 0) -> str:
    """B - A, green when it moves the better way, red when the worse way, plain if neither."""
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or a != a or b != b:
        return "–"
    d = b - a
    direction = ((d > 0) - (d < 0)) * better  # +1: moved the better way, -1: the worse way
    cls = {1: "up", -1: "down"}.get(direction, "")
    return f'<span class="{cls}">{d:+.3g}</span>' if abs(d) >= 1e4 else f'<span class="{cls}">{d:+.3f}</span>'


def render_compare(metrics_a: dict, rows_a: Sequence[dict], metrics_b: dict, rows_b: Sequence[dict],
                   names: tuple[str, str] = ("A", "B"), title: str = "ponder compare", subtitle: str = "") -> str:
    na, nb = names
    ha = {(axis, m): v for axis, m, v, _ in headline(metrics_a)}
    hb = {(axis, m): v for axis, m, v, _ in headline(metrics_b)}
    better = {(axis, m): d for axis, m, _, d in headline(metrics_a) + headline(metrics_b)}
    keys = list(ha) + [k for k in hb if k not in ha]
    parts = [f"<h2>Headline: {esc(na)} vs {esc(nb)}</h2>",
             table(["axis", "metric", na, nb, f"Δ ({nb} − {na})"],
                   [(k[0], k[1], ha.get(k), hb.get(k), _delta(ha.get(k), hb.get(k), better[k])) for k in keys], raw_cols=(4,))]
    sa, sb = metrics_a["summary"]["by_difficulty"], metrics_b["summary"]["by_difficulty"]
    levels = sorted({int(d) for d in sa} | {int(d) for d in sb})
    ga = {int(d): v for d, v in sa.items()}
    gb = {int(d): v for d, v in sb.items()}
    rows = []
    for d in levels:
        a, b = ga.get(d, {}), gb.get(d, {})
        for key, good in (("accuracy", 1), ("think_rate", 0), ("mean_tokens", 0)):
            rows.append((d, key, a.get(key), b.get(key), _delta(a.get(key), b.get(key), good)))
    parts += ["<h2>Per difficulty</h2>", table(["difficulty", "metric", na, nb, "Δ"], rows, raw_cols=(4,))]

    both = lambda fa, fb: [(na, fa), (nb, fb)]  # noqa: E731
    t_max = int(max(metrics_a["calibration"]["t_max"], metrics_b["calibration"]["t_max"]))
    figs = [
        figure(plots.line_plot(both(accuracy_series(metrics_a), accuracy_series(metrics_b)), "Accuracy vs difficulty",
                               "difficulty", "accuracy", (-0.03, 1.03)), "band = 95% Wilson interval"),
        figure(plots.line_plot(both(effort_series(rows_a, "mean_tokens"), effort_series(rows_b, "mean_tokens")),
                               "Tokens vs difficulty (calibration curve)", "difficulty", "mean tokens"),
               "mean generated tokens per sample"),
        figure(plots.line_plot(both(effort_series(rows_a, "think_rate"), effort_series(rows_b, "think_rate")),
                               "Think-rate vs difficulty", "difficulty", "fraction with <think>", (-0.03, 1.03)),
               "fraction of samples that think"),
        figure(plots.line_plot([(f"{na} pass@k", by_int_key(metrics_a["skills"]["pass_at_k"])),
                                (f"{nb} pass@k", by_int_key(metrics_b["skills"]["pass_at_k"])),
                                (f"{na} maj@k", by_int_key(metrics_a["skills"]["maj_at_k"])),
                                (f"{nb} maj@k", by_int_key(metrics_b["skills"]["maj_at_k"]))],
                               "pass@k and maj@k", "k", "accuracy", (-0.03, 1.03), logx=True,
                               styles=["-o", "-o", "--s", "--s"]), "solid: pass@k, dashed: maj@k"),
        figure(plots.line_plot(both(budget_series(rows_a, t_max), budget_series(rows_b, t_max)),
                               "Accuracy under a token budget", "budget t (tokens)", "correct with < t tokens",
                               (-0.03, 1.03), styles=["-", "-"]), "OAA_t over total tokens"),
    ]
    parts.append('<h2>Curves</h2><div class="plots">' + "".join(figs) + "</div>")
    st_a, st_b = metrics_a["skills"]["strategies"], metrics_b["skills"]["strategies"]
    parts.append("<h2>Parallel test-time compute</h2>")
    parts.append(table(["strategy", f"{na} accuracy", f"{nb} accuracy", "Δ", f"{na} tokens/problem", f"{nb} tokens/problem"],
                       [(k, st_a[k]["accuracy"], st_b.get(k, {}).get("accuracy"),
                         _delta(st_a[k]["accuracy"], st_b.get(k, {}).get("accuracy"), 1), st_a[k]["tokens_per_problem"],
                         st_b.get(k, {}).get("tokens_per_problem")) for k in st_a], raw_cols=(3,)))
    return page(title, subtitle, "".join(parts))


def write_compare(run_a: str | Path, run_b: str | Path, out: str | Path,
                  names: tuple[str, str] | None = None) -> Path:
    """Render the compare report of two finished eval runs into `out` (written atomically)."""
    from ponder.report.io import load_run
    from ponder.runs import atomic_write_text

    rows_a, _, ma, _ = load_run(run_a)
    rows_b, _, mb, _ = load_run(run_b)
    names = names or (Path(run_a).name, Path(run_b).name)
    html = render_compare(ma, rows_a, mb, rows_b, names, title=f"ponder compare: {names[0]} vs {names[1]}",
                          subtitle=f"{run_a} vs {run_b}")
    return atomic_write_text(out, html)
