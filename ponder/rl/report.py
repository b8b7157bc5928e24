"""report.html of a training run: curves over steps from metrics.jsonl and a per-level table of
the last steps (one self-contained file, built from `ponder.report.html`'s primitives).

    html = render_train_report(rows, title="train runs/train-x")
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ponder.stats import mean

FINAL_WINDOW = 10  # the per-level table averages the last steps that trained on data (one step is noisy)


def _series(rows: Sequence[dict], key: str) -> dict[int, float]:
    return {r["step"]: r[key] for r in rows if isinstance(r.get(key), (int, float))}


def _levels(rows: Sequence[dict]) -> list[int]:
    found = {int(m.group(1)) for r in rows for k in r if (m := re.fullmatch(r"accuracy/d(\d+)", k))}
    return sorted(found)


def final_by_level(rows: Sequence[dict], window: int = FINAL_WINDOW) -> list[tuple]:
    """(level, accuracy, think rate, p_think, mean tokens) averaged over the last `window` steps
    that had data for that level (None where a metric was never logged)."""
    out = []
    for d in _levels(rows):
        cells = []
        for key in ("accuracy", "think_rate", "p_think", "len_mean"):
            xs = [r[f"{key}/d{d}"] for r in rows if isinstance(r.get(f"{key}/d{d}"), (int, float))][-window:]
            cells.append(mean(xs) if xs else None)
        out.append((d, *cells))
    return out


def render_train_report(rows: Sequence[dict], summary: dict, title: str = "ponder train", subtitle: str = "") -> str:
    """The HTML page: run summary, curves over steps, per-level table of the last steps."""
    from ponder.report.html import figure, page, table
    from ponder.report.plots import line_plot

    rows = [r for r in rows if "step" in r]
    levels = _levels(rows)
    think_key = "p_think" if any("p_think" in r for r in rows) else "think_rate"
    figs = [
        figure(line_plot([("reward", _series(rows, "reward_mean"))], "Reward", "step", "mean reward", styles=["-"]),
               "mean reward of the trained groups"),
        figure(line_plot([("trained groups", _series(rows, "accuracy")),
                          ("all sampled groups", _series(rows, "sampled_accuracy"))],
                         "Accuracy", "step", "accuracy", (-0.03, 1.03), styles=["-", "--"]),
               "correctness; with dynamic sampling the trained groups are the mixed ones"),
        figure(line_plot([(f"d{d}", _series(rows, f"{think_key}/d{d}")) for d in levels] or
                         [("all", _series(rows, think_key))],
                         "Think-rate by level", "step", think_key, (-0.03, 1.03), styles=["-"] * max(1, len(levels))),
               "p_think: the policy's own probability of starting with <think>" if think_key == "p_think"
               else "fraction of samples that think"),
        figure(line_plot([(f"d{d}", _series(rows, f"len_mean/d{d}")) for d in levels] or
                         [("all", _series(rows, "len_mean"))],
                         "Completion length by level", "step", "mean tokens", styles=["-"] * max(1, len(levels))),
               "mean generated tokens per sample"),
    ]
    parts = ["<h2>Run</h2>", table(["", "value"], list(summary.items())),
             '<h2>Curves over steps</h2><div class="plots">' + "".join(figs) + "</div>",
             f"<h2>Per level, last {FINAL_WINDOW} steps with data</h2>",
             table(["level", "accuracy", "think rate", "p_think", "mean tokens"], final_by_level(rows))]
    return page(title, subtitle, "".join(parts))
