"""report.html for a curate run: pass-rate histograms per difficulty, samples spent, problems
kept, and the saving against the fixed budget. One self-contained file (inline PNGs).

    from ponder.curate.report import write_report
    write_report(run_dir / "report.html", estimates, stats, priors, config)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ponder.report.html import esc, figure, page, table
from ponder.report.plots import COLORS, _plt, to_data_uri
from ponder.runs import atomic_write_text


def _hist(estimates: Sequence[dict], low: float, high: float) -> str:
    plt = _plt()
    levels = sorted({e["difficulty"] for e in estimates})
    fig, axes = plt.subplots(1, len(levels), figsize=(2.6 * len(levels) + 1, 2.8), sharey=True, squeeze=False)
    bins = [i / 16 for i in range(17)]
    for ax, (j, d) in zip(axes[0], enumerate(levels)):
        rates = [e["pass_rate"] for e in estimates if e["difficulty"] == d]
        kept = [e["pass_rate"] for e in estimates if e["difficulty"] == d and e["kept"]]
        ax.hist(rates, bins=bins, color="#bbbbbb", label="all")
        ax.hist(kept, bins=bins, color=COLORS[j % len(COLORS)], label="kept")
        ax.axvspan(low, high, color="#2ca02c", alpha=0.08)
        ax.set_title(f"difficulty {d} ({len(kept)}/{len(rates)} kept)", fontsize=9)
        ax.set_xlabel("estimated pass rate")
    axes[0][0].set_ylabel("problems")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return to_data_uri(fig)


def _samples_bar(by_level: dict[int, dict], fixed: int) -> str:
    plt = _plt()
    levels = sorted(by_level)
    fig, ax = plt.subplots(figsize=(5.5, 3))
    xs = range(len(levels))
    ax.bar([x - 0.2 for x in xs], [by_level[d]["problems"] * fixed for d in levels], width=0.4,
           color="#bbbbbb", label=f"fixed budget ({fixed}/problem)")
    ax.bar([x + 0.2 for x in xs], [by_level[d]["samples"] for d in levels], width=0.4, color=COLORS[0], label="adaptive")
    ax.set_xticks(list(xs), [str(d) for d in levels])
    ax.set_xlabel("difficulty")
    ax.set_ylabel("samples")
    ax.set_title("Samples spent")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return to_data_uri(fig)


def summarize(estimates: Sequence[dict]) -> dict[int, dict]:
    """Per difficulty: problems, kept, samples, mean pass rate."""
    out: dict[int, dict] = defaultdict(lambda: {"problems": 0, "kept": 0, "samples": 0, "successes": 0})
    for e in estimates:
        g = out[int(e["difficulty"])]
        g["problems"] += 1
        g["kept"] += bool(e["kept"])
        g["samples"] += int(e["samples"])
        g["successes"] += int(e["successes"])
    for g in out.values():
        g["pass_rate"] = g["successes"] / max(1, g["samples"])
    return dict(sorted(out.items()))


def render(estimates: Sequence[dict], stats: dict, priors: dict, config: dict) -> str:
    low, high = config["window"]
    fixed = int(config["max_samples"])
    by_level = summarize(estimates)
    saving = 1.0 - stats["sample_fraction"]
    head = table(["problems", "kept", "samples spent", f"fixed budget ({fixed}/problem)", "fraction of budget",
                  "saving", "tokens", "rounds", "wall s"],
                 [(stats["problems"], stats["kept"], stats["samples"], stats["fixed_budget_samples"],
                   stats["sample_fraction"], saving, stats["tokens"], stats["rounds"], stats["wall_s"])])
    levels = table(["difficulty", "problems", "kept", "samples", "samples / problem", "pooled pass rate", "prior (a, b)"],
                   [(d, g["problems"], g["kept"], g["samples"], g["samples"] / max(1, g["problems"]), g["pass_rate"],
                     ", ".join(f"{k}: {v[0]:.2f}, {v[1]:.2f}" for k, v in priors.items() if k.endswith(f"/d{d}")))
                    for d, g in by_level.items()])
    rule = (f"window [{low}, {high}], rule {config['rule']}, confidence {config['confidence']}, "
            f"rounds {config['first_round']} then {config['round_size']} up to {fixed}, prior {config['prior']}")
    body = (f"<h2>Summary</h2><p class=\"meta\">{esc(rule)}</p>{head}"
            f"<h2>Per difficulty</h2>{levels}"
            + figure(_hist(estimates, low, high), "estimated pass rate (successes / samples) per problem; "
                     "colored = kept; shaded = the window")
            + figure(_samples_bar(by_level, fixed), "samples spent by the adaptive rule vs the fixed budget"))
    subtitle = f"model {config.get('model')} ({config.get('backend')}), tasks {', '.join(config.get('tasks', []))}"
    return page("ponder curate", subtitle, body)


def write_report(path: str | Path, estimates: Sequence[dict], stats: dict, priors: dict, config: dict) -> Path:
    return atomic_write_text(path, render(estimates, stats, priors, config))
