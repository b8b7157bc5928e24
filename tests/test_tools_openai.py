"""Tool rollouts through the openai backend against a loopback server (the scripted server of
tests/test_openai_client.py): the server's completion opens a `calc` call and stops at `</tool>`
(cut, as vLLM does, and named in `stop_reason`), the runtime puts the marker back, runs the tool,
injects the result (masked out of the loss), and the next request continues the text to the answer.
"""

from __future__ import annotations

import json
import re

import pytest
from test_openai_client import ScriptedServer

from ponder.policy.openai import OpenAIPolicy
from ponder.policy.tokenizer import build_tokenizer
from ponder.rollout import Limits, run_multiturn
from ponder.tools import Tools
from ponder.types import Sampling

SAMPLING = Sampling(temperature=1.0, max_new_tokens=64, stop=("</answer>",))


class ToolServer(ScriptedServer):
    """A /completions server that calls calc on a product it has no result for, and answers with
    the last `<output>` once there is one. `ids`: return the completion's token ids (vLLM's
    `return_token_ids`), one per character as the tiny tokenizer writes them."""

    tokenizer = build_tokenizer()

    def __init__(self, ids: bool = True, call: str = '<tool name="calc">{}</tool>'):
        super().__init__()
        self.ids, self.call = ids, call

    def answer(self, h, step, body):
        prompt = body["prompt"]
        outputs = re.findall(r"<output>(.*?)</output>", prompt)
        if outputs:
            text, stop = f"<answer>{outputs[-1]}</answer>", "</answer>"
        else:
            text, stop = self.call.format(prompt.split("=")[0].strip()), "</tool>"
        choice = {"index": 0, "finish_reason": "stop", "text": text[: -len(stop)], "stop_reason": stop}
        if self.ids and body.get("return_token_ids"):  # vLLM's ids cover the stop string it cut
            choice["token_ids"] = self.tokenizer.encode(text, add_special_tokens=False)
        usage = {"prompt_tokens": len(prompt), "completion_tokens": len(text)}
        self.reply(h, {"id": "x", "choices": [choice], "usage": usage})


@pytest.fixture
def tokenizer_dir(tmp_path):
    build_tokenizer().save_pretrained(tmp_path / "tok")
    return str(tmp_path / "tok")


@pytest.mark.parametrize("server_ids", [True, False], ids=["server-ids", "local-ids"])
def test_tool_rollout_through_the_openai_backend(tokenizer_dir, server_ids):
    """One call, its result injected and masked, then the answer; the second request is the first
    prompt continued by the call and the result. Without the server's ids the local tokenizer
    encodes the turns, so the mask covers the same tokens either way."""
    with ToolServer(ids=server_ids) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, tokenizer=tokenizer_dir, token_ids=True)
        [r] = run_multiturn(policy, ["12345*6789=?\n"], Tools.from_spec("calc"), SAMPLING,
                            Limits(max_turns=3, max_tokens=128))
    assert [s.source for s in r.segments] == ["policy", "env", "policy"]
    assert r.segments[0].text == '<tool name="calc">12345*6789</tool>'  # the cut stop string put back
    assert r.segments[1].text == "<output>83810205</output>"
    assert r.text.endswith("<answer>83810205</answer>") and r.finish_reason == "stop"
    [call] = r.tool_calls
    assert (call.name, call.input, call.output, call.error) == ("calc", "12345*6789", "83810205", None)
    assert call.latency_s > 0
    tok = build_tokenizer()
    injected = tok.encode("<output>83810205</output>", add_special_tokens=False)
    assert r.token_ids == tok.encode(r.text, add_special_tokens=False)
    mask = r.loss_mask()
    start = len(tok.encode(r.segments[0].text, add_special_tokens=False))
    assert mask == [1] * start + [0] * len(injected) + [1] * (len(mask) - start - len(injected))
    assert r.own_tokens == sum(mask) == len(mask) - len(injected)
    assert [q["stop"] for q in srv.requests] == [["</answer>", "</tool>"]] * 2
    assert srv.requests[1]["prompt"] == "12345*6789=?\n" + r.segments[0].text + r.segments[1].text
    assert srv.requests[0].get("return_token_ids") is True


def test_openai_tool_rollout_without_ids_or_tokenizer_counts_the_servers_tokens():
    """No local tokenizer and no ids: turns are counted by the server's usage, so the per-rollout
    token budget still holds (the rollout ends "length" once the server's tokens exceed it)."""
    with ToolServer(ids=False) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url)
        [r] = run_multiturn(policy, ["12*34=?\n"], Tools.from_spec("calc"), SAMPLING, Limits(max_turns=3, max_tokens=200))
        [cut] = run_multiturn(policy, ["12*34=?\n"], Tools.from_spec("calc"), SAMPLING, Limits(max_turns=3, max_tokens=10))
    assert r.text == '<tool name="calc">12*34</tool><output>408</output><answer>408</answer>'
    assert r.own_tokens == len('<tool name="calc">12*34</tool>') + len("<answer>408</answer>")
    assert cut.finish_reason == "length" and cut.own_tokens == 10 and not cut.tool_calls
    assert cut.text == '<tool name="calc">12*34</tool>'[: len('<tool name="calc">12*34</tool>') * 10 // 30]


def test_openai_tool_errors_become_results(tokenizer_dir):
    """An unknown tool from the server is an error result the model reads; the rollout goes on."""
    with ToolServer(call='<tool name="nope">{}</tool>') as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, tokenizer=tokenizer_dir)
        [r] = run_multiturn(policy, ["2*3=?\n"], Tools.from_spec("calc"), SAMPLING, Limits(max_turns=3, max_tokens=512))
    [call] = r.tool_calls
    assert call.error == "unknown" and r.segments[1].text.startswith("<output>error:")
    assert r.finish_reason == "stop" and len(r.segments) == 3


def test_eval_with_tools_over_the_openai_backend(tmp_path, capsys):
    """`ponder eval --tools calc --backend openai`: every sample a tool rollout served by the
    loopback server; the tool section of metrics.json counts the calls and the accuracy."""
    from ponder.cli import main

    out = tmp_path / "run"
    with ToolServer() as srv:
        rc = main(["eval", "--backend", "openai", "--base-url", srv.url, "--model", "tiny", "--tools", "calc",
                   "--tasks", "toolarith", "--levels", "5", "--per-level", "2", "-n", "1", "--verify-workers", "1",
                   "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    t = json.loads((out / "metrics.json").read_text())["tools"]
    five = t["by_difficulty"]["5"]
    assert five["tool_rate"] == 1.0 and five["accuracy_with_tool"] == 1.0 and five["tool_errors"] == 0.0
    assert five["mean_tokens"] > 0  # the server's tokens, counted without ids
