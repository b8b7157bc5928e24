"""GRPO-family losses: pure tensor functions, each tested against hand-derived values.

    adv = group_advantages(rewards, "group")            # rewards [P, G] -> adv [P*G]
    loss, stats = policy_loss(logp, old_logp, adv, mask, variant="dapo", eps_low=0.2, eps_high=0.28)

Sources and departures:
- Group advantages: GRPO (Shao et al. 2024, DeepSeekMath) A_i = (r_i - mean(r)) / std(r). We use the
  *unbiased* group std plus 1e-6, as TRL's GRPOTrainer and verl's `compute_grpo_outcome_advantage` do.
  "batch" scales by the std of all rewards in the batch after group-mean centring (the
  "batch"-level scaling of TRL's `scale_rewards="batch"`: mean per group, std over the batch,
  unbiased); "none" is Dr. GRPO (Liu et al. 2025), which drops the std division because it
  up-weights groups whose rewards barely differ.
- Clipped surrogate: PPO (Schulman et al. 2017) per token,
  -min(r*A, clip(r, 1-eps_low, 1+eps_high)*A), r = exp(logp - old_logp); clip-higher
  (eps_high > eps_low) is DAPO's (Yu et al. 2025).
- Aggregation (the one thing the variants really differ in), from `AGGREGATIONS`:
  "grpo" mean over each sequence's tokens, then over sequences (DeepSeekMath);
  "dapo" sum over all tokens / number of unmasked tokens (token-level, DAPO);
  "dr_grpo" sum over all tokens / (N x max_len), a constant, so long answers are not
  down-weighted per token (Dr. GRPO).
- KL: the k3 estimator exp(ref - logp) - (ref - logp) - 1 (Schulman 2020, "Approximating KL
  divergence"), unbiased and non-negative, as GRPO uses; off by default (beta=0), as in DAPO and
  Dr. GRPO.
"""

from __future__ import annotations

from typing import Callable

import torch

STD_EPS = 1e-6


def _centre(rewards: torch.Tensor) -> torch.Tensor:
    return rewards - rewards.mean(dim=1, keepdim=True)


def _std_group(rewards: torch.Tensor) -> torch.Tensor:
    # unbiased std (divide by G-1), as TRL and verl; a group of one has std 0 -> NaN guarded
    std = rewards.std(dim=1, keepdim=True, unbiased=True) if rewards.shape[1] > 1 else torch.zeros_like(rewards[:, :1])
    return torch.nan_to_num(std) + STD_EPS


def _std_batch(rewards: torch.Tensor) -> torch.Tensor:
    # the unbiased std of ALL rewards of the batch (TRL scale_rewards="batch")
    std = rewards.flatten().std(unbiased=True) if rewards.numel() > 1 else torch.zeros(())
    return torch.nan_to_num(std) + STD_EPS


# advantage scale -> the divisor of the group-centred rewards
ADVANTAGE_SCALES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "group": _std_group,
    "batch": _std_batch,
    "none": lambda rewards: torch.ones(()),
}


def group_advantages(rewards: torch.Tensor, scale: str = "group") -> torch.Tensor:
    """Advantages for rewards [num_prompts, G]; returns [num_prompts * G] (row-major, prompt by prompt)."""
    if scale not in ADVANTAGE_SCALES:
        raise ValueError(f"unknown advantage scale {scale!r}; choose from {', '.join(ADVANTAGE_SCALES)}")
    rewards = torch.as_tensor(rewards, dtype=torch.float32)
    if rewards.ndim != 2:
        raise ValueError(f"rewards must be [num_prompts, G], got shape {tuple(rewards.shape)}")
    return (_centre(rewards) / ADVANTAGE_SCALES[scale](rewards)).flatten()


def mode_advantages(rewards: torch.Tensor, scale: str = "group", floor: float | torch.Tensor = 0.0) -> torch.Tensor:
    """[num_prompts * G, 2] advantages of mode-balanced groups (first G/2 samples one mode, the
    rest the other), both divided by the group's usual scale (column 0 by at least `floor`):

    - column 0, for the forced first token: its half's mean reward minus the group's mean. Every
      sample of a half starts with the same forced token, so the half's mean is an unbiased and
      G/2 times less noisy estimate of that token's value than one sample's reward; the sum over a
      half equals that of the per-sample group advantages. It matters because the forced token's
      advantage is weighted by its sign (`ponder.rl.modes.first_token_split`): per sample, a
      lucky correct direct answer in a half that mostly fails is a positive, unweighted pull
      toward the losing mode (docs/train.md has the plateau it caused); by the half's mean, a
      mode is pulled up only where it wins.
    - column 1, for every later token: the sample's reward centred on its own half's mean instead
      of the whole group's. A baseline may depend on anything sampled before the token it scores,
      so this stays unbiased, and it stops one mode's reward level from leaking into the other's
      tokens: a correct trace on an easy prompt is not pushed down because answering directly
      earned a bonus (that lesson belongs to the choice of mode, the first token).

    `floor` (default 0: the scale as is) is the least divisor of column 0. In a group whose samples
    are all right, the only spread is a small bonus (e.g. `nothink`'s 0.05), and divided by that
    spread's own std the bonus becomes a full +-1, as strong a push as a mode that doubles the
    accuracy; max(scale, floor) caps that magnification at 1/floor and leaves every group whose
    std is above the floor (any group with a wrong answer, for 0/1 correctness) unchanged. It may
    also be a [num_prompts] tensor, one floor per group (`level_floors`).

    ponder's own."""
    rewards = torch.as_tensor(rewards, dtype=torch.float32)
    P, G = rewards.shape
    if G % 2:
        raise ValueError(f"mode-balanced groups need an even G, got {G}")
    halves = rewards.view(P, 2, G // 2)
    half_means = halves.mean(dim=2, keepdim=True)  # [P, 2, 1]
    scale_by = ADVANTAGE_SCALES[scale](rewards).view(-1, 1, 1)
    floor_by = torch.as_tensor(floor, dtype=torch.float32).expand(P).reshape(P, 1, 1)
    first = ((half_means - rewards.mean(dim=1).view(P, 1, 1)) / torch.maximum(scale_by, floor_by)).expand(P, 2, G // 2)
    within = (halves - half_means) / scale_by
    return torch.stack([first.reshape(-1), within.reshape(-1)], dim=1)


def mode_gaps(rewards: torch.Tensor) -> torch.Tensor:
    """[num_prompts] the forced first token's advantage in each mode-balanced group before any
    scaling, as a magnitude: |first half's mean - second half's mean| / 2."""
    rewards = torch.as_tensor(rewards, dtype=torch.float32)
    P, G = rewards.shape
    halves = rewards.view(P, 2, G // 2).mean(dim=2)
    return (halves[:, 0] - halves[:, 1]).abs() / 2


def level_floors(gaps: torch.Tensor, levels: list, sums: dict[str, list[float]], factor: float) -> torch.Tensor:
    """[num_prompts] per-group floors for `mode_advantages`: `factor` x the root-mean-square gap
    (`mode_gaps`) of every group of the same difficulty level seen so far, this batch's included.
    `sums` maps str(level) -> [sum of squared gaps, groups] and is updated in place (it is part of
    the trainer's state, so a resumed run goes on with the same statistics).

    Why: a group's own std cannot tell an easy level, where the direct answer is as good as the
    trace on every prompt, from a level where it is as good on some prompts and much worse on
    others. Both have groups whose samples are all right, in which the group std magnifies the
    bonus alone to +-1; at the second kind that pulls the whole level toward answering directly
    though in expectation thinking wins (docs/train.md, "Robustness over seeds"). The level's
    typical gap is what tells them apart: ~0.03 where the modes tie everywhere (the floor stays
    under the all-correct group's own std and nothing changes), ~0.2 where they often differ (the
    floor caps those groups' magnified bonus). ponder's own."""
    for level, gap in zip(levels, gaps.tolist()):
        acc = sums.setdefault(str(level), [0.0, 0])
        acc[0] += gap * gap
        acc[1] += 1
    return torch.tensor([factor * (sums[str(lv)][0] / sums[str(lv)][1]) ** 0.5 for lv in levels], dtype=torch.float32)


# -- aggregation: per-token loss [N, T] + mask [N, T] -> scalar --------------------------------
def _agg_grpo(tok: torch.Tensor, mask: torch.Tensor, max_len: int | None) -> torch.Tensor:
    per_seq = (tok * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    return per_seq.mean()


def _agg_dapo(tok: torch.Tensor, mask: torch.Tensor, max_len: int | None) -> torch.Tensor:
    return (tok * mask).sum() / mask.sum().clamp(min=1)


def _agg_dr_grpo(tok: torch.Tensor, mask: torch.Tensor, max_len: int | None) -> torch.Tensor:
    length = max_len if max_len is not None else mask.shape[-1]
    return (tok * mask).sum() / (mask.shape[0] * length)


AGGREGATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor, int | None], torch.Tensor]] = {
    "grpo": _agg_grpo,
    "dapo": _agg_dapo,
    "dr_grpo": _agg_dr_grpo,
}


# Gradient accumulation: the weight of one micro-batch's aggregated loss such that the weighted
# sum over micro-batches equals the loss aggregated over the whole minibatch (exactly, for any split).
#   grpo:    micro mean over n seqs      -> x n/N
#   dapo:    micro sum / micro tokens    -> x micro tokens / all tokens
#   dr_grpo: micro sum / (n x max_len)   -> x n/N
MICRO_WEIGHTS: dict[str, Callable[[float, float, int, int], float]] = {
    "grpo": lambda tok, all_tok, n, N: n / N,
    "dapo": lambda tok, all_tok, n, N: float(tok) / max(float(all_tok), 1.0),
    "dr_grpo": lambda tok, all_tok, n, N: n / N,
}


def micro_weight(variant: str, tokens, all_tokens, n: int, N: int) -> float:
    return MICRO_WEIGHTS[variant](tokens, all_tokens, n, N)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || ref): exp(ref - logp) - (ref - logp) - 1  (>= 0)."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-position entropy of the softmax over the last dim: [..., V] -> [...]."""
    logz = torch.logsumexp(logits, dim=-1)
    p = torch.softmax(logits, dim=-1)
    return logz - (p * logits).sum(-1)


def policy_loss(
    logp: torch.Tensor,  # [N, T] log pi_theta(token)
    old_logp: torch.Tensor,  # [N, T] log pi_old(token), detached
    advantages: torch.Tensor,  # [N], or [N, T] per token
    mask: torch.Tensor,  # [N, T] 1 for completion tokens that count
    *,
    variant: str = "grpo",
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    max_len: int | None = None,
    ref_logp: torch.Tensor | None = None,  # [N, T] reference policy, for the KL term
    beta: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped surrogate loss aggregated by `variant`; returns (loss, stats).

    stats: clip_low_frac / clip_high_frac (fraction of unmasked tokens where the clipped branch
    is active on the low / high side), clip_frac (their sum), ratio_mean, kl (k3, when ref given).
    """
    if variant not in AGGREGATIONS:
        raise ValueError(f"unknown loss variant {variant!r}; choose from {', '.join(AGGREGATIONS)}")
    mask = mask.to(logp.dtype)
    adv = advantages.to(logp.dtype)
    adv = adv.unsqueeze(-1) if adv.ndim == 1 else adv  # [N, 1], or per token [N, T]
    ratio = torch.exp(logp - old_logp.detach())  # [N, T]
    clipped = ratio.clamp(1 - eps_low, 1 + eps_high)
    tok = -torch.min(ratio * adv, clipped * adv)  # [N, T]
    stats: dict[str, float] = {}
    if ref_logp is not None and beta != 0.0:
        kl = kl_k3(logp, ref_logp.detach())
        tok = tok + beta * kl
        stats["kl"] = float(masked_mean(kl.detach(), mask))
    loss = AGGREGATIONS[variant](tok, mask, max_len)
    with torch.no_grad():
        # the min picks the clipped branch where it is smaller: r < 1-eps with A < 0, r > 1+eps with A > 0
        low = ((ratio < 1 - eps_low) & (adv < 0)).to(mask.dtype)
        high = ((ratio > 1 + eps_high) & (adv > 0)).to(mask.dtype)
        stats["clip_low_frac"] = float(masked_mean(low, mask))
        stats["clip_high_frac"] = float(masked_mean(high, mask))
        stats["clip_frac"] = stats["clip_low_frac"] + stats["clip_high_frac"]
        stats["ratio_mean"] = float(masked_mean(ratio, mask))
    return loss, stats
