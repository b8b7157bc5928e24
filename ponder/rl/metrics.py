"""Per-step training metrics: pure functions over a scored `Batch` (the compute ledger they are
logged with is `ponder.ledger`).

A step whose every group was dropped (dynamic sampling) trained on nothing: its row has no
reward, accuracy or length (a 0.0 there would read as a measurement), only the group counts and
`sampled_accuracy`, the pass rate over every sampled group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ponder.format import PLAN_OPEN, THINK_OPEN
from ponder.stats import mean


def percentile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    if not xs:
        return 0.0
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def batch_metrics(batch) -> dict[str, float]:
    """Reward, accuracy, length, think-rate and plan-rate (overall and per level) of a scored `Batch`."""
    sampled = [c for xs in batch.sampled_correct.values() for c in xs]
    m: dict[str, float] = {
        "zero_var_frac": batch.zero_var_groups / batch.sampled_groups if batch.sampled_groups else 0.0,
        "dropped_frac": batch.dropped_groups / batch.sampled_groups if batch.sampled_groups else 0.0,
        "groups": float(len(batch.completions) // batch.group_size) if batch.group_size else 0.0,
        "sampled_accuracy": mean(sampled) if sampled else None,
    }
    if not batch.completions:
        return m
    n = len(batch.completions)
    lengths = [c.num_tokens for c in batch.completions]
    thinks = [float(THINK_OPEN in c.text) for c in batch.completions]
    plans = [float(PLAN_OPEN in c.text) for c in batch.completions]  # the strategy axis's mode
    reward_mean = mean(batch.rewards)
    m.update({
        "reward_mean": reward_mean,
        "reward_std": (sum((r - reward_mean) ** 2 for r in batch.rewards) / n) ** 0.5,
        "accuracy": mean(batch.correct),
        "len_mean": mean(lengths),
        "len_p50": percentile(lengths, 50),
        "len_p90": percentile(lengths, 90),
        "len_max": float(max(lengths)),
        "think_rate": mean(thinks),
        "plan_rate": mean(plans),
        "truncated_frac": mean([float(c.finish_reason == "length") for c in batch.completions]),
    })
    for name, xs in batch.parts.items():
        m[f"reward/{name}"] = mean(xs)
    by_level: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(batch.problems):
        by_level[p.difficulty].append(i)
    for d, idx in sorted(by_level.items()):
        m[f"think_rate/d{d}"] = mean([thinks[i] for i in idx])
        m[f"plan_rate/d{d}"] = mean([plans[i] for i in idx])
        m[f"accuracy/d{d}"] = mean([batch.correct[i] for i in idx])
        m[f"len_mean/d{d}"] = mean([lengths[i] for i in idx])
    return m


def pass_rates_by_level(batch) -> dict[int, float]:
    """Pass rate per level over every sampled group, dropped ones included: a curriculum that saw
    only the kept groups would never see a level whose groups are all solved (and so all dropped)."""
    return {d: mean(xs) for d, xs in sorted(batch.sampled_correct.items()) if xs}
