"""Reward functions: pure, batched `(problems, completions) -> list[float]`, and their combination.

    from ponder.rewards import combine
    reward = combine("correct:1,kimi_length:0.5")
    totals, parts = reward(problems, completions)     # parts: {"correct": [...], "kimi_length": [...]}

A spec is `name:weight` pairs separated by commas (a bare name has weight 1). Parameters of a
reward (`overlong`'s max_len, L1's alpha) go in `params={"overlong": {"max_len": 64}}`.
Every reward, its formula and its source is documented in its module:
`basic` (correct, format), `calibration` (kimi_length, l1_exact, l1_max, overlong, nothink, trace),
`strategy` (plan_format, plan_validity, plan_progress, plan_adherence, decomposition); adapters for TRL and verl
are in `ponder.rewards.adapters`.

Your own reward: register it under a name, then use the name in any spec (`combine`, the
`reward` of a training config run through `ponder.rl.run`, the TRL/verl adapters). Registration
happens in the process that scores, so register before the run starts (the `ponder` command
itself knows the built-ins only):

    from ponder.rewards import register_reward
    from ponder.rewards.base import text_of       # a completion is a Completion or a str

    @register_reward("short")
    def short(problems, completions):             # one float per (problem, completion) pair
        return [1.0 if len(text_of(c)) < 40 else 0.0 for c in completions]

    combine("correct:1,short:0.1")

`register_reward("short", fn)` does the same without the decorator. A name is registered once
(a second registration raises ValueError); `REWARDS.names()` lists them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from ponder.errors import PonderError
from ponder.registry import Registry
from ponder.rewards.base import CompletionLike, RewardFn
from ponder.rewards.basic import correct, format_reward
from ponder.rewards.calibration import (budget_suffix, kimi_length, l1_exact, l1_max, nothink, overlong, trace,
                                        with_budget)
from ponder.rewards.strategy import decomposition, nospawn, plan_adherence, plan_format, plan_progress, plan_validity
from ponder.types import Problem

REWARDS: Registry[RewardFn] = Registry("reward")
for _name, _fn in {
    "correct": correct,
    "format": format_reward,
    "kimi_length": kimi_length,
    "l1_exact": l1_exact,
    "l1_max": l1_max,
    "overlong": overlong,
    "nothink": nothink,
    "trace": trace,
    "plan_format": plan_format,
    "plan_validity": plan_validity,
    "plan_progress": plan_progress,
    "plan_adherence": plan_adherence,
    "decomposition": decomposition,
    "nospawn": nospawn,
}.items():
    REWARDS.register(_name, _fn)
del _name, _fn
BUILTIN_REWARDS = tuple(REWARDS.names())  # the rewards ponder ships (the TRL adapters have one each)
REWARDS.register_lazy("tool_calls", "ponder.tools.reward:tool_calls")  # a price per call, with a negative weight


def register_reward(name: str, fn: RewardFn | None = None) -> RewardFn | Callable[[RewardFn], RewardFn]:
    """Register a reward function under `name` so specs can use it; without `fn`, a decorator.

    `fn(problems, completions, **params) -> list[float]`, one float per pair (see `ponder.rewards.base`).
    A name already taken raises ValueError.
    """
    if fn is None:
        return REWARDS.decorator(name)
    return REWARDS.register(name, fn)


def get_reward(name: str) -> RewardFn:
    """The reward registered under `name`; PonderError (one line, close matches) for an unknown one."""
    return REWARDS.get(name)


def parse_spec(spec: str) -> list[tuple[str, float]]:
    """'correct:1,kimi_length:0.5' -> [('correct', 1.0), ('kimi_length', 0.5)] (names checked)."""
    out = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition(":")
        name = name.strip()
        get_reward(name)
        try:
            w = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise PonderError(f"reward spec {spec!r}: weight of {name!r} must be a number, got {weight!r}") from None
        out.append((name, w))
    if not out:
        raise PonderError("empty reward spec; give e.g. 'correct:1,kimi_length:0.5'")
    return out


class Combined:
    """A weighted sum of reward functions; calling it returns (totals, {name: scores})."""

    def __init__(self, spec: str, params: dict[str, dict] | None = None):
        self.spec = spec
        self.terms = parse_spec(spec)
        params = params or {}
        self.fns = {name: (partial(get_reward(name), **params[name]) if params.get(name) else get_reward(name))
                    for name, _ in self.terms}

    def __call__(self, problems: Sequence[Problem], completions: Sequence[CompletionLike]
                 ) -> tuple[list[float], dict[str, list[float]]]:
        parts = {name: [float(x) for x in self.fns[name](problems, completions)] for name, _ in self.terms}
        totals = [sum(w * parts[name][i] for name, w in self.terms) for i in range(len(completions))]
        return totals, parts


def combine(spec: str, params: dict[str, dict] | None = None) -> Combined:
    return Combined(spec, params)


__all__ = ["BUILTIN_REWARDS", "REWARDS", "Combined", "register_reward", "budget_suffix", "combine", "get_reward", "parse_spec", "with_budget",
           "correct", "format_reward", "kimi_length", "l1_exact", "l1_max", "overlong", "nothink", "trace",
           "plan_format", "plan_validity", "plan_progress", "plan_adherence", "decomposition"]
