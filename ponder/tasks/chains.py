"""`chains`: several independent chains of repeated steps; the answer lists where each one ends.

    prompt   4>5,2>3
    oracle   <plan>4>5;2>3</plan><think>5:4,4:1,3:8,2:5,1:2,0:9;3:2,2:9,1:6,0:3</think><answer>93</answer>

A chain `s>k` starts at the digit s and takes k steps; a step adds 7 and keeps the last digit
(4 -> 1 -> 8 -> 5 -> 2 -> 9). The worked trace writes, per chain, the steps left and the digit
(`k:s, k-1:., ..., 0:end`): one fact of ten and one decrement per step, so the work of a chain is
~4k tokens while stating it (`s>k`) is 3. The answer is the chains' end digits in order
(`93`), compared as a string. The chains are independent sub-problems (`meta["subproblems"]`,
`{"prompt": "4>5", "answer": "9"}`); `compose` concatenates their answers.

Why this task (docs/abstraction.md): decomposition pays only where a part's work is much longer
than its statement. For `sumprod` a product's work (`13*4=52`) is as long as the message that
spawns it, so the critical path of a sub-call trace is longer than the serial trace. Here a
hard level's serial trace (5 chains of 7-9 steps: ~190 tokens) runs past a 128-token context
while each sub-call (~45 tokens) and the parent (~50 with the results) fit, as in APR's
comparison at equal context; the easiest level's serial trace (2 chains of 1-2 steps: ~26
tokens) is shorter than any sub-call trace (~45 tokens in all), so there splitting only costs.
Difficulty = number of chains and steps per chain.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ponder.format import format_completion, split_plan
from ponder.tasks.base import Task, item_rng, problem_id, register
from ponder.types import Problem

STEP = 7  # a step: d -> (d + STEP) % 10 (7 is prime to 10, so every digit is on one 10-cycle)
_CHAIN_RE = re.compile(r"(\d)>(\d)")


@dataclass(frozen=True)
class ChainsConfig:
    chains: int = 3  # independent chains
    k_low: int = 1  # steps per chain, drawn from k_low..k_high (at most 9: one digit)
    k_high: int = 9


LEVELS = {
    1: ChainsConfig(chains=2, k_low=1, k_high=2),  # serial ~26 tokens: splitting costs more than it saves
    2: ChainsConfig(chains=3, k_low=2, k_high=4),
    3: ChainsConfig(chains=3, k_low=4, k_high=7),
    4: ChainsConfig(chains=4, k_low=6, k_high=9),
    5: ChainsConfig(chains=5, k_low=7, k_high=9),  # serial ~190 tokens; each chain's sub-call ~45
}


def step(d: int) -> int:
    return (d + STEP) % 10


def end(s: int, k: int) -> int:
    """Where the chain `s>k` ends."""
    for _ in range(k):
        s = step(s)
    return s


def chain_trace(s: int, k: int) -> str:
    """`k:s,k-1:..,0:end`: the steps left, then the digit, after each step."""
    out = [f"{k}:{s}"]
    for left in range(k - 1, -1, -1):
        s = step(s)
        out.append(f"{left}:{s}")
    return ",".join(out)


def _chain(s: int, k: int) -> str:
    return f"{s}>{k}"


def _norm_chain(text: str) -> tuple[int, int] | None:
    m = _CHAIN_RE.fullmatch("".join(text.split()))
    return (int(m.group(1)), int(m.group(2))) if m else None


@register
class Chains(Task):
    name = "chains"
    description = ("independent chains s>k (k steps of +7 mod 10 from s); answer = the end digits in order "
                   "(difficulty = chains and steps); decomposes into the chains")
    configs = LEVELS
    decomposable = True
    math = False

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        chains = [[rng.randint(0, 9), rng.randint(cfg.k_low, cfg.k_high)] for _ in range(cfg.chains)]
        return self._problem(problem_id(self.name, seed, index, difficulty), chains, difficulty)

    def _problem(self, pid: str, chains: list[list[int]], difficulty: int, **extra) -> Problem:
        return Problem(
            id=pid,
            task=self.name,
            prompt=",".join(_chain(s, k) for s, k in chains),
            answer="".join(str(end(s, k)) for s, k in chains),
            difficulty=difficulty,
            meta={
                "chains": chains,
                "subproblems": [{"prompt": _chain(s, k), "answer": str(end(s, k))} for s, k in chains],
                **extra,
            },
        )

    # verify: the base class's exact match (whitespace-insensitive) of the answer string

    # -- decomposition ---------------------------------------------------------------------
    def subproblems(self, problem: Problem) -> list[Problem]:
        """One single-chain `chains` Problem per chain, ids `<parent id>/part<i>`."""
        return [
            self._problem(f"{problem.id}/part{i}", [[s, k]], problem.difficulty, parent=problem.id, part=i)
            for i, (s, k) in enumerate(problem.meta["chains"])
        ]

    def compose(self, answers: list[str | None], problem: Problem) -> str:
        """The sub-answers concatenated; '' when any is not one digit.

        Raises ValueError when the number of answers differs from the number of chains.
        """
        if len(answers) != len(problem.meta["chains"]):
            raise ValueError(f"{problem.id}: {len(answers)} answers for {len(problem.meta['chains'])} chains")
        digits = ["".join((a or "").split()) for a in answers]
        return "".join(digits) if all(len(d) == 1 and d.isdigit() for d in digits) else ""

    def join_completion(self, answers: list[str], problem: Problem) -> str:
        """The join step after the sub-calls returned: the answers in order, no trace."""
        return format_completion(self.compose(answers, problem))

    def check_decomposition(self, plan_text: str | None, problem: Problem) -> float:
        """Score a decomposition such as `4>5;2>3` against the problem's chains: (chains matched,
        as multisets) / max(steps listed, chains), so 1.0 iff the listed steps are exactly the
        chains (any order); missing, extra or malformed steps lower it. No plan scores 0.0."""
        steps = split_plan(plan_text or "")
        if not steps:
            return 0.0
        listed = Counter(c for c in map(_norm_chain, steps) if c is not None)
        chains = Counter(tuple(c) for c in problem.meta["chains"])
        return sum((listed & chains).values()) / max(len(steps), sum(chains.values()))

    def oracle(self, problem: Problem, think: bool = True) -> str:
        if not think:
            return format_completion(problem.answer)
        chains = problem.meta["chains"]
        return format_completion(problem.answer, think=";".join(chain_trace(s, k) for s, k in chains),
                                 plan=[_chain(s, k) for s, k in chains])
