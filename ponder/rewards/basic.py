"""Correctness and format rewards.

correct(p, y) = task.verify(y, p) in [0, 1]           (the verifier; RLVR, DeepSeek-R1 "accuracy reward")
format(p, y)  = 1 if y is exactly [<plan>..</plan>][<think>..</think>]<answer>..</answer>, else 0
               (DeepSeek-R1's "format reward", on ponder's output format, `ponder.format`)
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.format import parse
from ponder.rewards.base import CompletionLike, correctness_scores, text_of
from ponder.types import Problem


def correct(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    return correctness_scores(problems, completions)


def format_reward(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    return [float(parse(text_of(c)).well_formed) for c in completions]
