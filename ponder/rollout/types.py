"""The typed records of a multi-turn rollout: what the policy wrote, what the environment injected.

    Segment(text, token_ids, source="policy" | "env", logprobs, children)
    Rollout(prompt, segments, finish_reason, wall_s)   # .text, .loss_mask(), .generated_tokens, ...
    Limits(max_turns=4, max_tokens=512)

A rollout is the root's own sequence (prompt, then segments in order) plus, on each environment
segment that came from sub-calls, the child rollouts that produced it. Only `policy` segments are
"generated": they are trained on and counted; `env` segments (a tool's output, sub-call results)
are context the policy conditions on, masked out of the loss and of every generated-token count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ponder.errors import PonderError

Source = Literal["policy", "env"]
FinishReason = Literal["stop", "length", "turns"]  # answered or stopped / out of tokens / out of turns


@dataclass(frozen=True)
class Segment:
    """One contiguous piece of a rollout's completion."""

    text: str
    token_ids: tuple[int, ...]  # as sampled (policy) or as the tokenizer encodes the text (env)
    source: Source
    logprobs: tuple[float, ...] | None = None  # policy segments, when the sampling asked for them
    children: tuple["Rollout", ...] = ()  # env segments produced by sub-calls: those sub-calls
    calls: tuple = ()  # env segments produced by tools: their `ponder.tools.ToolCall` records
    num_tokens: int | None = None  # the backend's count when it returned no ids (a server without them); else len(token_ids)

    @property
    def size(self) -> int:
        """Tokens in this segment: its ids, or the backend's count when it gave none."""
        return len(self.token_ids) if self.token_ids or self.num_tokens is None else self.num_tokens


@dataclass(frozen=True)
class Limits:
    """Per-rollout limits; a rollout that reaches one ends there (finish_reason "length"/"turns")."""

    max_turns: int = 4  # policy turns per rollout (the first included); 4 = answer after 3 calls at most
    max_tokens: int = 512  # completion tokens per rollout, injected ones included (its context budget)

    def __post_init__(self):
        if self.max_turns < 1 or self.max_tokens < 1:
            raise PonderError(f"rollout limits must be >= 1, got max_turns={self.max_turns}, max_tokens={self.max_tokens}")


@dataclass(frozen=True)
class Rollout:
    """A prompt's whole multi-turn completion, with the sub-call rollouts it spawned."""

    prompt: str  # the rendered prompt the first turn continued
    segments: tuple[Segment, ...]
    finish_reason: FinishReason = "stop"
    wall_s: float = 0.0  # measured: from the batch's start until this rollout finished

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)

    @property
    def token_ids(self) -> list[int]:  # [T] the completion, injected tokens included
        return [t for s in self.segments for t in s.token_ids]

    def loss_mask(self) -> list[int]:  # [T] 1 on policy tokens, 0 on injected ones
        return [int(s.source == "policy") for s in self.segments for _ in s.token_ids]

    @property
    def children(self) -> tuple["Rollout", ...]:
        return tuple(c for s in self.segments for c in s.children)

    @property
    def turns(self) -> int:
        return sum(s.source == "policy" for s in self.segments)

    @property
    def calls(self) -> int:
        """Environment turns (joins / tool calls) of this rollout."""
        return sum(s.source == "env" for s in self.segments)

    @property
    def tool_calls(self) -> tuple:
        """Every tool call of this rollout, in order (`ponder.tools.ToolCall`: name, error, latency)."""
        return tuple(c for s in self.segments for c in s.calls)

    @property
    def own_tokens(self) -> int:
        """Tokens this rollout's policy generated itself (children excluded, injected excluded)."""
        return sum(s.size for s in self.segments if s.source == "policy")

    @property
    def generated_tokens(self) -> int:
        """Every token the policy generated for this rollout: its own and all its descendants'."""
        return self.own_tokens + sum(c.generated_tokens for c in self.children)

    @property
    def critical_path_tokens(self) -> int:
        """The longest chain a user waits for: own tokens plus, at each join, the longest child's
        critical path (sub-calls of one join run in parallel; joins run one after another)."""
        return self.own_tokens + sum(max((c.critical_path_tokens for c in s.children), default=0)
                                     for s in self.segments)

    def descendants(self) -> list["Rollout"]:
        """Children, grandchildren, ... depth first (what training adds beside the root)."""
        return [d for c in self.children for d in (c, *c.descendants())]
