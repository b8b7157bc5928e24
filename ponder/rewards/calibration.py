"""Effort-aware (calibration) rewards: spend tokens in proportion to difficulty.

Lengths are generated tokens (`Completion.num_tokens`; characters for plain strings). Each
function is pure and batched like every reward; `correct` below is the task verifier's score.

kimi_length   Kimi k1.5 (Kimi Team 2025, sec. 2.3.3) group length penalty. Per group (samples of
              one problem), with lengths len_i, min_len and max_len over the group:
                  lambda_i = 0.5 - (len_i - min_len) / (max_len - min_len)
                  reward   = lambda_i           if correct
                             min(0, lambda_i)   if wrong
              A group whose lengths are all equal gets lambda = 0 (the paper leaves 0/0 undefined).
              Departure: no warm-up schedule here; weight it in the reward spec instead.
l1_exact      L1 / LCPO (Aggarwal & Welleck 2025), exact budget n_gold stated in the prompt
              ("Think for N tokens."):  reward = correct - alpha * |n_gold - n_y|, alpha = 3e-4.
l1_max        L1-Max, a maximum budget ("Think for maximum N tokens."):
                  reward = correct * clip(alpha * (n_gold - n_y) + delta, 0, 1), alpha = 3e-4, delta = 0.5.
              The budget is `problem.meta["budget"]`; `with_budget` writes both prompt and meta.
overlong      DAPO (Yu et al. 2025) soft overlong punishment, with L_max = max_len, L_cache = cache:
                  0                                   if len <= L_max - L_cache
                  ((L_max - L_cache) - len) / L_cache if L_max - L_cache < len <= L_max
                  -1                                  if len > L_max
nothink       AdaptThink-style (Zhang et al. 2025) bonus: reward = 1 if the completion has no
              <think> part AND is correct, else 0. Departure: AdaptThink's constrained objective
              adds delta * 1[no think] and subtracts a reference model's accuracy; we keep only
              the bonus, gated on correctness so that skipping thought never pays when it breaks
              the answer. Its weight in the spec plays AdaptThink's delta.
trace         Partial credit for the work shown when the final answer is wrong: with the task's
              worked solution `task.trace_values(problem)` = [v_1, ..., v_K] (e.g. arith's running
              sums), k = the longest prefix v_1..v_k found in order as results ("=v_i") inside
              <think>;  reward = k / K if the answer is wrong, 0 if it is right (correctness already
              pays) or the task has no trace. A rule-based process reward in the spirit of process
              supervision (Lightman et al. 2023, "Let's Verify Step by Step"), from the task's own
              solution instead of a learned reward model. Why: on levels where every sample is
              wrong, outcome rewards are flat and GRPO groups carry no signal, so nothing teaches
              the model that thinking is how hard problems get solved; partial progress does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from ponder.errors import PonderError
from ponder.format import parse
from ponder.rewards.base import CompletionLike, correctness_scores, groups, has_think, length_of
from ponder.types import Problem

# -- budgets stated in the prompt (L1) and at inference (think budget) ------------------------
# the rewards that score against problem.meta["budget"]: training with one needs a budget (--budget)
BUDGET_REWARDS = frozenset({"l1_exact", "l1_max"})
BUDGET_SUFFIXES = {
    "exact": " Think for {budget} tokens.",  # L1-Exact prompt wording
    "max": " Think for maximum {budget} tokens.",  # L1-Max prompt wording
    "think": " Think for at most {budget} tokens.",  # ponder's inference-time think budget
}


def budget_suffix(budget: int, mode: str = "exact") -> str:
    """The prompt suffix that states a token budget (L1's wording for "exact" and "max")."""
    if mode not in BUDGET_SUFFIXES:
        raise PonderError(f"unknown budget mode {mode!r}; choose from {', '.join(BUDGET_SUFFIXES)}")
    if budget <= 0:
        raise PonderError(f"a token budget must be positive, got {budget}")
    return BUDGET_SUFFIXES[mode].format(budget=int(budget))


def with_budget(problem: Problem, budget: int, mode: str = "exact") -> Problem:
    """The problem with its budget stated in the prompt and stored in meta["budget"]."""
    return replace(problem, prompt=problem.prompt + budget_suffix(budget, mode),
                   meta={**problem.meta, "budget": int(budget), "budget_mode": mode})


def _budget(p: Problem) -> int:
    if "budget" not in p.meta:
        raise PonderError(f"problem {p.id} has no token budget; state one with ponder.rewards.with_budget")
    return int(p.meta["budget"])


# -- rewards ------------------------------------------------------------------------------------
def kimi_length(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    correct = correctness_scores(problems, completions)
    lengths = [length_of(c) for c in completions]
    out = [0.0] * len(completions)
    for idx in groups(problems).values():
        lo, hi = min(lengths[i] for i in idx), max(lengths[i] for i in idx)
        for i in idx:
            lam = 0.0 if hi == lo else 0.5 - (lengths[i] - lo) / (hi - lo)
            out[i] = lam if correct[i] >= 1.0 else min(0.0, lam)
    return out


def l1_exact(problems: Sequence[Problem], completions: Sequence[CompletionLike], *, alpha: float = 3e-4) -> list[float]:
    correct = correctness_scores(problems, completions)
    return [c - alpha * abs(_budget(p) - length_of(y)) for p, y, c in zip(problems, completions, correct)]


def l1_max(problems: Sequence[Problem], completions: Sequence[CompletionLike], *, alpha: float = 3e-4,
           delta: float = 0.5) -> list[float]:
    correct = correctness_scores(problems, completions)
    return [c * min(1.0, max(0.0, alpha * (_budget(p) - length_of(y)) + delta))
            for p, y, c in zip(problems, completions, correct)]


def overlong(problems: Sequence[Problem], completions: Sequence[CompletionLike], *, max_len: int = 256,
             cache: int = 64) -> list[float]:
    if not 0 < cache <= max_len:
        raise PonderError(f"overlong: need 0 < cache <= max_len, got cache={cache}, max_len={max_len}")
    soft = max_len - cache
    out = []
    for y in completions:
        n = length_of(y)
        out.append(0.0 if n <= soft else ((soft - n) / cache if n <= max_len else -1.0))
    return out


def nothink(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    correct = correctness_scores(problems, completions)
    return [float(c >= 1.0 and not has_think(y)) for y, c in zip(completions, correct)]


def trace_prefix(think: str, values: Sequence[str]) -> int:
    """How many of `values` appear, in order, as '=v' results in `think` (a number must end there)."""
    pos = 0
    for k, v in enumerate(values):
        m = re.compile(r"=\s*" + re.escape(str(v)) + r"(?![0-9])").search(think, pos)
        if m is None:
            return k
        pos = m.end()
    return len(values)


def trace(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    from ponder.rewards.base import text_of
    from ponder.tasks import get_task

    correct = correctness_scores(problems, completions)
    out = []
    for p, y, c in zip(problems, completions, correct):
        task = get_task(p.task)
        think = parse(text_of(y)).think
        values = task.trace_values(p) if hasattr(task, "trace_values") and c < 1.0 and think else None
        out.append(trace_prefix(think, values) / len(values) if values else 0.0)
    return out
