"""Shared plumbing of the reward functions: coercion, grouping, and the verifier call.

A reward function is pure and batched: `(problems, completions) -> list[float]`, one float per
(problem, completion) pair, the two lists aligned. A completion may be a `Completion` (token
counts from the policy) or a plain string (then its length in tokens is taken as its length in
characters, exact for the tiny model's character tokenizer and an approximation otherwise).
Rewards that compare samples within a GRPO group (Kimi's length penalty) find the group by
`problem.id`: the G samples of one prompt share one problem.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from typing import Callable, Union

from ponder.format import THINK_OPEN
from ponder.types import Completion, Problem

CompletionLike = Union[Completion, str]
RewardFn = Callable[[Sequence[Problem], Sequence[CompletionLike]], list[float]]


def as_completion(c: CompletionLike) -> Completion:
    if isinstance(c, Completion):
        return c
    return Completion(text=str(c), num_tokens=len(str(c)))


def text_of(c: CompletionLike) -> str:
    return c.text if isinstance(c, Completion) else str(c)


def length_of(c: CompletionLike) -> int:
    """Generated tokens of a completion (characters for a plain string)."""
    comp = as_completion(c)
    return comp.num_tokens or len(comp.text)


def has_think(c: CompletionLike) -> bool:
    return THINK_OPEN in text_of(c)


def groups(problems: Sequence[Problem]) -> dict[str, list[int]]:
    """Indices of each GRPO group (samples of the same problem), keyed by problem id."""
    out: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(problems):
        out[p.id].append(i)
    return out


def correctness_scores(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    """The task verifier's score of each completion, run through `ponder.verify.verify_batch`
    (worker processes with a time limit, so model text never runs in the caller's process)."""
    from ponder.verify import verify_batch

    if len(problems) != len(completions):
        raise ValueError(f"{len(problems)} problems but {len(completions)} completions")
    if not problems:
        return []
    texts = [text_of(c) for c in completions]
    # several rewards of one spec (correct + kimi_length + nothink) ask for the same batch in a row:
    # remember the last few batches so the verifier runs once per batch. The cache is shared by
    # threads (verl scores samples from a thread pool), so lookups and updates hold a lock; the
    # verification itself runs outside it, so threads still verify in parallel.
    key = tuple((p.task, p.id, p.answer, t) for p, t in zip(problems, texts))
    with _cache_lock:
        scores = _cache.get(key)
        if scores is not None:
            _cache.move_to_end(key)
    if scores is None:
        scores = tuple(float(s) for s in verify_batch(list(problems), texts))
        with _cache_lock:
            _cache[key] = scores
            while len(_cache) > CACHE_BATCHES:
                _cache.popitem(last=False)
    return list(scores)


CACHE_BATCHES = 4  # a batch is asked for by consecutive rewards; a few slots survive interleaved threads
_cache: OrderedDict[tuple, tuple[float, ...]] = OrderedDict()
_cache_lock = threading.Lock()


def _after_fork() -> None:  # a lock held by another thread at fork time would never be released in the child
    global _cache_lock
    _cache_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
