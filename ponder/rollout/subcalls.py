"""Sub-calls: the policy spawns sub-problems, they run as parallel calls of the same policy, and
their answers are pasted back before the policy continues (APR's spawn()/join()).

    <spawn>3*4=?</spawn><spawn>5*6=?</spawn><join>          the policy's turn (ends at the call marker)
    <result>12</result><result>30</result>                   injected by SubCalls
    <think>12+30=42</think><answer>42</answer>               the policy's next turn

What runs is whatever the model wrote between the spawn tags, rendered as a prompt like any
problem: no task's gold decomposition is consulted. A child's injected result is its extracted
final answer ('' when it gave none).

Departures from APR (Pan et al. 2025): a child sees only its spawn text, not the parent's context
(APR passes a message the parent writes, which is the same thing when the message is the whole
sub-problem); a child's result is its answer, not its whole trace; children spawn no further
unless `depth` > 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ponder.errors import PonderError
from ponder.format import JOIN, RESULT_CLOSE, RESULT_OPEN, SPAWN_CLOSE, SPAWN_OPEN, extract_answer
from ponder.rollout.multiturn import Injection, run_multiturn
from ponder.rollout.types import Limits
from ponder.types import Sampling

_SPAWN_RE = re.compile(re.escape(SPAWN_OPEN) + r"(.*?)" + re.escape(SPAWN_CLOSE), re.S)


def spawns(text: str) -> list[str]:
    """The sub-problems a turn spawns, in order (stripped; empty ones dropped)."""
    return [s.strip() for s in _SPAWN_RE.findall(text) if s.strip()]


def result_text(answers: list[str | None]) -> str:
    return "".join(f"{RESULT_OPEN}{a or ''}{RESULT_CLOSE}" for a in answers)


@dataclass(frozen=True)
class SubCalls:
    """The sub-call environment (an `Environment`)."""

    max_calls: int = 8  # spawns honoured per join; more are dropped (their results never come)
    depth: int = 1  # levels of sub-calls below the root; 1 = children answer on their own
    stop: tuple[str, ...] = (JOIN,)

    def __post_init__(self):
        if self.max_calls < 1 or self.depth < 1:
            raise PonderError(f"sub-calls need max_calls >= 1 and depth >= 1, got {self.max_calls}, {self.depth}")

    def parse(self, text: str) -> list[str] | None:
        if not text.rstrip().endswith(JOIN):
            return None
        return spawns(text)[: self.max_calls]

    def execute(self, policy, calls: list[list[str]], sampling: Sampling, limits: Limits) -> list[Injection]:
        flat = [c for cs in calls for c in cs]
        child_env = replace(self, depth=self.depth - 1) if self.depth > 1 else None
        kids = run_multiturn(policy, [policy.render(c) for c in flat], child_env, sampling, limits) if flat else []
        out, i = [], 0
        for cs in calls:
            ks = tuple(kids[i : i + len(cs)])
            i += len(cs)
            out.append(Injection(result_text([extract_answer(k.text) for k in ks]), ks))
        return out
