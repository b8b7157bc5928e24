"""From per-sample rows to the metrics JSON of an evaluation run (and the demo's summary).

`compute_metrics` only calls the pure functions of `ponder.metrics` and `ponder.eval.strategies`,
so `ponder report RUN` can recompute everything from samples.parquet alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ponder import metrics as M
from ponder.eval.strategies import score_strategies
from ponder.stats import mean


def summarize(rows: Sequence[dict]) -> dict:
    """{'accuracy', 'n', 'by_difficulty': {d: {'accuracy', 'think_rate', 'mean_tokens', 'n'}}}.

    The shape the demo's summary.json needs (difficulty keys are ints here; JSON makes them strings).
    """
    eff = M.effort_by_difficulty(rows)
    return {
        "accuracy": mean(float(bool(r["correct"])) for r in rows),
        "n": len(rows),
        "by_difficulty": {d: {k: e[k] for k in ("accuracy", "think_rate", "mean_tokens", "n")} for d, e in eff.items()},
    }


def _clean(obj):
    """NaN -> None (JSON has no NaN) and int keys kept as they are (json.dumps stringifies them)."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def budget_curve(rows: Sequence[dict]) -> list[dict]:
    """Accuracy vs think budget: one point per `think_budget` value in `rows` (budget-swept evals),
    smallest first, with the tokens spent there; [] when the rows carry no budget."""
    budgets = sorted({r["think_budget"] for r in rows if r.get("think_budget") is not None})
    out = []
    for b in budgets:
        rs = [r for r in rows if r.get("think_budget") == b]
        out.append({"think_budget": b, "accuracy": mean(float(bool(r["correct"])) for r in rs),
                    "mean_tokens": mean(r["num_tokens"] for r in rs), "mean_think_tokens": mean(r["think_tokens"] for r in rs),
                    "think_rate": mean(float(bool(r["has_think"])) for r in rs), "n": len(rs)})
    return out


def headline_rows(rows: Sequence[dict]) -> list[dict]:
    """The rows every headline metric is computed from: those of the largest think budget in a
    budget sweep (the other budgets appear in the curve only), else all of them."""
    budgets = [r["think_budget"] for r in rows if r.get("think_budget") is not None]
    return [r for r in rows if r.get("think_budget") == max(budgets)] if budgets else list(rows)


def extraction_counts(rows: Sequence[dict]) -> dict[str, int]:
    """How each sample's answer was found (strict, boxed, answer_is, last_number, none)."""
    out: dict[str, int] = {}
    for r in rows:
        key = r.get("extracted_by") or "none"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def compute_metrics(rows: Sequence[dict], *, orchestration: Sequence[dict] = (), params: int | None = None,
                    wall_s: float = 0.0, max_new_tokens: int = 256, strategy: str = "sample") -> dict:
    """Every metric of the four axes plus cost, as one JSON-ready dict (see docs/eval.md).

    A budget sweep's rows give `effort.budget_curve`; every other metric is of the largest budget."""
    all_rows = list(rows)
    rows = headline_rows(all_rows)
    strategies = score_strategies(rows)
    correct = [bool(r["correct"]) for r in rows]
    lo, hi = M.wilson_interval(sum(correct), len(correct))
    curves = M.pass_and_maj_curves(rows)
    k_max = max(curves["pass"], default=None)
    ou = M.over_under_thinking(rows)
    examples = ou.pop("examples")
    skills = {
        "accuracy": mean(map(float, correct)), "accuracy_lo": lo, "accuracy_hi": hi,
        "strategy": strategy, "strategy_accuracy": strategies.get(strategy, {}).get("accuracy"),
        "by_task_difficulty": M.accuracy_table(rows, ("task", "difficulty")),
        "by_difficulty": M.accuracy_table(rows, ("difficulty",)),
        "by_task": M.accuracy_table(rows, ("task",)),
        "pass_at_k": curves["pass"], "maj_at_k": curves["maj"], "k_max": k_max,
        "strategies": strategies,
    }
    calibration = {
        "by_difficulty": M.effort_by_difficulty(rows),
        "think_rate": mean(float(bool(r["has_think"])) for r in rows),
        **M.effort_correlations(rows),
        **M.outcome_efficiency(rows),
        **ou,
        "t_max": max_new_tokens,
        "auc_oaa_think": M.auc_oaa(correct, [r["think_tokens"] for r in rows], max_new_tokens) if rows else None,
        "auc_oaa_total": M.auc_oaa(correct, [r["num_tokens"] for r in rows], max_new_tokens) if rows else None,
        "worst_overthinking": [
            {k: rows[i].get(k) for k in ("problem_id", "difficulty", "prompt", "answer", "text", "num_tokens", "correct")}
            | {"extra_tokens": extra} for i, extra in examples[:10]
        ],
    }
    plan_rows: dict[str, list[dict]] = {}
    dec_rows: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("plannable"):
            plan_rows.setdefault(r["task"], []).append(r)
        if r.get("decomposable"):
            dec_rows.setdefault(r["task"], []).append(r)
    strategy_axis = {t: {**M.plan_metrics(rs), "by_difficulty": M.plan_metrics_by_difficulty(rs)}
                     for t, rs in sorted(plan_rows.items())}
    abstraction = {t: M.decomposition_metrics(rs) for t, rs in sorted(dec_rows.items())}
    orch_by_task: dict[str, list[dict]] = {}
    for rec in orchestration:
        orch_by_task.setdefault(rec["task"], []).append(rec)
    for t, recs in sorted(orch_by_task.items()):
        abstraction.setdefault(t, {}).update(orchestrated=M.orchestration_metrics(recs),
                                             by_difficulty=M.orchestration_by_difficulty(recs))
    out = {
        "summary": summarize(rows),
        "skills": skills,
        "calibration": calibration,
        "strategy": strategy_axis,
        "abstraction": abstraction,
        "cost": {**M.cost_metrics(rows, params, wall_s),
                 **({"sweep_generated_tokens": sum(int(r["num_tokens"]) for r in all_rows)} if len(all_rows) > len(rows) else {})},
        "effort": {"budget_curve": budget_curve(all_rows), "extraction": extraction_counts(rows)},
    }
    if any(r.get("tool_names") is not None for r in rows):  # a run with --tools
        from ponder.eval.tools import tool_metrics

        out["tools"] = tool_metrics(rows)
    return _clean(out)
