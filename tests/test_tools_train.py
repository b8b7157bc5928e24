"""Training with tools: `--tools calc` picks tool rollouts, the injected results are masked out of
the loss, the `tool_calls` reward prices calls, and a step runs end to end on the tiny model."""

from __future__ import annotations

import re

import pytest

from ponder.errors import PonderError
from ponder.policy.tokenizer import build_tokenizer
from ponder.rewards import combine
from ponder.rl import TrainConfig
from ponder.rl.modes import ToolRollouts
from ponder.rl.rollout import Batch
from ponder.rl.update import build_tensors
from ponder.types import Completion, Problem, Sampling

HARD = Problem(id="h", task="arith", prompt="12345*6789=?", answer="83810205", difficulty=5)
EASY = Problem(id="e", task="arith", prompt="3+4=?", answer="7", difficulty=1)


class Caller:
    """The tiny tokenizer, scripted: calls calc on hard prompts, answers easy ones directly."""

    tokenizer = build_tokenizer()

    def render(self, problem, suffix=""):
        return problem.prompt + "\n" + suffix

    def generate(self, prompts, n, sampling):
        return [[self._one(p) for _ in range(n)] for p in prompts]

    def _one(self, context):
        prompt, _, done = context.partition("\n")
        out = re.findall(r"<output>(.*?)</output>", done)
        if out:
            text = f"<answer>{out[-1]}</answer>"
        elif "*" in prompt:
            text = f'<tool name="calc">{prompt.rstrip("=?")}</tool>'
        else:
            text = "<answer>7</answer>"
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return Completion(text, ids, num_tokens=len(ids))


def test_tools_flag_picks_tool_rollouts_and_refuses_contradictions():
    assert TrainConfig(model="x", tools="calc").modes == "tools"
    with pytest.raises(PonderError, match="--tools is an option of --modes tools"):
        TrainConfig(model="x", tools="calc", modes="balanced")
    with pytest.raises(PonderError, match="needs --tools"):
        TrainConfig(model="x", modes="tools")
    with pytest.raises(PonderError, match="unknown tool 'clac'"):
        TrainConfig(model="x", tools="clac")


def test_injected_tool_results_are_masked_out_of_the_loss():
    policy, tok = Caller(), Caller.tokenizer
    comps = ToolRollouts(tools="calc").rollout(policy, [HARD, EASY], 1, Sampling.to_answer(max_new_tokens=96), "")
    hard, easy = comps
    assert hard.text == '<tool name="calc">12345*6789</tool><output>83810205</output><answer>83810205</answer>'
    batch = Batch(problems=[HARD, EASY], completions=comps, rewards=[1.0, 1.0], correct=[1.0, 1.0], parts={},
                  group_size=1)
    ids, _, mask = build_tensors(policy, tok, batch, TrainConfig(model="x", tools="calc"))

    def n(text):
        return len(tok.encode(text, add_special_tokens=False))

    call, out, ans = n('<tool name="calc">12345*6789</tool>'), n("<output>83810205</output>"), n("<answer>83810205</answer>")
    plen = n(HARD.prompt + "\n")
    assert mask[0, plen - 1 : plen - 1 + call + out + ans].tolist() == [1.0] * call + [0.0] * out + [1.0] * ans
    assert mask[0].sum() == call + ans and hard.num_tokens == call + ans
    assert mask[1].sum() == n("<answer>7</answer>")  # a direct answer: every token trained


def test_tool_calls_reward_prices_each_call():
    comps = ToolRollouts(tools="calc").rollout(Caller(), [HARD, EASY], 1, Sampling.to_answer(max_new_tokens=96), "")
    totals, parts = combine("correct:1,tool_calls:-0.1")([HARD, EASY], comps)
    assert parts["tool_calls"] == [1.0, 0.0]
    assert totals == pytest.approx([0.9, 1.0])


def test_a_training_step_with_tools_runs_on_the_tiny_model(tmp_path):
    from helpers import train

    from ponder.policy.tiny import init_tiny
    from ponder.runs import read_jsonl

    model = str(init_tiny(tmp_path / "tiny"))
    cfg = TrainConfig(model=model, tasks=("arith",), levels=(1,), tools="calc", reward="correct:1,tool_calls:-0.1",
                      steps=1, prompts_per_step=2, group_size=2, max_new_tokens=16, save_every=0, threads=1)
    run = train(cfg, tmp_path / "run")
    row = read_jsonl(run.path / "metrics.jsonl")[-1]
    assert "tool_rate" in row and "tool_rate/d1" in row


def test_tool_balanced_forces_half_of_each_group_to_call_and_credits_the_first_token():
    from ponder.rl.modes import ToolBalanced

    class Either(Caller):
        """Continues whatever it was started with: a call after '<', an answer after '<answer>'."""

        def _one(self, context):
            prompt, _, done = context.partition("\n")
            out = re.findall(r"<output>(.*?)</output>", done)
            if out:
                text = f"<answer>{out[-1]}</answer>"
            elif done.endswith("<"):
                text = f'tool name="calc">{prompt.rstrip("=?")}</tool>'
            else:
                text = "7</answer>"
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            return Completion(text, ids, num_tokens=len(ids))

    cfg = TrainConfig(model="x", tools="calc", modes="tool_balanced", group_size=4)
    modes = cfg.mode_strategy
    assert isinstance(modes, ToolBalanced)
    comps = modes.rollout(Either(), [HARD], 4, Sampling.to_answer(max_new_tokens=96), "")
    assert [len(c.rollout.tool_calls) for c in comps] == [1, 1, 0, 0]
    assert comps[0].text.startswith('<tool name="calc">12345*6789</tool><output>83810205</output>')
    assert comps[2].text == "<answer>7</answer>" and comps[2].token_ids[0] == Caller.tokenizer.convert_tokens_to_ids("<answer>")
    import torch

    adv = modes.advantages(torch.tensor([[1.0, 1.0, 0.0, 0.0]]), "group")
    assert adv.shape == (4, 2) and adv[0, 0] > 0 > adv[2, 0]  # the forced call is credited, the forced answer not


def test_the_tools_preset_steps_with_a_kl_to_the_warm_start(tmp_path):
    """The `tools` preset (mode-balanced tool rollouts) with a KL to the warm start runs a step: the
    KL is measured on the policy's tokens (injected results and the forced first token are masked)."""
    import dataclasses
    import math

    from helpers import train

    from ponder.policy.tiny import init_tiny
    from ponder.rl.presets import TOOLS
    from ponder.runs import read_jsonl

    model = str(init_tiny(tmp_path / "tiny"))
    cfg = dataclasses.replace(TOOLS, model=model, steps=1, prompts_per_step=2, group_size=2, max_new_tokens=24,
                              save_every=0, threads=1, beta=0.1)
    row = read_jsonl(train(cfg, tmp_path / "run").path / "metrics.jsonl")[-1]
    assert math.isfinite(row["kl"]) and row["kl"] >= 0 and "tool_rate/d1" in row
