"""Prompts for a run with tools, and the policy wrapper whose `generate` is a tool rollout.

    text = render_tool_prompt(tokenizer, problem, tools)   # chat template with tools=, or plain
    policy = ToolPolicy(hf_policy, Tools.from_spec("calc"))
    policy.generate(prompts, n, sampling)                   # [[RolloutCompletion] * n] per prompt

A checkpoint whose chat template takes `tools=` gets the tools' JSON schemas through
`apply_chat_template(..., tools=...)` (its own way of announcing tools; `format_for` then picks
the `hermes` call format when the template writes `<tool_call>`). Without a chat template (the
tiny default) the prompt is the plain one: the tiny model learns the `<tool name=..>` format in
its warm start and cannot read a description anyway.

`ToolPolicy` makes every stage that samples through `policy.generate` (eval, curate) sample tool
rollouts unchanged: each call runs `ponder.rollout.run_multiturn` with the tool environment, one
turn per `generate` of the wrapped backend (so hf, vllm and openai all serve it).
"""

from __future__ import annotations

from ponder.policy.prompts import CHAT_SYSTEM, PLAIN_SEP
from ponder.types import Problem, Sampling

TOOL_SYSTEM = " You may call a tool when it helps; its result comes back before you answer."


def render_tool_prompt(tokenizer, problem: Problem | str, tools, suffix: str = "") -> str:
    """The prompt for `problem` with `tools` available (see the module docstring)."""
    prompt = problem.prompt if isinstance(problem, Problem) else str(problem)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return prompt + PLAIN_SEP + suffix
    messages = [{"role": "system", "content": CHAT_SYSTEM + TOOL_SYSTEM}, {"role": "user", "content": prompt}]
    schemas = [t.schema() for t in tools]
    try:
        text = tokenizer.apply_chat_template(messages, tools=schemas, tokenize=False, add_generation_prompt=True)
    except TypeError:  # a transformers too old for tools=: describe them in the system turn instead
        listed = "; ".join(f"{t.name}: {t.description}" for t in tools)
        messages[0]["content"] += f" Tools: {listed}."
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + suffix


class ToolPolicy:
    """A policy whose `generate` runs tool rollouts (everything else is the wrapped policy's)."""

    def __init__(self, policy, env, max_turns: int = 4):
        from ponder.rollout import Limits

        Limits(max_turns=max_turns)  # validates
        self.policy, self.env, self.max_turns = policy, env, max_turns

    def __getattr__(self, name):
        return getattr(self.policy, name)

    def render(self, problem, suffix: str = "") -> str:
        return render_tool_prompt(getattr(self.policy, "tokenizer", None), problem, self.env.tools, suffix)

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list]:
        from ponder.rollout import Limits, as_completion, run_multiturn

        limits = Limits(max_turns=self.max_turns, max_tokens=sampling.max_new_tokens)
        flat = [as_completion(self.policy, r) for r in run_multiturn(self.policy, prompts, self.env, sampling, limits, n)]
        return [flat[i * n : (i + 1) * n] for i in range(len(prompts))]


def tool_fields(completion) -> dict:
    """The tool columns of one sample's row: calls, errors, latency (s), injected tokens, names
    (None for a single-turn sample: the run had no tools)."""
    r = getattr(completion, "rollout", None)
    if r is None:
        return {"tool_calls": 0, "tool_errors": 0, "tool_latency_s": 0.0, "tool_tokens": 0, "tool_names": None}
    calls = r.tool_calls
    injected = sum(len(s.token_ids) for s in r.segments if s.source == "env")
    return {"tool_calls": len(calls), "tool_errors": sum(c.error is not None for c in calls),
            "tool_latency_s": sum(c.latency_s for c in calls), "tool_tokens": injected,
            "tool_names": ",".join(c.name for c in calls)}
