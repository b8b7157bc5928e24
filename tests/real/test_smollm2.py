"""SmolLM2-135M-Instruct through every stage: import, eval (chat template), sft, train with LoRA,
effort control and lenient extraction. See conftest.py for how to run it."""

from __future__ import annotations

import json
import math

import pytest

from ponder.cli import main

pytestmark = pytest.mark.real


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_import_is_a_plain_hf_directory(smollm2):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = json.loads((smollm2 / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    model = AutoModelForCausalLM.from_pretrained(smollm2)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    tok = AutoTokenizer.from_pretrained(smollm2)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    meta = json.loads((smollm2 / "ponder.json").read_text())
    assert meta["params"] == 134_515_008 and meta["flops"]["pretrain"] == pytest.approx(6 * 134_515_008 * 2e12)


def test_eval_through_the_chat_template_and_lenient_extraction(smollm2, smollm2_policy, tmp_path):
    import pyarrow.parquet as pq

    from ponder.policy.prompts import CHAT_SYSTEM
    from ponder.tasks import get_task

    problem = get_task("arith").sample(1, 1, seed=9999)[0]
    prompt = smollm2_policy.render(problem)
    assert prompt == (f"<|im_start|>system\n{CHAT_SYSTEM}<|im_end|>\n<|im_start|>user\n{problem.prompt}<|im_end|>\n"
                      "<|im_start|>assistant\n")
    runs = {}
    for extract in ("strict", "lenient"):
        out = tmp_path / extract
        assert main(["eval", "--model", str(smollm2), "--tasks", "arith", "--levels", "1", "--per-level", "3", "-n", "1",
                     "--temperature", "0", "--max-new-tokens", "24", "--extract", extract, "--verify-workers", "1",
                     "--out", str(out)]) == 0
        runs[extract] = (pq.read_table(out / "samples.parquet").to_pylist(), json.loads((out / "metrics.json").read_text()))
    rows, metrics = runs["strict"]
    assert rows[0]["prompt_tokens"] == smollm2_policy.count_tokens(prompt)
    # the model ignores ponder's tags: strict extraction finds nothing, lenient finds its answers
    assert all(r["pred"] is None for r in rows)
    lenient_rows, lenient = runs["lenient"]
    assert [r["text"] for r in lenient_rows] == [r["text"] for r in rows]  # same greedy samples
    assert all(r["pred"] for r in lenient_rows) and lenient["effort"]["extract"] == "lenient"
    assert sum(lenient["effort"]["extraction"].get(k, 0) for k in ("boxed", "answer_is", "last_number")) == 3
    ledger = metrics["cost"]["ledger"]
    assert ledger["pretrain_recorded"] and ledger["post_training_share"] == 0.0


def test_modes_and_think_budget_through_the_chat_template(smollm2_policy):
    from ponder.policy.budget import FORCE, sample_with_effort
    from ponder.tasks import get_task
    from ponder.types import Sampling

    problems = get_task("arith").sample(2, 2, seed=1)
    assert smollm2_policy.render(problems[0], "<think>").endswith("<|im_start|>assistant\n<think>")
    s = Sampling.to_answer(temperature=0.0, max_new_tokens=32, seed=0)
    think = sample_with_effort(smollm2_policy, problems, 1, s, mode="think", budget=8)
    for (c,) in think:
        assert c.text.startswith("<think>") and c.num_tokens <= 32 + smollm2_policy.count_tokens("<think>")
        head = c.text.split("</think>")[0][len("<think>"):]
        assert smollm2_policy.count_tokens(head) <= 8 + 1  # re-tokenised text may merge a token at the cut
        assert FORCE in c.text or "</think>" in c.text  # forced at the budget unless it closed by itself
    answer = sample_with_effort(smollm2_policy, problems, 1, s, mode="answer")
    assert all(c.text.startswith("<answer>") and c.think_tokens == 0 for (c,) in answer)


def test_sft_a_few_steps(smollm2, tmp_path):
    out = tmp_path / "sft"
    assert main(["sft", "--model", str(smollm2), "--tasks", "arith", "--levels", "1", "--steps", "2", "--batch-size", "2",
                 "--lr", "1e-5", "--warmup", "0", "--log-every", "1", "--checkpoint-every", "0", "--threads", "1",
                 "--out", str(out)]) == 0
    rows = _jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2] and all(math.isfinite(r["loss"]) for r in rows)
    meta = json.loads((out / "model" / "ponder.json").read_text())
    assert meta["flops"]["sft"] > 0 and meta["flops"]["pretrain"] > 1e20  # the import's entry carried over
    assert (out / "model" / "chat_template.jinja").exists() or "chat_template" in (out / "model" / "tokenizer_config.json").read_text()


def test_train_lora_merges_and_resumes(smollm2, tmp_path):
    import torch
    from safetensors.torch import load_file

    from ponder.rewards import REWARDS, register_reward

    if "real_digits" not in REWARDS.names():
        # a reward that differs between samples of a model that ignores ponder's tags (the strict
        # correctness reward is 0 for all of them, so no gradient): the share of digits in the text
        register_reward("real_digits", lambda problems, completions: [
            sum(ch.isdigit() for ch in c.text) / max(1, len(c.text)) for c in completions])
    out = tmp_path / "train"
    flags = ["--model", str(smollm2), "--tasks", "arith", "--levels", "1", "--prompts-per-step", "2", "--group-size", "2",
             "--max-new-tokens", "12", "--lora-rank", "8", "--lr", "1e-3", "--reward", "real_digits:1", "--save-every", "1",
             "--threads", "1", "--seed", "0", "--quiet", "--out", str(out)]
    assert main(["train", *flags, "--steps", "1"]) == 0
    assert main(["train", "--out", str(out), "--resume", "--steps", "2", "--quiet"]) == 0
    rows = _jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["loss"]) for r in rows) and any(r["grad_norm"] > 0 for r in rows)
    final = out / "model"
    assert not (final / "adapter_config.json").exists()  # merged into a plain checkpoint
    weights = load_file(final / "model.safetensors")
    base = load_file(smollm2 / "model.safetensors")
    assert set(weights) == set(base) and not any("lora" in k for k in weights)
    assert any(not torch.equal(weights[k], base[k]) for k in base if "q_proj" in k)
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < rows[-1]["post_training_share"] < 1e-6  # pre-training recorded: RL is a sliver
    assert summary
