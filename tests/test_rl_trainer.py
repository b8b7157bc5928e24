"""The trainer's parts alone (collect, build_tensors, step), then the loop end to end.

Real components throughout: the tiny model (random init here: fast, and its behaviour is known),
the hf policy wrapping the live weights, the arith task and the verifier pool.
"""

import math

import pytest
import torch

from helpers import train
from ponder.rewards import combine
from ponder.rl import TrainConfig
from ponder.rl.data import PromptSource
from ponder.rl.rollout import Batch, advantages, collect
from ponder.rl.update import build_tensors, step
from ponder.types import Completion, Problem


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ponder.policy.tiny import init_tiny

    return str(init_tiny(tmp_path_factory.mktemp("rl") / "tiny"))


@pytest.fixture()
def live(tiny, load_live):
    return load_live(tiny)


def test_dynamic_sampling_drops_zero_variance_groups(live):
    _, _, policy = live
    torch.manual_seed(0)
    cfg = TrainConfig(model="x", prompts_per_step=2, group_size=4, max_new_tokens=8, dynamic_sampling=True,
                      max_resample_rounds=2)
    # an untrained model never answers 2+3 correctly: every group has zero variance -> all dropped,
    # after 1 + 2 rounds of 2 prompts = 6 groups sampled
    source = PromptSource.from_task("arith", levels=(1,), seed=7)
    batch = collect(policy, source, combine("correct:1"), cfg)
    assert (batch.sampled_groups, batch.dropped_groups, len(batch.completions)) == (6, 6, 0)
    from ponder.rl.metrics import batch_metrics

    m = batch_metrics(batch)
    assert m["dropped_frac"] == 1.0 and m["zero_var_frac"] == 1.0
    assert source.cursor == 6  # fresh prompts each round
    # without dynamic sampling the same batch is kept whole, its zero-variance share still counted
    cfg = TrainConfig(model="x", prompts_per_step=2, group_size=4, max_new_tokens=8)
    batch = collect(policy, PromptSource.from_task("arith", levels=(1,), seed=7), combine("correct:1"), cfg)
    assert (batch.sampled_groups, batch.zero_var_groups, batch.dropped_groups, len(batch.completions)) == (2, 2, 0, 8)
    assert [p.id for p in batch.problems[:5]] == [batch.problems[0].id] * 4 + [batch.problems[4].id]


def _batch(tok, finish=("stop", "length")):
    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    ids = tok.encode("<answer>5</answer>", add_special_tokens=False)
    comps = [Completion(text="<answer>5</answer>", token_ids=ids + [tok.eos_token_id], finish_reason=finish[0],
                        num_tokens=len(ids) + 1),
             Completion(text="<answer>", token_ids=ids[:1], finish_reason=finish[1], num_tokens=1)]
    return Batch(problems=[p, p], completions=comps, rewards=[1.0, 0.0], correct=[1.0, 0.0], parts={}, group_size=2)


def test_build_tensors_masks_exactly_the_completion(live):
    model, tok, policy = live
    batch = _batch(tok)
    ids, attn, mask = build_tensors(policy, tok, batch, TrainConfig(model="x"))
    n_prompt = len(tok.encode("2+3=?\n", add_special_tokens=False))  # plain prompt + "\n" separator: 6 chars
    assert n_prompt == 6
    n_comp = batch.completions[0].num_tokens  # "<answer>", "5", "</answer>", EOS = 4 tokens
    assert n_comp == 4 and ids.shape == (2, 10) and attn[1].sum() == 7
    # logits at position t predict token t+1: completion tokens 6..9 are predicted at 5..8
    assert mask[0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert mask[1].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert ids[0, 6:].tolist() == batch.completions[0].token_ids
    # opt-in: the truncated completion leaves the loss
    _, _, mask = build_tensors(policy, tok, batch, TrainConfig(model="x", mask_truncated=True))
    assert mask[1].sum() == 0 and mask[0].sum() == 4


def _opt(model):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)


def test_step_updates_and_raises_logprob_of_advantaged_sample(live):
    model, tok, policy = live
    batch = _batch(tok, finish=("stop", "stop"))
    cfg = TrainConfig(model="x", epochs=2, minibatches=1, lr=1e-3)
    tensors = build_tensors(policy, tok, batch, cfg)
    adv = advantages(batch, cfg)  # rewards [1, 0], unbiased std 0.7071 -> [+0.7071, -0.7071]
    assert adv.tolist() == pytest.approx([0.5 / (math.sqrt(0.5) + 1e-6), -0.5 / (math.sqrt(0.5) + 1e-6)])
    from ponder.rl.update import token_logprobs

    with torch.no_grad():
        before = (token_logprobs(model, *tensors[:2], 1.0)[0] * tensors[2])[0].sum()
    opt, sched = _opt(model)
    stats = step(model, opt, sched, tensors, adv, cfg)
    with torch.no_grad():
        after = (token_logprobs(model, *tensors[:2], 1.0)[0] * tensors[2])[0].sum()
    assert after > before  # the positive-advantage completion became more likely
    assert stats["skipped"] == 0 and stats["grad_norm"] > 0 and stats["entropy"] > 0
    # epoch 1 reuses the recomputed old logprobs: ratio 1 exactly; the mean over 2 epochs is not 1
    assert stats["ratio_mean"] != 1.0


def test_step_skips_non_finite_loss(live):
    model, tok, policy = live
    batch = _batch(tok, finish=("stop", "stop"))
    cfg = TrainConfig(model="x")
    tensors = build_tensors(policy, tok, batch, cfg)
    before = [p.detach().clone() for p in model.parameters()]
    opt, sched = _opt(model)
    stats = step(model, opt, sched, tensors, torch.tensor([float("nan"), 1.0]), cfg)
    assert stats["skipped"] == 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_think_budget_forcing_closes_thought_and_answers(live):
    from ponder.policy.budget import generate_with_think_budget
    from ponder.types import Sampling

    _, tok, policy = live
    torch.manual_seed(0)
    # the random model, forced into a <think> by the render suffix, never closes it by itself:
    # after 6 tokens the budget forces "</think><answer>" and the answer is generated after it
    prompts = [policy.render(Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1), "<think>")]
    (outs,) = generate_with_think_budget(policy, prompts, 2, Sampling(max_new_tokens=20), budget=6)
    for c in outs:
        head, sep, tail = c.text.partition("</think><answer>")
        assert sep and len(tok.encode(head, add_special_tokens=False)) <= 6
        assert c.num_tokens <= 20 and len(c.token_ids) == c.num_tokens


def test_cli_bad_input_one_line_and_nothing_written(tmp_path, tiny):
    import subprocess
    import sys

    cases = [(["--model", str(tmp_path / "nope")], "model directory not found"),
             (["--model", tiny, "--reward", "corect:1"], "unknown reward 'corect'"),
             (["--model", tiny, "--task", "arithm"], "unknown task 'arithm'"),
             (["--model", tiny, "--levels", "1,9"], "difficulty levels 1..5, got 9"),
             (["--model", tiny, "--group-size", "1"], "group_size must be >= 2"),
             (["--model", tiny, "--tasks", "arith,nope"], "unknown task 'nope'"),
             # contradictions caught when the config is built, before any run directory exists
             (["--model", tiny, "--reward", "l1_exact:1", "--budget", "0"], "pass --budget B"),
             (["--model", tiny, "--loss", "dr_grpo", "--advantage-scale", "group"], "--loss dr_grpo drops the std"),
             (["--model", tiny, "--mode-weight", "10"], "--mode-weight is an option of --modes balanced"),
             (["--model", tiny, "--resume"], "--resume: ")]
    for i, (flags, msg) in enumerate(cases):
        out = tmp_path / f"run{i}"
        r = subprocess.run([sys.executable, "-m", "ponder", "train", "--out", str(out), *flags],
                           capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert msg in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert not out.exists()


def test_lora_trains_adapter_and_merges(warm_model, tmp_path):
    from safetensors.torch import load_file

    tiny = str(warm_model)  # varied lengths and answers: the reward has variance, so gradients are non-zero
    cfg = TrainConfig(model=tiny, tasks=("arith",), levels=(1,), reward="correct:1,kimi_length:1", steps=2,
                      prompts_per_step=2, group_size=4, max_new_tokens=48, lora_rank=4, lr=1e-2, save_every=1)
    run_dir = train(cfg, tmp_path / "run")
    ckpt = run_dir.path / "checkpoints" / "step-000002"
    assert (ckpt / "adapter_config.json").exists()  # the checkpoint is a peft adapter dir
    base, merged = load_file(f"{tiny}/model.safetensors"), load_file(run_dir.path / "model" / "model.safetensors")
    assert set(base) == set(merged)  # merged back into a plain HF model
    assert any(not (base[k] == merged[k]).all() for k in base)  # ...with the adapter's update folded in


def test_preset_from_cli_with_overrides(tiny, tmp_path):
    import subprocess
    import sys

    import yaml

    from ponder.rewards import parse_spec
    from ponder.rl.presets import CALIBRATION

    parse_spec(CALIBRATION.reward)  # the demo's preset names real rewards
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "ponder", "train", "--preset", "calibration", "--model", tiny, "--out",
                        str(out), "--steps", "1", "--prompts-per-step", "1", "--group-size", "2",
                        "--max-new-tokens", "4", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1500:]
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["reward"] == CALIBRATION.reward and cfg["lr"] == CALIBRATION.lr  # from the preset
    assert cfg["steps"] == 1 and cfg["group_size"] == 2  # flags override it
    assert (out / "model" / "model.safetensors").exists() and (out / "summary.json").exists()


def test_curriculum_sees_the_groups_dynamic_sampling_drops(warm_model, tmp_path):
    """Level-1 problems the warm model always solves: every group has zero variance, so dynamic
    sampling drops them all. The curriculum must still see their pass rate (1.0) and move on, and
    steps that trained on nothing must not report a reward or accuracy of 0."""
    import json
    import subprocess
    import sys

    from ponder.policy import load_policy
    from ponder.runs import write_problems
    from ponder.tasks import get_task
    from ponder.types import Sampling

    temperature = 1e-3  # near-greedy, so a problem solved 4 times out of 4 here is solved in training too
    task, policy = get_task("arith"), load_policy(str(warm_model))
    candidates = [task.generate(0, i, 1) for i in range(40)]
    outs = policy.generate([policy.render(p) for p in candidates], 4,
                           Sampling.to_answer(temperature=temperature, max_new_tokens=24))
    solved = [p for p, group in zip(candidates, outs) if all(task.verify(c.text, p) == 1.0 for c in group)]
    assert len(solved) >= 4
    write_problems(tmp_path / "pool.jsonl", solved[:4] + [task.generate(0, i, 2) for i in range(8)])
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "ponder", "train", "--model", str(warm_model), "--out", str(out),
                        "--problems", str(tmp_path / "pool.jsonl"), "--levels", "1,2", "--curriculum",
                        "--dynamic-sampling", "--steps", "2", "--prompts-per-step", "2", "--group-size", "4",
                        "--max-new-tokens", "24", "--temperature", str(temperature), "--lr", "0", "--save-every", "0",
                        "--threads", "1", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(x["dropped_frac"], x["sampled_accuracy"]) for x in rows] == [(1.0, 1.0), (1.0, 1.0)]
    # patience 2: after the second update level 2 opens, and solved level 1 retires
    assert rows[0]["curriculum_levels"] == [1] and rows[1]["curriculum_levels"] == [2]
    assert not any("reward_mean" in x or "accuracy" in x for x in rows)  # nothing trained: no 0.000 reported
    assert "no step trained on data" in r.stderr and "reward 0.000" not in r.stderr
    assert json.loads((out / "summary.json").read_text())["final"] is None
    assert not (out / "rollouts").exists() and (out / "report.html").exists()
