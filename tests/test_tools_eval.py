"""`ponder eval --tools calc`: every sample a tool rollout, tool metrics per level in metrics.json
and the report; refusals before anything is written."""

from __future__ import annotations

import re

import pytest

from ponder.errors import PonderError
from ponder.eval import EvalConfig, evaluate, make_problems
from ponder.policy.tokenizer import build_tokenizer
from ponder.types import Completion


class Caller:
    """Calls calc on products, answers sums directly (and wrongly at level 1 half the time: '0')."""

    tokenizer = build_tokenizer()

    def render(self, problem, suffix=""):
        return problem.prompt + "\n" + suffix

    def generate(self, prompts, n, sampling):
        return [[self._one(p, j) for j in range(n)] for p in prompts]

    def _one(self, context, j):
        prompt, _, done = context.partition("\n")
        out = re.findall(r"<output>(.*?)</output>", done)
        if out:
            text = f"<answer>{out[-1]}</answer>"
        elif "*" in prompt:
            text = f'<tool name="calc">{prompt.rstrip("=?")}</tool>'
        else:
            a, b = prompt.rstrip("=?").split("+")
            text = f"<answer>{int(a) + int(b) if j == 0 else 0}</answer>"
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return Completion(text, ids, num_tokens=len(ids))


def test_eval_with_tools_reports_tool_use_per_level():
    from ponder.report.html import render_report

    cfg = EvalConfig(model="x", tasks=("toolarith",), levels=(1, 5), n=2, per_level=3, max_new_tokens=96, tools="calc",
                     verify_workers=1)
    rows, metrics = evaluate(Caller(), make_problems(cfg), cfg, progress=False)
    t = metrics["tools"]
    one, five = t["by_difficulty"][1], t["by_difficulty"][5]
    assert (one["tool_rate"], five["tool_rate"]) == (0.0, 1.0)
    assert five["accuracy_with_tool"] == 1.0 and one["accuracy_without_tool"] == 0.5
    assert five["tool_calls"] == 1.0 and five["tool_errors"] == 0.0 and five["tool_latency_s"] > 0
    assert five["tool_tokens"] > 0 and one["tool_tokens"] == 0
    assert all(r["tool_names"] == "calc" for r in rows if r["difficulty"] == 5)
    assert "Tool use" in render_report(metrics, rows)


def test_eval_without_tools_has_no_tool_section():
    from helpers import RecordingPolicy

    cfg = EvalConfig(model="x", tasks=("toolarith",), levels=(1,), n=1, per_level=2, verify_workers=1)
    _, metrics = evaluate(RecordingPolicy(), make_problems(cfg), cfg, progress=False)
    assert "tools" not in metrics


def test_eval_refuses_an_unknown_tool_and_tools_with_ray():
    with pytest.raises(PonderError, match="unknown tool 'clac'"):
        EvalConfig(model="x", tools="clac")
    with pytest.raises(PonderError, match="--tools .* --ray"):
        EvalConfig(model="x", tools="calc", ray="local")


def test_eval_refuses_tools_over_the_chat_api():
    """A tool rollout resends the model's text after each result; the chat API would take it as a new
    user turn, so --tools with --api chat is refused instead of silently evaluating something else."""
    with pytest.raises(PonderError, match="--tools with --api chat"):
        EvalConfig(model="x", tools="calc", backend="openai", api="chat")
    EvalConfig(model="x", tools="calc", backend="openai", api="completions")  # the completions API continues text
