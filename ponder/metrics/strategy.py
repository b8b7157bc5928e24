"""Strategy: does the model lay out a plan, is it legal, and does the trace follow it?

Pure functions over per-sample rows of plannable tasks. A row carries `has_plan` (a <plan> block
is present), `plan_parsed` / `plan_valid` / `plan_goal` (from the task's `check_plan`, a
`PlanCheck`; None when there is no plan), `plan_adherence` (the task's `plan_adherence`, the
fraction of plan steps the trace carries out in order; None without a plan) and `correct`.

- plan_rate: fraction of samples with a plan that parses (PlanCheck.parsed).
- plan_validity: fraction of *parsed* plans whose every step is legal (PlanCheck.valid);
  plan_validity_all divides by all samples instead.
- plan_goal_rate: fraction of parsed plans that reach the goal.
- plan_adherence: mean adherence over samples with a parsed plan.
- accuracy_with_plan / accuracy_without_plan: accuracy split by whether a parsed plan is present.
- tokens_with_plan / tokens_without_plan: mean generated tokens (`num_tokens`), split the same way:
  what a plan costs, beside what it buys.

`plan_metrics_by_difficulty` gives the same per difficulty level (where planning should pay).
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.stats import mean


def plan_metrics(rows: Sequence[dict]) -> dict[str, float]:
    parsed = [r for r in rows if r.get("plan_parsed")]
    unplanned = [r for r in rows if not r.get("plan_parsed")]
    return {
        "n": len(rows),
        "plan_rate": mean(float(bool(r.get("plan_parsed"))) for r in rows),
        "plan_validity": mean(float(bool(r.get("plan_valid"))) for r in parsed),
        "plan_validity_all": mean(float(bool(r.get("plan_valid"))) for r in rows),
        "plan_goal_rate": mean(float(bool(r.get("plan_goal"))) for r in parsed),
        "plan_adherence": mean(float(r["plan_adherence"]) for r in parsed if r.get("plan_adherence") is not None),
        "accuracy_with_plan": mean(float(bool(r["correct"])) for r in parsed),
        "accuracy_without_plan": mean(float(bool(r["correct"])) for r in unplanned),
        "tokens_with_plan": mean(r["num_tokens"] for r in parsed if r.get("num_tokens") is not None),
        "tokens_without_plan": mean(r["num_tokens"] for r in unplanned if r.get("num_tokens") is not None),
    }


def plan_metrics_by_difficulty(rows: Sequence[dict]) -> dict[int, dict[str, float]]:
    """`plan_metrics` of each difficulty level's rows, keyed by level (ascending)."""
    levels: dict[int, list[dict]] = {}
    for r in rows:
        levels.setdefault(int(r["difficulty"]), []).append(r)
    return {d: plan_metrics(rs) for d, rs in sorted(levels.items())}
