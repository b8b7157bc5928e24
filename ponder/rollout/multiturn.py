"""The multi-turn rollout: the policy generates until it emits a call, the environment runs it and
injects the result, the policy continues; per rollout, up to `limits.max_turns` policy turns and
`limits.max_tokens` completion tokens.

    rollouts = run_multiturn(policy, prompts, env, sampling, limits, n=1)   # [len(prompts) * n]

Every backend serves it unchanged: a turn is one ordinary `policy.generate` over the contexts of
all live rollouts (prompt + everything so far, rendered as text), stopping at the sampling's stop
strings plus the environment's call markers. All calls of all paused rollouts go to the
environment at once (`Environment.execute`), so sub-calls are one batched generate for hf and
concurrent requests for openai. With `env=None` this is a single-turn rollout.

Departures, deliberate:
- A continuation is the prompt plus the text so far, re-encoded by the backend (what a served
  model sees too). For the tiny model's character tokenizer that is exactly the sampled ids; for
  BPE tokenizers a token boundary may differ at a segment seam. The loss is computed on the ids as
  sampled (`Rollout.token_ids`).
- `limits.max_tokens` is exact: every turn is sampled with the sampling's `max_new_tokens` (one
  generate per turn for all rollouts) and a rollout whose turn ran past its remaining budget is
  cut back to it (decoded with the backend's tokenizer) and ends with finish_reason "length";
  so is an injection that does not fit.
- A turn that comes back without token ids (an openai server not asked for them) is encoded by
  the backend's local tokenizer when it has one, else counted by the server's `num_tokens`
  (`Segment.num_tokens`; cut pro rata by characters at the budget).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from ponder.rollout.types import Limits, Rollout, Segment
from ponder.types import Completion, Sampling


@dataclass(frozen=True)
class Injection:
    """What the environment appends to a rollout for one call: text, and the sub-call rollouts
    that produced it (none for a tool) or the tool calls' records (none for sub-calls)."""

    text: str
    children: tuple[Rollout, ...] = ()
    calls: tuple = ()  # a tool environment's records of the calls (`ponder.tools.ToolCall`)


@runtime_checkable
class Environment(Protocol):
    """Environment turns: sub-calls (`SubCalls`) and tools (`ponder.tools.Tools`), the same three members."""

    stop: tuple[str, ...]  # markers that end a policy turn with a call (the backend keeps them in the text)

    def parse(self, text: str) -> list[str] | None:
        """The calls the policy's latest turn `text` requests; None when it made none (the rollout is done)."""
        ...

    def execute(self, policy, calls: list[list[str]], sampling: Sampling, limits: Limits) -> list[Injection]:
        """Run the calls of every paused rollout (one list each) together; one Injection per rollout."""
        ...


def encode(policy, text: str) -> tuple[int, ...]:
    """Token ids of injected text under the policy's tokenizer (() for backends without one)."""
    tok = getattr(policy, "tokenizer", None)
    return tuple(tok.encode(text, add_special_tokens=False)) if tok is not None and text else ()


def _trim(policy, seg: Segment, budget: int) -> Segment:
    """`seg` cut back to `budget` tokens (decoded with the policy's tokenizer; without ids, a
    server's segment known only by its count, cut pro rata by characters)."""
    if not seg.token_ids:
        return replace(seg, text=seg.text[: len(seg.text) * budget // max(seg.size, 1)], num_tokens=budget,
                       logprobs=None if seg.logprobs is None else seg.logprobs[:budget])
    ids = seg.token_ids[:budget]
    tok = getattr(policy, "tokenizer", None)
    text = tok.decode(list(ids), skip_special_tokens=True) if tok is not None else seg.text
    return replace(seg, text=text, token_ids=ids, logprobs=None if seg.logprobs is None else seg.logprobs[:budget])


def policy_segment(policy, c: Completion) -> Segment:
    """A policy turn as a Segment. A server that returns no token ids (the openai backend without
    `token_ids`) gets them from the local tokenizer, re-encoded, when there is one (so the loss mask
    and the budget cover the turn), else is counted by the server's `num_tokens`."""
    ids = tuple(c.token_ids) or encode(policy, c.text)
    return Segment(c.text, ids, "policy", None if c.logprobs is None else tuple(c.logprobs),
                   num_tokens=None if ids else c.num_tokens)


@dataclass
class _Live:
    prompt: str
    segments: list[Segment]
    used: int = 0  # completion tokens so far, injected ones included
    finish: str | None = None
    wall_s: float = 0.0


def run_multiturn(policy, prompts: list[str], env: Environment | None, sampling: Sampling,
                  limits: Limits = Limits(), n: int = 1) -> list[Rollout]:
    """n rollouts per rendered prompt, prompt-major: [len(prompts) * n]."""
    t0 = time.perf_counter()
    stops = tuple(dict.fromkeys(sampling.stop + (env.stop if env is not None else ())))
    states = [_Live(p, []) for p in prompts for _ in range(n)]
    live, first, turn = list(range(len(states))), True, 0
    while live:
        s = replace(sampling, stop=stops, seed=None if sampling.seed is None else sampling.seed + 7919 * turn)
        if first:
            outs = [c for group in policy.generate(prompts, n, s) for c in group]
        else:
            ctx = [states[i].prompt + "".join(x.text for x in states[i].segments) for i in live]
            outs = [g[0] for g in policy.generate(ctx, 1, s)]
        first, turn = False, turn + 1
        pending: list[tuple[int, list[str]]] = []
        for i, c in zip(live, outs):
            st = states[i]
            seg = policy_segment(policy, c)
            room = limits.max_tokens - st.used
            if seg.size > room:
                seg, reason = _trim(policy, seg, room), "length"
            else:
                reason = c.finish_reason
            st.segments.append(seg)
            st.used += seg.size
            calls = env.parse(seg.text) if env is not None and reason == "stop" else None
            if reason == "length" or calls is None:
                st.finish = reason
            elif sum(x.source == "policy" for x in st.segments) >= limits.max_turns:
                st.finish = "turns"
            else:
                pending.append((i, calls))
            if st.finish is not None:
                st.wall_s = time.perf_counter() - t0
        live = []
        if pending:
            for (i, _), inj in zip(pending, env.execute(policy, [c for _, c in pending], sampling, limits)):
                st = states[i]
                seg = Segment(inj.text, encode(policy, inj.text), "env", children=tuple(inj.children),
                              calls=tuple(inj.calls))
                room = limits.max_tokens - st.used
                if seg.size > room:
                    seg = _trim(policy, seg, room)
                st.segments.append(seg)
                st.used += seg.size
                if st.used >= limits.max_tokens:
                    st.finish, st.wall_s = "length", time.perf_counter() - t0
                else:
                    live.append(i)
    return [Rollout(st.prompt, tuple(st.segments), st.finish, st.wall_s) for st in states]


@dataclass
class RolloutCompletion(Completion):
    """A multi-turn rollout as the `Completion` that rewards, verifiers and records take.

    `text` is the whole completion (injected text included: the verifier reads the final answer);
    `token_ids` the root's ids with injected ones (what teacher forcing needs; `rollout.loss_mask()`
    marks which are trained); `num_tokens` counts generated tokens only, the root's and every
    sub-call's (what length rewards and the compute ledger see). Departure from the Completion
    contract: len(token_ids) != num_tokens, and no logprobs.
    """

    rollout: Rollout | None = None


def as_completion(policy, r: Rollout) -> RolloutCompletion:
    """`r` as a RolloutCompletion (think / answer token counts by the policy's counter, if any)."""
    from ponder.policy import segment_token_counts

    count = getattr(policy, "count_tokens", None)
    think, answer = segment_token_counts(r.text, count) if count is not None else (0, 0)
    return RolloutCompletion(text=r.text, token_ids=r.token_ids, logprobs=None,
                             finish_reason="stop" if r.finish_reason == "stop" else "length",
                             num_tokens=r.generated_tokens, think_tokens=think, answer_tokens=answer,
                             time_s=r.wall_s, rollout=r)
