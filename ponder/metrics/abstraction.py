"""Abstraction: does the model break a problem into parts where it pays, and do the parts compose?

Pure functions. Two sources feed them:
- per-sample rows of decomposable tasks, with `decomposition` = the task's
  `check_decomposition(plan_text, problem)` score in [0, 1] (None without a plan);
- orchestrator records (ponder/eval/orchestrator.py), one per problem: `decomposed` (bool: it
  spawned sub-calls), `decomposition` (score of the spawned parts vs the gold parts, None when
  it did not spawn or the task has no gold structure), `sub_correct` (one bool per sub-call; empty
  without gold parts), `correct` / `serial_correct`, `tokens` (generated, sub-calls included),
  `critical_path_tokens`, `serial_tokens`, `wall_s`, `serial_wall_s` (all measured).

- decomposition_rate: fraction of samples whose plan is a full decomposition (score == 1);
  decomposition_score: the mean score (partial credit included).
- orchestration_metrics: decompose_rate (share of problems the model chose to split),
  decomposition_score (mean over those that split), sub_accuracy, accuracy (orchestrated) beside
  serial_accuracy (the same model without sub-calls), mean generated / critical-path / serial
  tokens, mean wall seconds per problem of each run and speedup = serial wall / orchestrated wall
  (reported next to both accuracies: a speedup means nothing without the accuracy it came at).
"""

from __future__ import annotations

from collections import defaultdict
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
    wall = sum(r["wall_s"] for r in records)
    serial = sum(r["serial_wall_s"] for r in records)
    return {
        "problems": len(records),
        "decompose_rate": mean(float(r["decomposed"]) for r in records),
        "decomposition_score": mean(float(r["decomposition"]) for r in records if r.get("decomposition") is not None),
        "sub_calls": mean(float(r["sub_calls"]) for r in records),
        "sub_accuracy": mean(float(c) for c in subs),
        "accuracy": mean(float(bool(r["correct"])) for r in records),
        "serial_accuracy": mean(float(bool(r["serial_correct"])) for r in records),
        "tokens": mean(float(r["tokens"]) for r in records),
        "critical_path_tokens": mean(float(r["critical_path_tokens"]) for r in records),
        "serial_tokens": mean(float(r["serial_tokens"]) for r in records),
        "wall_s": wall / len(records) if records else float("nan"),
        "serial_wall_s": serial / len(records) if records else float("nan"),
        "speedup": serial / wall if wall > 0 else float("nan"),
    }


def orchestration_by_difficulty(records: Sequence[dict]) -> dict[str, dict[str, float]]:
    """orchestration_metrics per difficulty level (keys are the levels as strings, for JSON)."""
    by: dict[int, list[dict]] = defaultdict(list)
    for r in records:
        by[int(r["difficulty"])].append(r)
    return {str(d): orchestration_metrics(rs) for d, rs in sorted(by.items())}
