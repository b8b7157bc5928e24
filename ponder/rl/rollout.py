"""Rollout and scoring for the RL loop: `rollout`, `score`, `collect` (with DAPO dynamic
sampling) and `advantages`. Each is importable and tested alone (tests/test_rl_trainer.py);
`ponder.rl.trainer` strings them together. How a group's modes are sampled and credited is the
config's mode strategy (`ponder.rl.modes`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ponder.rl.data import PromptSource
from ponder.types import Completion, Problem, Sampling

if TYPE_CHECKING:
    from ponder.rl.config import TrainConfig


@dataclass
class Batch:
    """One scored batch of G-sized groups, flattened prompt by prompt."""

    problems: list[Problem]  # [N]  (N = groups x G)
    completions: list[Completion]  # [N]
    rewards: list[float]  # [N]
    correct: list[float]  # [N]
    parts: dict[str, list[float]]  # reward name -> [N]
    group_size: int
    dropped_groups: int = 0  # removed by dynamic sampling
    zero_var_groups: int = 0  # groups whose rewards all agree (no gradient under group advantages)
    sampled_groups: int = 0
    gen_time_s: float = 0.0
    # tokens of every sampled completion, dropped groups included: the ledger's sampling cost
    generated_tokens: int = 0
    # level -> correctness of every sampled completion, dropped groups included: what the policy
    # can do now (the kept groups alone are biased toward pass rates near 1/2)
    sampled_correct: dict[int, list[float]] = field(default_factory=dict)


# -- rollout / score / collect ------------------------------------------------------------------
def sampling(cfg: TrainConfig) -> Sampling:
    """The training sampling: the policy itself at `temperature` / `top_p`, stopping at the closing
    answer tag as curation and evaluation do (`Sampling.to_answer`), so the pass rates curation
    measured are those of the sampling training uses."""
    return Sampling.to_answer(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens)


def rollout(policy, problems: list[Problem], cfg: TrainConfig) -> list[Completion]:
    """G completions per problem from the live policy, flattened: [len(problems) * G]."""
    return cfg.mode_strategy.rollout(policy, problems, cfg.group_size, sampling(cfg), cfg.prompt_suffix)


def score(problems: list[Problem], completions: list[Completion], reward) -> tuple[list[float], list[float], dict]:
    """(totals, correctness, parts) of the flattened batch under the combined reward."""
    from ponder.rewards.base import correctness_scores

    totals, parts = reward(problems, completions)
    correct = parts["correct"] if "correct" in parts else correctness_scores(problems, completions)
    return totals, correct, parts


def collect(policy, source: PromptSource, reward, cfg: TrainConfig) -> Batch:
    """Rollout + score, with DAPO dynamic sampling when enabled: groups whose rewards all agree
    carry no gradient under group advantages, so they are replaced by fresh prompts, for at most
    `max_resample_rounds` extra rounds; what is still missing then is simply not filled."""
    G, want = cfg.group_size, cfg.prompts_per_step
    keep: list[tuple[list[Problem], list[Completion], list[float], list[float], dict]] = []
    seen: dict[int, list[float]] = defaultdict(list)
    dropped = sampled = zero_var = generated = 0
    t0 = time.perf_counter()
    rounds = 1 + (cfg.max_resample_rounds if cfg.dynamic_sampling else 0)
    for _ in range(rounds):
        need = want - len(keep)
        if need <= 0:
            break
        problems = source.take(need)
        if cfg.budget > 0:
            from ponder.rewards import with_budget

            problems = [with_budget(p, cfg.budget, cfg.budget_mode) for p in problems]
        completions = rollout(policy, problems, cfg)
        generated += sum(c.num_tokens for c in completions)
        flat = [p for p in problems for _ in range(G)]
        totals, correct, parts = score(flat, completions, reward)
        for p, c in zip(flat, correct):
            seen[p.difficulty].append(c)
        for g in range(len(problems)):
            sl = slice(g * G, (g + 1) * G)
            sampled += 1
            flat_group = max(totals[sl]) - min(totals[sl]) < 1e-9
            zero_var += flat_group
            if cfg.dynamic_sampling and flat_group:
                dropped += 1
                continue
            keep.append((flat[sl], completions[sl], totals[sl], correct[sl], {k: v[sl] for k, v in parts.items()}))
    names = list(keep[0][4]) if keep else []
    return Batch(
        problems=[p for k in keep for p in k[0]], completions=[c for k in keep for c in k[1]],
        rewards=[r for k in keep for r in k[2]], correct=[c for k in keep for c in k[3]],
        parts={n: [x for k in keep for x in k[4][n]] for n in names}, group_size=G,
        dropped_groups=dropped, zero_var_groups=zero_var, sampled_groups=sampled, gen_time_s=time.perf_counter() - t0,
        generated_tokens=generated,
        sampled_correct=dict(sorted(seen.items())))


def advantages(batch: Batch, cfg: TrainConfig, sums: dict | None = None):
    """Advantages of the batch's rewards under the mode strategy: [N] group advantages on-policy,
    [N, 2] for mode-balanced batches (the forced first token's, then every later token's). `sums`:
    the run's per-level statistics for `--mode-level-floor` (updated in place; None: this batch's alone)."""
    import torch

    rewards = torch.tensor(batch.rewards, dtype=torch.float32).view(-1, batch.group_size)  # [P, G]
    levels = [p.difficulty for p in batch.problems[:: batch.group_size]]
    return cfg.mode_strategy.advantages(rewards, cfg.scale, levels, sums)
