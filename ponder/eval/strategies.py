"""Parallel test-time compute strategies: how n samples of one problem become one answer.

Each strategy is a function over the n sample rows of one problem (in sample order) returning
{"correct": float, "tokens": float, "time_s": float}: whether its answer is right and what the
answer cost. Every strategy is scored on the same samples, so the report can put accuracy next
to cost for all of them; `--strategy` only picks the headline.

- sample: one sample is the answer; its expected accuracy is the mean over the n samples, and its
  cost is one sample's mean tokens and generation time.
- best-of-n: the verifier scores all n and the best is kept (earliest on ties). With the task's
  own verifier this is pass@n; its cost is all n samples plus the verification time.
- majority: self-consistency (Wang et al. 2022): the most common extracted answer wins, ties to
  the answer voted first (ponder.metrics.skills.majority_vote); costs all n samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ponder.metrics.skills import best_of_n_index, group_by_problem, majority_vote
from ponder.stats import mean


def sample(group: Sequence[dict]) -> dict:
    return {
        "correct": mean(float(bool(r["correct"])) for r in group),
        "tokens": mean(r["num_tokens"] for r in group),
        "time_s": mean(r["gen_s"] for r in group),
    }


def best_of_n(group: Sequence[dict]) -> dict:
    pick = best_of_n_index([float(r["score"]) for r in group])
    return {
        "correct": float(bool(group[pick]["correct"])),
        "tokens": float(sum(r["num_tokens"] for r in group)),
        "time_s": sum(r["gen_s"] + r.get("verify_s", 0.0) for r in group),
    }


def majority(group: Sequence[dict]) -> dict:
    win = majority_vote([r.get("pred") for r in group])
    return {
        "correct": float(win is not None and bool(group[win]["correct"])),
        "tokens": float(sum(r["num_tokens"] for r in group)),
        "time_s": sum(r["gen_s"] for r in group),
    }


STRATEGIES: dict[str, Callable[[Sequence[dict]], dict]] = {
    "sample": sample,
    "best-of-n": best_of_n,
    "majority": majority,
}


def score_strategies(rows: Sequence[dict]) -> dict[str, dict]:
    """Per strategy: accuracy (mean over problems), tokens and seconds per problem (NaN, JSON null in
    metrics.json, when there are no problems: no accuracy rather than accuracy 0)."""
    groups = list(group_by_problem(rows).values())
    out = {}
    for name, fn in STRATEGIES.items():
        results = [fn(g) for g in groups]
        out[name] = {
            "accuracy": mean(r["correct"] for r in results),
            "tokens_per_problem": mean(r["tokens"] for r in results),
            "time_per_problem_s": mean(r["time_s"] for r in results),
            "problems": len(results),
        }
    return out
