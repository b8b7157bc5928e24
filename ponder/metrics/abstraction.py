"""Abstraction: does the model break a decomposable problem into parts, and do the parts compose?

Pure functions. Two sources feed them:
- per-sample rows of decomposable tasks, with `decomposition` = the task's
  `check_decomposition(plan_text, problem)` score in [0, 1] (None without a plan);
- orchestrator records (ponder/eval/orchestrator.py), one per problem, with `sub_correct`
  (list of bools, one per sub-problem), `composed_correct` (bool), `parallel_s`, `sequential_s`.

- decomposition_rate: fraction of samples whose plan is a full decomposition (score == 1);
  decomposition_score: the mean score (partial credit included).
- sub_accuracy: fraction of all sub-problems solved; composed_accuracy: fraction of problems
  whose composed answer verifies; speedup: total sequential time / total parallel time.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.stats import mean


def decomposition_metrics(rows: Sequence[dict]) -> dict[str, float]:
    scores = [float(r["decomposition"]) if r.get("decomposition") is not None else 0.0 for r in rows]
    return {
        "n": len(rows),
        "decomposition_rate": mean(float(s >= 1.0) for s in scores),
        "decomposition_score": mean(scores),
    }


def orchestration_metrics(records: Sequence[dict]) -> dict[str, float]:
    subs = [bool(c) for r in records for c in r["sub_correct"]]
    par = sum(r["parallel_s"] for r in records)
    seq = sum(r["sequential_s"] for r in records)
    return {
        "problems": len(records),
        "subproblems": len(subs),
        "sub_accuracy": mean(float(c) for c in subs),
        "composed_accuracy": mean(float(bool(r["composed_correct"])) for r in records),
        "parallel_s": par,
        "sequential_s": seq,
        "speedup": seq / par if par > 0 else float("nan"),
    }
