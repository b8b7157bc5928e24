"""Prompts with tools: chat templates get the tools' schemas through `tools=`, and a template that
writes `<tool_call>` gets the hermes call format; the tiny default gets the plain prompt."""

from __future__ import annotations

import json

import pytest

from ponder.policy.tokenizer import build_tokenizer
from ponder.rollout import Limits, run_multiturn
from ponder.tools import ToolPolicy, Tools, format_for, render_tool_prompt, select
from ponder.types import Completion, Problem, Sampling

# the shape of Qwen2.5's template, cut down: the tools' JSON inside <tools>, calls as <tool_call>
TEMPLATE = (
    "{% if tools %}<|tools|>{% for t in tools %}{{ t | tojson }}\n{% endfor %}"
    "Call a tool as <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call><|end|>{% endif %}"
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}")
PROBLEM = Problem(id="x", task="arith", prompt="12345*6789=?", answer="83810205", difficulty=5)


def test_plain_prompt_without_a_chat_template():
    tok = build_tokenizer()
    assert render_tool_prompt(tok, PROBLEM, select("calc")) == "12345*6789=?\n"
    assert format_for(tok) == "tag"


def test_chat_template_receives_the_tools_schemas():
    tok = build_tokenizer()
    tok.chat_template = TEMPLATE
    text = render_tool_prompt(tok, PROBLEM, select("calc,python"), suffix="<think>")
    schemas = [json.loads(line) for line in text.split("<|tools|>")[1].split("Call a tool")[0].strip().splitlines()]
    assert [s["function"]["name"] for s in schemas] == ["calc", "python"]
    assert schemas[0]["function"]["parameters"]["required"] == ["input"]
    assert "<|user|>12345*6789=?<|end|><|assistant|><think>" in text
    assert format_for(tok) == "hermes"


@pytest.mark.parametrize("raw,want", [
    ('<tool_call>\n{"name": "calc", "arguments": {"input": "2*3"}}\n</tool_call>', ("calc", "2*3")),
    ('<tool_call>{"name": "calc", "arguments": {"expression": "2*3"}}</tool_call>', ("calc", "2*3")),
    ('<tool_call>{"name": "calc", "arguments": "2*3"}</tool_call>', ("calc", "2*3")),
    ("<tool_call>{not json}</tool_call>", None),
    ('<tool_call>{"arguments": {"input": "1"}}</tool_call>', None),
])
def test_hermes_calls_parse(raw, want):
    assert Tools.from_spec("calc", fmt="hermes").format.split(raw) == want


class HermesUser:
    class tokenizer:  # noqa: N801
        chat_template = TEMPLATE
        encode = staticmethod(lambda text, add_special_tokens=False: [ord(c) for c in text])
        decode = staticmethod(lambda ids, skip_special_tokens=True: "".join(map(chr, ids)))

    def generate(self, prompts, n, sampling):
        out = []
        for p in prompts:
            text = ("<answer>6</answer>" if "<tool_response>" in p else
                    '<tool_call>{"name": "calc", "arguments": {"input": "2*3"}}</tool_call>')
            out.append([Completion(text, [ord(c) for c in text], num_tokens=len(text)) for _ in range(n)])
        return out


def test_hermes_rollout_injects_a_tool_response():
    policy = HermesUser()
    r = run_multiturn(policy, ["2*3=?"], Tools.from_spec("calc", fmt="hermes"), Sampling.to_answer(max_new_tokens=128),
                      Limits())[0]
    assert r.segments[1].text == "\n<tool_response>\n6\n</tool_response>\n" and r.text.endswith("<answer>6</answer>")


def test_tool_policy_generate_returns_rollout_completions_per_prompt():
    policy = ToolPolicy(HermesUser(), Tools.from_spec("calc", fmt="hermes"), max_turns=3)
    groups = policy.generate(["a", "b"], 2, Sampling.to_answer(max_new_tokens=128))
    assert [len(g) for g in groups] == [2, 2]
    c = groups[1][0]
    assert c.text.endswith("<answer>6</answer>") and len(c.rollout.tool_calls) == 1
    assert c.num_tokens == len(c.rollout.segments[0].text) + len("<answer>6</answer>")  # injected not counted
