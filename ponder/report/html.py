"""The evaluation report: one self-contained HTML file (plots are inline base64 PNGs, no scripts,
no network), rendered from an evaluation's metrics dict and its per-sample rows.

    from ponder.report.html import render_report
    html = render_report(metrics, rows, title="eval of runs/sft-.../model")

Everything model-written (completions, prompts) is HTML-escaped.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Sequence

from ponder.metrics import accuracy_under_budget, effort_by_difficulty
from ponder.report import plots
from ponder.report.headline import headline

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;
color:#222;padding:0 16px}h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;
border-bottom:1px solid #ddd;padding-bottom:4px}.meta{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0}.plots img{width:460px;border:1px solid #eee}
pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:12px;max-width:640px}
.up{color:#1a7f37}.down{color:#c62828}.axis{font-weight:600}
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v:
            return "–"
        if abs(v) >= 1e6:
            return f"{v:.3g}"
        if abs(v) >= 100:
            return f"{v:,.1f}"
        return f"{v:.{digits}f}"
    return esc(v)


def table(headers: Sequence[str], rows: Sequence[Sequence], raw_cols: Sequence[int] = ()) -> str:
    """An HTML table; cells are formatted with `fmt` except column indexes in `raw_cols` (HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if i in raw_cols:
                cells.append(f"<td>{v}</td>")
            else:
                cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
                cells.append(f"<td{cls}>{fmt(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, subtitle: str, body: str) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p class=\"meta\">{esc(subtitle)} · "
            f"generated {stamp} by ponder</p>{body}</body></html>\n")


def figure(uri: str, caption: str) -> str:
    return f'<figure><img src="{uri}" alt="{esc(caption)}"><figcaption class="meta">{esc(caption)}</figcaption></figure>'


def by_int_key(d: dict) -> dict:
    """JSON turns int keys into strings; plots and tables want them back as numbers."""
    return {int(k): v for k, v in d.items()}


# -- plots shared with the compare report ----------------------------------------------------
def effort_series(rows: Sequence[dict], key: str) -> dict[int, float]:
    return {d: e[key] for d, e in effort_by_difficulty(rows).items()}


def accuracy_series(metrics: dict) -> dict[int, tuple[float, float, float]]:
    return {int(a["difficulty"]): (a["accuracy"], a["lo"], a["hi"]) for a in metrics["skills"]["by_difficulty"]}


def budget_series(rows: Sequence[dict], t_max: int) -> dict[int, float]:
    ts = list(range(0, t_max + 1, max(1, t_max // 64)))
    return dict(zip(ts, accuracy_under_budget([bool(r["correct"]) for r in rows], [r["num_tokens"] for r in rows], ts)))


PLAN_KEYS = ("plan_rate", "plan_validity", "plan_goal_rate", "plan_adherence", "accuracy_with_plan",
             "accuracy_without_plan", "tokens_with_plan", "tokens_without_plan")


def strategy_section(strategy: dict) -> str:
    """The strategy axis of plannable tasks: per task and per level, the plan metrics
    (docs/eval.md), and plots of plan rate / goal rate, accuracy and tokens with vs without a plan."""
    parts = ["<h2>Strategy: plans</h2>", '<p class="meta">plan rate: samples with a plan that parses; '
             "validity: parsed plans whose every step is legal; goal rate: parsed plans that reach the goal when "
             "the task's simulator replays them; adherence: share of plan steps the answer carries out in "
             "order; accuracy and tokens split by whether the sample planned.</p>"]
    rows = []
    for t, m in strategy.items():
        rows.append((t, "all", m["n"], *[m.get(k) for k in PLAN_KEYS]))
        rows += [(t, d, e["n"], *[e.get(k) for k in PLAN_KEYS]) for d, e in (m.get("by_difficulty") or {}).items()]
    parts.append(table(["task", "difficulty", "samples", *PLAN_KEYS], rows))
    figs = []
    for t, m in strategy.items():
        by = {int(d): e for d, e in (m.get("by_difficulty") or {}).items()}
        if not by:
            continue

        def series(*keys, by=by):
            return [(k.replace("_", " "), {d: e.get(k) for d, e in by.items()}) for k in keys]
        figs += [
            figure(plots.line_plot(series("plan_rate", "plan_goal_rate", "plan_adherence"), f"{t}: plans vs difficulty",
                                   "difficulty", "fraction", (-0.03, 1.03)),
                   "goal rate and adherence are over the samples that planned"),
            figure(plots.line_plot(series("accuracy_with_plan", "accuracy_without_plan"),
                                   f"{t}: accuracy with vs without a plan", "difficulty", "accuracy", (-0.03, 1.03)),
                   "a missing point: no sample of that kind at that level"),
            figure(plots.line_plot(series("tokens_with_plan", "tokens_without_plan"),
                                   f"{t}: tokens with vs without a plan", "difficulty", "mean tokens"),
                   "what a plan costs"),
        ]
    if figs:
        parts.append('<div class="plots">' + "".join(figs) + "</div>")
    return "".join(parts)


def render_report(metrics: dict, rows: Sequence[dict], title: str = "ponder evaluation", subtitle: str = "") -> str:
    rows = list(rows)
    s, c = metrics["skills"], metrics["calibration"]
    tasks = sorted({r["task"] for r in rows})
    parts = ["<h2>Headline: the four axes</h2>"]
    parts.append(table(["axis", "metric", "value"], [(a, m, v) for a, m, v, _ in headline(metrics)]))

    acc_series = [("all tasks (95% Wilson)", accuracy_series(metrics))]
    if len(tasks) > 1:
        for t in tasks:
            acc_series.append((t, {int(a["difficulty"]): a["accuracy"] for a in s["by_task_difficulty"] if a["task"] == t}))
    tok = [("total", effort_series(rows, "mean_tokens")), ("think", effort_series(rows, "mean_think_tokens")),
           ("answer", effort_series(rows, "mean_answer_tokens"))]
    think = [(t, effort_series([r for r in rows if r["task"] == t], "think_rate")) for t in tasks]
    scatter = [(t, [(e["mean_tokens"], e["accuracy"], f"d{d}")
                    for d, e in effort_by_difficulty([r for r in rows if r["task"] == t]).items()]) for t in tasks]
    scatter.append(("strategies (per problem)", [(v["tokens_per_problem"], v["accuracy"], k)
                                                 for k, v in s["strategies"].items()]))
    figs = [
        figure(plots.line_plot(acc_series, "Accuracy vs difficulty", "difficulty", "accuracy", (-0.03, 1.03)),
               "accuracy per level; band = 95% Wilson interval"),
        figure(plots.line_plot(tok, "Tokens vs difficulty (calibration curve)", "difficulty", "mean tokens"),
               "mean generated tokens per sample"),
        figure(plots.line_plot(think, "Think-rate vs difficulty", "difficulty", "fraction with <think>", (-0.03, 1.03)),
               "fraction of samples that think"),
        figure(plots.scatter_plot(scatter, "Accuracy vs tokens", "mean tokens", "accuracy"),
               "per (task, difficulty), and per test-time strategy"),
        figure(plots.line_plot([("pass@k", by_int_key(s["pass_at_k"])), ("maj@k", by_int_key(s["maj_at_k"]))],
                               "pass@k and maj@k", "k", "accuracy", (-0.03, 1.03), logx=True),
               "unbiased pass@k (Chen et al. 2021); maj@k over extracted answers"),
        figure(plots.line_plot([("OAA_t", budget_series(rows, int(c["t_max"])))], "Accuracy under a token budget",
                               "budget t (tokens)", "correct with < t tokens", (-0.03, 1.03), styles=["-"]),
               f"area under the curve / t_max = {fmt(c['auc_oaa_total'])} (total tokens)"),
    ]
    parts.append('<h2>Plots</h2><div class="plots">' + "".join(figs) + "</div>")

    parts.append("<h2>Skills and calibration per level</h2>")
    eff = {(t, d): e for t in tasks for d, e in effort_by_difficulty([r for r in rows if r["task"] == t]).items()}
    parts.append(table(
        ["task", "difficulty", "samples", "accuracy", "95% CI", "think rate", "tokens", "think tokens", "answer tokens"],
        [(a["task"], a["difficulty"], a["n"], a["accuracy"], f"{a['lo']:.2f}–{a['hi']:.2f}",
          eff[(a["task"], a["difficulty"])]["think_rate"], eff[(a["task"], a["difficulty"])]["mean_tokens"],
          eff[(a["task"], a["difficulty"])]["mean_think_tokens"], eff[(a["task"], a["difficulty"])]["mean_answer_tokens"])
         for a in s["by_task_difficulty"]]))

    parts.append("<h2>Parallel test-time compute</h2>")
    parts.append(table(["strategy", "accuracy", "tokens / problem", "seconds / problem"],
                       [(("▶ " if k == s["strategy"] else "") + k, v["accuracy"], v["tokens_per_problem"],
                         v["time_per_problem_s"]) for k, v in s["strategies"].items()]))

    if metrics["strategy"]:
        parts.append(strategy_section(metrics["strategy"]))
    if metrics["abstraction"]:
        parts.append(abstraction_section(metrics["abstraction"]))
    if metrics.get("tools"):
        parts.append(tools_section(metrics["tools"]))

    parts.append("<h2>Cost</h2>")
    parts.append(table(list(metrics["cost"]), [list(metrics["cost"].values())]))

    parts.append("<h2>Worst overthinking examples</h2><p class=\"meta\">Samples that think on problems the model "
                 "solves reliably without thinking, by extra tokens over its no-think answers.</p>")
    worst = c.get("worst_overthinking") or []
    if worst:
        parts.append(table(["problem", "difficulty", "prompt", "gold", "extra tokens", "tokens", "correct", "completion"],
                           [(w["problem_id"], w["difficulty"], w["prompt"], w["answer"], w["extra_tokens"], w["num_tokens"],
                             w["correct"], f"<pre>{esc(w['text'])}</pre>") for w in worst], raw_cols=(7,)))
    else:
        parts.append("<p>None: no problem was both solved reliably without thinking and answered with a think block.</p>")
    return page(title, subtitle, "".join(parts))


ORCH_KEYS = ("decompose_rate", "decomposition_score", "sub_calls", "sub_accuracy", "accuracy", "serial_accuracy",
             "tokens", "critical_path_tokens", "serial_tokens", "wall_s", "serial_wall_s", "speedup")


def abstraction_section(abstraction: dict) -> str:
    """Plan decomposition per task; then, for the orchestrated runs (the model's own sub-calls vs the
    same model forced serial), every measured number per task and level, and accuracy against the
    tokens a user waits for."""
    parts = ["<h2>Abstraction: decomposition and sub-calls</h2>",
             "<p class=\"meta\">Orchestrated: the model's own &lt;spawn&gt; sub-calls run in parallel and joined; "
             "serial: the same model forced to solve without sub-calls. Tokens and seconds are measured per problem "
             "(greedy, one problem at a time); speedup = serial wall / orchestrated wall, beside both accuracies.</p>"]
    plan = [(t, m["n"], m["decomposition_rate"], m["decomposition_score"]) for t, m in abstraction.items() if "n" in m]
    if plan:
        parts.append(table(["task", "samples", "plan decomposition rate", "plan decomposition score"], plan))
    rows, series = [], []
    for t, m in abstraction.items():
        if "orchestrated" not in m:
            continue
        rows.append((t, "all", *[m["orchestrated"].get(k) for k in ORCH_KEYS]))
        rows += [(t, d, *[x.get(k) for k in ORCH_KEYS]) for d, x in m["by_difficulty"].items()]
        series.append((f"{t} orchestrated", [(x["critical_path_tokens"], x["accuracy"], f"d{d}") for d, x in m["by_difficulty"].items()]))
        series.append((f"{t} serial", [(x["serial_tokens"], x["serial_accuracy"], f"d{d}") for d, x in m["by_difficulty"].items()]))
    if rows:
        parts.append(table(["task", "level", *ORCH_KEYS], rows))
        parts.append(figure(plots.scatter_plot(series, "Accuracy vs tokens waited for", "critical-path tokens (serial: all)",
                                               "accuracy"), "Orchestrated (critical path) vs serial, per level."))
    return "".join(parts)


def tools_section(tools: dict) -> str:
    """The eval report's tool-use table (one row per level, then all)."""
    from ponder.eval.tools import KEYS

    rows = [(d, *(m[k] for k in KEYS)) for d, m in tools["by_difficulty"].items()]
    rows.append(("all", *(tools[k] for k in KEYS)))
    return ("<h2>Tool use</h2><p class=\"meta\">Per level: share of samples that called a tool, accuracy with and "
            "without a call, calls and failed calls per sample, seconds per call, generated and injected tokens "
            "per sample.</p>" + table(["level", *KEYS], rows))
