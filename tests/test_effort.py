"""Effort control at inference (mode, think budget), lenient extraction and run instructions."""

from __future__ import annotations

import json

import pytest

from ponder.errors import PonderError
from ponder.format import as_tagged, extract_lenient
from ponder.policy.budget import FORCE, generate_with_think_budget, sample_with_effort
from ponder.policy.prompts import CHAT_SYSTEM, INSTRUCTIONS, render_prompt
from ponder.types import Completion, Problem, Sampling


class CharTokenizer:
    """One token per character."""

    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(map(chr, ids))


class ScriptedPolicy:
    """Thinks `thought` then answers `answer`, one token per character, honouring max_new_tokens and
    stop strings like a real backend; records every call's max_new_tokens."""

    def __init__(self, thought="<think>ab</think>", answer="<answer>5</answer>", tokenizer=True):
        self.thought, self.answer, self.calls = thought, answer, []
        if tokenizer:
            self.tokenizer = CharTokenizer()

    def render(self, problem, suffix=""):
        return problem.prompt + "\n" + suffix

    def count_tokens(self, text):
        return len(text)

    def _one(self, prompt, s):
        script = self.answer if prompt.endswith("</think>") else self.thought
        if prompt.endswith(FORCE):  # the forced tags already opened the answer
            script = self.answer.removeprefix("<answer>")
        text = script[: s.max_new_tokens]
        stops = [text.find(x) + len(x) for x in s.stop if x and x in text]
        reason = "stop" if stops or text == script else "length"
        text = text[: min(stops)] if stops else text
        return Completion(text=text, token_ids=[ord(c) for c in text], num_tokens=len(text), finish_reason=reason)

    def generate(self, prompts, n, sampling):
        self.calls.append(sampling.max_new_tokens)
        return [[self._one(p, sampling) for _ in range(n)] for p in prompts]


def test_budget_near_the_limit_leaves_an_early_thought_its_answer():
    # the thought closes after 17 tokens; budget 60 of 64 used to size phase 2 from the budget
    # (64 - 60 - len(FORCE) < 1: no answer at all); now from the 17 tokens actually used
    policy = ScriptedPolicy()
    (outs,) = generate_with_think_budget(policy, ["2+3=?\n"], 4, Sampling(max_new_tokens=64), budget=60)
    assert [c.text for c in outs] == ["<think>ab</think><answer>5</answer>"] * 4
    assert policy.calls == [60, 64 - 17]
    assert all(c.num_tokens == len(c.token_ids) == len(c.text) for c in outs)


def test_budget_forces_the_answer_and_keeps_every_sample_within_its_own_room():
    # a thought that never closes: forced after 10 tokens; the answer gets 40 - 10 - len(FORCE) = 14
    policy = ScriptedPolicy(thought="<think>" + "x" * 50, answer="<answer>123456789</answer>")
    (outs,) = generate_with_think_budget(policy, ["p\n"], 1, Sampling(max_new_tokens=40), budget=10)
    (c,) = outs
    assert c.text == "<think>xxx" + FORCE + "123456789</ans"
    assert policy.calls == [10, 14]
    assert c.num_tokens == 40 and c.finish_reason == "length" and len(c.token_ids) == 40


def test_one_batched_call_cut_per_sample_equals_separate_calls():
    # two thoughts closing at 16 and 19 tokens leave rooms of 14 and 11: with a tokenizer both
    # continue in one call at 14 and the second is cut to 11; without one, a call per room
    class TwoThoughts(ScriptedPolicy):
        def _one(self, prompt, s):
            self.thought = "<think>a</think>" if prompt.startswith("a") else "<think>bbbb</think>"
            return super()._one(prompt, s)

    answer = "<answer>" + "9" * 40 + "</answer>"
    texts = {}
    for tok in (True, False):
        pol = TwoThoughts(answer=answer, tokenizer=tok)
        outs = generate_with_think_budget(pol, ["a\n", "b\n"], 1, Sampling(max_new_tokens=30), budget=25)
        assert sorted(pol.calls) == ([14, 25] if tok else [11, 14, 25])
        assert [g[0].num_tokens for g in outs] == [30, 30] and all(g[0].finish_reason == "length" for g in outs)
        texts[tok] = [g[0].text for g in outs]
    assert texts[True] == texts[False] == ["<think>a</think>" + answer[:14], "<think>bbbb</think>" + answer[:11]]


def test_modes_start_the_completion_and_count_as_its_tokens():
    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    (outs,) = sample_with_effort(ScriptedPolicy(thought="5</answer>"), [p], 1, Sampling(max_new_tokens=64), mode="answer")
    assert outs[0].text == "<answer>5</answer>" and outs[0].num_tokens == len("<answer>5</answer>")
    # --mode plan: the forced-mode probe of plannable tasks starts every completion with <plan>
    r = Problem(id="r", task="route", prompt="walk 0,5>0,3", answer="L2", difficulty=1, meta={"cells": [[0, 5], [0, 3]]})
    (outs,) = sample_with_effort(ScriptedPolicy(thought="L2</plan><answer>L2</answer>"), [r], 1, Sampling(max_new_tokens=64),
                                 mode="plan")
    assert outs[0].text == "<plan>L2</plan><answer>L2</answer>" and outs[0].num_tokens == len(outs[0].text)
    with pytest.raises(PonderError, match="unknown mode"):
        sample_with_effort(ScriptedPolicy(), [p], 1, Sampling(), mode="deep")


def test_warm_model_budget_near_the_limit_keeps_accuracy(warm_model):
    from ponder.policy.hf import HFPolicy
    from ponder.tasks import get_task

    policy = HFPolicy(str(warm_model))
    task = get_task("arith")
    problems = task.sample(4, 1, seed=3)
    s = Sampling.to_answer(temperature=0.0, max_new_tokens=64, seed=0)
    free = sample_with_effort(policy, problems, 1, s, mode="think")
    near = sample_with_effort(policy, problems, 1, s, mode="think", budget=60)
    # its thoughts close well within 60 tokens, so the budget must change nothing (greedy): before
    # the fix phase 2 got 64 - 60 - len(FORCE) < 1 tokens and no sample had an answer
    assert all("</answer>" in g[0].text for g in free)
    assert [g[0].text for g in near] == [g[0].text for g in free]
    assert [task.verify(g[0].text, p) for p, g in zip(problems, near)] == [task.verify(g[0].text, p) for p, g in zip(problems, free)]


@pytest.mark.parametrize("text, answer, rule", [
    ("<answer>4</answer> then 5", "4", "strict"),
    ("so x = \\boxed{\\frac{1}{2}}, not 3", "\\frac{1}{2}", "strict"),
    ("So the answer is 12. Done.", "12", "answer_is"),
    ("Final answer: 3.5", "3.5", "answer_is"),
    ("7-5 = 21.", "21", "last_number"),
    ("<think>the answer is 3</think> I count 1,200 apples", "1200", "last_number"),
    ("no digits here", None, None),
])
def test_lenient_extraction_order(text, answer, rule):
    assert extract_lenient(text, math=True) == (answer, rule)


def test_lenient_boxed_outside_math():
    assert extract_lenient("so \\boxed{7}, then 8") == ("7", "boxed")


def test_lenient_text_is_scored_by_the_strict_verifier():
    from ponder.tasks import get_task

    task = get_task("arith")
    p = task.sample(1, 1, seed=0)[0]
    raw = f"Let me see. The answer is {p.answer}."
    assert task.verify(raw, p) == 0.0  # strict: no tags, no credit
    tagged, rule = as_tagged(raw)
    assert rule == "answer_is" and task.verify(tagged, p) == 1.0 and tagged.startswith(raw)
    # an answer cut off by the length limit does not swallow the appended one
    cut, _ = as_tagged(f"<answer>well the answer is {p.answer}. and")
    assert task.extract(cut) == p.answer


def test_instruction_replaces_the_system_turn():
    class ChatTok:
        chat_template = "x"

        def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
            return "|".join(f"{m['role']}:{m['content']}" for m in messages) + "|assistant:"

    tok = ChatTok()
    assert render_prompt(tok, "1+1=?") == f"system:{CHAT_SYSTEM}|user:1+1=?|assistant:"
    assert render_prompt(tok, "1+1=?", instruction="boxed").startswith(f"system:{INSTRUCTIONS['boxed']}|")
    assert render_prompt(tok, "1+1=?", "<think>", instruction="Be brief.") == "system:Be brief.|user:1+1=?|assistant:<think>"
    assert render_prompt(None, "1+1=?") == "1+1=?\n"  # the plain format is unchanged without one
    assert render_prompt(None, "1+1=?", instruction="Be brief.") == "Be brief.\n1+1=?\n"


@pytest.mark.parametrize("kwargs, message", [
    ({"think_budget": (0,)}, "--think-budget values must be >= 1"),
    ({"think_budget": (8, 8)}, "lists a value twice"),
    ({"think_budget": (8,), "mode": "answer"}, "--think-budget with --mode answer"),
    ({"pretrain_tokens": -1.0}, "--pretrain-tokens must be > 0"),
    ({"mode": "think", "ray": "local"}, "drop --ray"),
])
def test_eval_config_refuses_contradictions(kwargs, message):
    from ponder.eval import EvalConfig

    with pytest.raises(PonderError, match=message):
        EvalConfig(model="m", **kwargs)


def test_budget_sweep_curve_headline_and_report(warm_model, tmp_path):
    from ponder.cli import main

    out = tmp_path / "ev"
    rc = main(["eval", "--model", str(warm_model), "--tasks", "arith", "--levels", "1,3", "--per-level", "2", "-n", "1",
               "--max-new-tokens", "48", "--mode", "think", "--think-budget", "16,4", "--extract", "lenient",
               "--temperature", "0", "--out", str(out), "--verify-workers", "1"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    curve = m["effort"]["budget_curve"]
    assert [c["think_budget"] for c in curve] == [4, 16] and all(c["n"] == 4 for c in curve)
    assert curve[0]["mean_think_tokens"] <= curve[1]["mean_think_tokens"]
    assert m["summary"]["n"] == 4 and m["summary"]["accuracy"] == curve[1]["accuracy"]  # headline: largest budget
    assert m["effort"]["mode"] == "think" and m["effort"]["extract"] == "lenient"
    assert "Accuracy vs think budget" in (out / "report.html").read_text()
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "samples.parquet").to_pylist()
    assert sorted({r["think_budget"] for r in rows}) == [4, 16]
    assert all(r["text"].startswith("<think>") for r in rows)


def test_ledger_summary_post_training_share():
    from ponder.ledger import ledger_summary

    meta = {"params": 1000, "flops": {"sft": 1e9, "rl": 1e9}}
    s = ledger_summary(meta, 1000)
    assert s["post_training_share"] == 0.5 and not s["pretrain_recorded"]
    s = ledger_summary(meta, 1000, pretrain_tokens=1e6)  # 6 N T = 6e9 of pre-training added
    assert s["pretrain_recorded"] and s["post_training_share"] == pytest.approx(1e9 / 8e9)


def test_hub_ids_pass_the_model_check_and_local_typos_do_not(tmp_path, monkeypatch):
    from ponder.policy import check_model_dir, is_hub_id

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert is_hub_id("HuggingFaceTB/SmolLM2-135M-Instruct") and str(check_model_dir("Qwen/Qwen3-0.6B")) == "Qwen/Qwen3-0.6B"
    for local in ("runs/sft-a", "/abs/model", "a/b/c", "model"):
        assert not is_hub_id(local)
        with pytest.raises(PonderError, match="model directory not found"):
            check_model_dir(local)


def test_report_recomputes_a_budget_sweep_as_it_was_written(warm_model, tmp_path):
    from ponder.cli import main

    out = tmp_path / "ev"
    assert main(["eval", "--model", str(warm_model), "--tasks", "arith", "--levels", "1", "--per-level", "2", "-n", "1",
                 "--max-new-tokens", "32", "--think-budget", "4,16", "--temperature", "0", "--out", str(out),
                 "--verify-workers", "1", "--pretrain-tokens", "1e6"]) == 0
    before = json.loads((out / "metrics.json").read_text())
    assert before["cost"]["ledger"]["pretrain_recorded"]
    assert main(["report", str(out)]) == 0
    after = json.loads((out / "metrics.json").read_text())
    for key in ("summary", "effort"):
        assert after[key] == before[key]
    assert after["cost"]["ledger"] == before["cost"]["ledger"]
    assert "Accuracy vs think budget" in (out / "report.html").read_text()


def test_instruction_per_task_family():
    from ponder.policy.prompts import instruction_for

    assert instruction_for("Be brief.", "arith") == "Be brief."
    assert instruction_for("Note: x=1 here", "arith") == "Note: x=1 here"  # not per-task entries: one text
    per = "arith=answer-is; grid = Plan first.;*=boxed"
    assert instruction_for(per, "arith") == "answer-is" and instruction_for(per, "grid") == "Plan first."
    assert instruction_for(per, "route") == "boxed"
    assert instruction_for("arith=boxed", "grid") is None and instruction_for("", "arith") is None
    p = Problem(id="a", task="grid", prompt="go", answer="x", difficulty=1)
    from ponder.policy.budget import render

    class P:
        tokenizer = type("PlainTokenizer", (), {"chat_template": None})()  # no chat template: the plain format

        def render(self, problem, suffix=""):
            return "own:" + problem.prompt

    assert render(P(), p, "", "arith=boxed") == "own:go"  # no entry for grid: ponder's own rendering
    assert render(P(), p, "", per) == "Plan first.\ngo\n"


def test_budget_sweep_resume_skips_each_budget_it_has(warm_model, tmp_path, monkeypatch):
    from ponder.cli import main
    from ponder.policy.hf import HFPolicy

    out = tmp_path / "ev"
    flags = ["eval", "--model", str(warm_model), "--tasks", "arith", "--levels", "1", "--per-level", "2", "-n", "1",
             "--max-new-tokens", "24", "--think-budget", "4,16", "--temperature", "0", "--batch-problems", "1",
             "--verify-workers", "1", "--out", str(out)]
    assert main(flags) == 0
    before = json.loads((out / "metrics.json").read_text())
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "samples.parquet").to_pylist()
    # drop budget 16's second problem, as if killed before its last batch: only that one is redone
    kept = [r for r in rows if not (r["think_budget"] == 16 and r["problem_id"] == rows[-1]["problem_id"])]
    from ponder.runs import write_parquet

    write_parquet(out / "samples.parquet", kept)
    calls = []
    real = HFPolicy.generate
    monkeypatch.setattr(HFPolicy, "generate", lambda self, prompts, n, s: calls.append(len(prompts)) or real(self, prompts, n, s))
    assert main(["eval", "--out", str(out), "--resume"]) == 0
    assert calls and sum(calls) <= 2  # one problem: its phase 1 (and phase 2) only
    after = json.loads((out / "metrics.json").read_text())
    assert after["effort"]["budget_curve"] == before["effort"]["budget_curve"]
