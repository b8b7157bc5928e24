"""Tool-use metrics of an evaluation (`ponder eval --tools calc`), from samples.parquet rows.

    tool_metrics(rows)   # {"tool_rate", "accuracy_with_tool", "accuracy_without_tool", ..., "by_difficulty": {d: ...}}

Per level and overall: tool-call rate (share of samples with at least one call), accuracy of the
samples that called a tool and of those that did not (side by side: whether the calls pay), calls
and error calls per sample, tool latency (seconds per call, measured), generated tokens (the
policy's own, injected excluded) and injected tokens per sample. Rows of runs without tools
score a tool rate of 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ponder.stats import mean


def _one(rows: Sequence[dict]) -> dict:
    used = [r for r in rows if r.get("tool_calls", 0)]
    unused = [r for r in rows if not r.get("tool_calls", 0)]
    calls = sum(r.get("tool_calls", 0) for r in rows)
    return {
        "n": len(rows),
        "tool_rate": mean(float(bool(r.get("tool_calls", 0))) for r in rows),
        "accuracy": mean(float(bool(r["correct"])) for r in rows),
        "accuracy_with_tool": mean(float(bool(r["correct"])) for r in used),
        "accuracy_without_tool": mean(float(bool(r["correct"])) for r in unused),
        "tool_calls": mean(float(r.get("tool_calls", 0)) for r in rows),
        "tool_errors": mean(float(r.get("tool_errors", 0)) for r in rows),
        "tool_latency_s": sum(r.get("tool_latency_s", 0.0) for r in rows) / calls if calls else float("nan"),
        "mean_tokens": mean(float(r["num_tokens"]) for r in rows),
        "tool_tokens": mean(float(r.get("tool_tokens", 0)) for r in rows),
    }


def tool_metrics(rows: Sequence[dict]) -> dict:
    """The overall numbers and `by_difficulty` {level: the same numbers}."""
    by: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by[int(r["difficulty"])].append(r)
    return {**_one(rows), "by_difficulty": {d: _one(rs) for d, rs in sorted(by.items())}}


KEYS = ("tool_rate", "accuracy", "accuracy_with_tool", "accuracy_without_tool", "tool_calls", "tool_errors",
        "tool_latency_s", "mean_tokens", "tool_tokens")
