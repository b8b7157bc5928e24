"""Reward functions: pure, batched `(problems, completions) -> list[float]`, and their combination.

    from ponder.rewards import combine
    reward = combine("correct:1,kimi_length:0.5")
    totals, parts = reward(problems, completions)     # parts: {"correct": [...], "kimi_length": [...]}

A spec is `name:weight` pairs separated by commas (a bare name has weight 1). Parameters of a
reward (`overlong`'s max_len, L1's alpha) go in `params={"overlong": {"max_len": 64}}`.
Every reward, its formula and its source is documented in its module:
`basic` (correct, format), `calibration` (kimi_length, l1_exact, l1_max, overlong, nothink, trace),
`strategy` (plan_format, plan_validity, plan_adherence, decomposition); adapters for TRL and verl
are in `ponder.rewards.adapters`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import partial

from ponder.errors import PonderError
from ponder.rewards.base import CompletionLike, RewardFn
from ponder.rewards.basic import correct, format_reward
from ponder.rewards.calibration import (budget_suffix, kimi_length, l1_exact, l1_max, nothink, overlong, trace,
                                        with_budget)
from ponder.rewards.strategy import decomposition, plan_adherence, plan_format, plan_validity
from ponder.types import Problem

REWARDS: dict[str, RewardFn] = {
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
    "plan_adherence": plan_adherence,
    "decomposition": decomposition,
}


def get_reward(name: str) -> RewardFn:
    if name not in REWARDS:
        close = difflib.get_close_matches(name, list(REWARDS), n=2)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PonderError(f"unknown reward {name!r}{hint} (available: {', '.join(REWARDS)})")
    return REWARDS[name]


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


__all__ = ["REWARDS", "Combined", "budget_suffix", "combine", "get_reward", "parse_spec", "with_budget",
           "correct", "format_reward", "kimi_length", "l1_exact", "l1_max", "overlong", "nothink", "trace",
           "plan_format", "plan_validity", "plan_adherence", "decomposition"]
