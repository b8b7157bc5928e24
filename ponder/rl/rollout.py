"""Rollout and scoring for the RL loop: `rollout`, `score`, `collect` (with DAPO dynamic
sampling) and `advantages`. Each is importable and tested alone (tests/test_rl_trainer.py);
`ponder.rl.trainer` strings them together.

Mode-balanced rollouts (`balance_modes`, AdaptThink: Zhang et al. 2025, "AdaptThink: Reasoning
Models Can Learn When to Think", sec. 3.2): half of every group is started with `<think>` and half
with `<answer>`, the forced first token becoming part of the completion; every later token is
sampled on-policy and scored against its own half's mean, and the forced token is scored by its
half's mean reward against the group's (`ponder.rl.losses.mode_advantages`). The forced token's
negative advantages are importance-weighted by pi_old / 0.5, its positive ones are not
(`ponder.rl.update.first_token_split` says why). So both modes are compared on every prompt
however rarely the policy would pick one, which on-policy sampling cannot do once a mode's
probability nears 0 or 1 (a group of 8 that all think teaches nothing about answering directly).
Departures: AdaptThink forces `</think>` (an empty thought) vs a common first word of thought
(ponder's two first tokens are `<think>` and `<answer>`), and it takes the PPO ratio of the forced
token against the 0.5 draw.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ponder.errors import PonderError
from ponder.rl.data import PromptSource
from ponder.types import Completion, Problem

if TYPE_CHECKING:
    from ponder.rl.trainer import TrainConfig


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


# -- rollout / score / collect ------------------------------------------------------------------
def rollout(policy, problems: list[Problem], cfg: TrainConfig) -> list[Completion]:
    """G completions per problem from the live policy, flattened: [len(problems) * G]."""
    from ponder.types import Sampling

    sampling = Sampling(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens)
    if not cfg.balance_modes:
        prompts = [policy.render(p, cfg.prompt_suffix) for p in problems]
        return [c for group in policy.generate(prompts, cfg.group_size, sampling) for c in group]
    half, ids = cfg.group_size // 2, mode_token_ids(policy.tokenizer)
    by_mode = [policy.generate([policy.render(p, tag) for p in problems], half, sampling) for tag in MODES]
    return [force_prefix(policy, tag, tid, c) for i in range(len(problems))
            for tag, tid, outs in zip(MODES, ids, by_mode) for c in outs[i]]


MODES = ("<think>", "<answer>")  # the forced first tokens of a mode-balanced group, G/2 each
FORCED_LOGPROB = math.log(0.5)  # the probability each forced first token was drawn with


def mode_token_ids(tokenizer) -> list[int]:
    """The token id of each tag in MODES; PonderError if a tag is not a single token."""
    ids = [tokenizer.encode(tag, add_special_tokens=False) for tag in MODES]
    if any(len(i) != 1 for i in ids):
        raise PonderError(f"--balance-modes needs {' and '.join(MODES)} to be single tokens of the tokenizer")
    return [i[0] for i in ids]


def force_prefix(policy, tag: str, tid: int, c: Completion) -> Completion:
    """`c` sampled after a forced `tag` (token id `tid`), as one completion that starts with the tag."""
    from ponder.policy import segment_token_counts

    text = tag + c.text
    think, answer = segment_token_counts(text, policy.count_tokens)
    return replace(c, text=text, token_ids=[tid, *c.token_ids], num_tokens=c.num_tokens + 1,
                   logprobs=None if c.logprobs is None else [FORCED_LOGPROB, *c.logprobs],
                   think_tokens=think, answer_tokens=answer)


def think_probability(policy, problems: list[Problem], temperature: float) -> list[float]:
    """pi(<think> | prompt) at the first completion token, per problem: the policy's own think-rate
    (what a mode-balanced batch's forced think-rate of 0.5 hides)."""
    import torch

    from ponder.rl.update import encode_prompt

    think_id = mode_token_ids(policy.tokenizer)[0]
    model, tok = policy.model, policy.tokenizer
    out = []
    with torch.no_grad():
        for p in problems:
            ids = torch.tensor([encode_prompt(tok, policy.render(p))], device=policy.device)
            logits = model(input_ids=ids).logits[0, -1].float() / temperature
            out.append(float(torch.softmax(logits, -1)[think_id]))
    return out


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
    dropped = sampled = zero_var = 0
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
        flat = [p for p in problems for _ in range(G)]
        totals, correct, parts = score(flat, completions, reward)
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
        dropped_groups=dropped, zero_var_groups=zero_var, sampled_groups=sampled, gen_time_s=time.perf_counter() - t0)


def advantages(batch: Batch, cfg: TrainConfig):
    """Group advantages [N] of the batch's rewards; for mode-balanced batches [N, 2] (the forced
    first token's, then every later token's: `ponder.rl.losses.mode_advantages`)."""
    import torch

    from ponder.rl.losses import group_advantages, mode_advantages

    rewards = torch.tensor(batch.rewards, dtype=torch.float32).view(-1, batch.group_size)  # [P, G]
    if not cfg.balance_modes:
        return group_advantages(rewards, cfg.advantage_scale)
    adv = mode_advantages(rewards, cfg.advantage_scale)
    if cfg.mode_baseline == "batch":  # each forced mode's first-token advantage, centred over the batch
        half = adv.view(-1, 2, batch.group_size // 2, 2)[:, :, :, 0]  # [P, mode, G/2]
        half -= half.mean(dim=(0, 2), keepdim=True)
    adv[:, 0] *= cfg.mode_weight
    return adv
