"""Per-step training metrics and the compute ledger: pure functions over a scored batch.

Compute ledger (Kaplan et al. 2020 rule of thumb): training costs 6 x params x tokens (forward +
backward), generation 2 x params x tokens (forward only). The warm start's FLOPs come from the
model dir's `ponder.json` ({"params": N, "flops": {"sft": F, ...}}); RL adds
6 x params x trained tokens (prompt + completion, per optimisation epoch) + 2 x params x generated
tokens. `post_training_share` = RL FLOPs / all FLOPs in the ledger: the talk's 0.18% (DeepSeek-V3
era) rising toward 10-20% for reasoning models.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ponder.format import THINK_OPEN


def percentile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    if not xs:
        return 0.0
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def batch_metrics(batch) -> dict[str, float]:
    """Reward, accuracy, length, think-rate (overall and per level) of a scored `Batch`."""
    n = len(batch.completions)
    lengths = [c.num_tokens for c in batch.completions]
    thinks = [float(THINK_OPEN in c.text) for c in batch.completions]
    m: dict[str, float] = {
        "reward_mean": _mean(batch.rewards),
        "reward_std": (sum((r - _mean(batch.rewards)) ** 2 for r in batch.rewards) / n) ** 0.5 if n else 0.0,
        "accuracy": _mean(batch.correct),
        "len_mean": _mean(lengths),
        "len_p50": percentile(lengths, 50),
        "len_p90": percentile(lengths, 90),
        "len_max": float(max(lengths, default=0)),
        "think_rate": _mean(thinks),
        "truncated_frac": _mean([float(c.finish_reason == "length") for c in batch.completions]),
        "zero_var_frac": batch.zero_var_groups / batch.sampled_groups if batch.sampled_groups else 0.0,
        "dropped_frac": batch.dropped_groups / batch.sampled_groups if batch.sampled_groups else 0.0,
        "groups": float(n // batch.group_size) if batch.group_size else 0.0,
    }
    for name, xs in batch.parts.items():
        m[f"reward/{name}"] = _mean(xs)
    by_level: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(batch.problems):
        by_level[p.difficulty].append(i)
    for d, idx in sorted(by_level.items()):
        m[f"think_rate/d{d}"] = _mean([thinks[i] for i in idx])
        m[f"accuracy/d{d}"] = _mean([batch.correct[i] for i in idx])
        m[f"len_mean/d{d}"] = _mean([lengths[i] for i in idx])
    return m


def mode_metrics(policy, batch, cfg) -> dict[str, float]:
    """`p_think` (overall and per level): the policy's own probability of starting with <think>
    on the batch's prompts, for mode-balanced batches whose sampled think-rate is forced to 1/2."""
    from ponder.rl.rollout import think_probability

    firsts = batch.problems[:: batch.group_size]
    probs = think_probability(policy, firsts, cfg.temperature)
    m = {"p_think": _mean(probs)}
    by_level: dict[int, list[float]] = defaultdict(list)
    for p, x in zip(firsts, probs):
        by_level[p.difficulty].append(x)
    for d, xs in sorted(by_level.items()):
        m[f"p_think/d{d}"] = _mean(xs)
    return m


def pass_rates_by_level(batch) -> dict[int, float]:
    by_level: dict[int, list[float]] = defaultdict(list)
    for p, c in zip(batch.problems, batch.correct):
        by_level[p.difficulty].append(c)
    return {d: _mean(xs) for d, xs in sorted(by_level.items())}


def rl_flops(params: int, trained_tokens: int, generated_tokens: int) -> float:
    return 6.0 * params * trained_tokens + 2.0 * params * generated_tokens


def post_training_share(prior_flops: dict[str, float], rl: float) -> float:
    """RL FLOPs over all FLOPs (prior stages from ponder.json plus this run's RL)."""
    prior_post = sum(v for k, v in prior_flops.items() if k.startswith("rl"))
    total = sum(prior_flops.values()) + rl
    return (prior_post + rl) / total if total > 0 else 0.0
