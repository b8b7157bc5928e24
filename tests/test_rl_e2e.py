"""End to end: a couple dozen RL steps on the warm-started tiny model raise the reward.

Essential (it is the check that learning happens at all), so it stays in the default suite.
The easy task: arith level 1 under correctness plus DAPO's overlong penalty with a tight limit
(16 new tokens, free up to 4: the answer alone), so the needless `<think>` on `2+3` costs about
-0.6 and the warm model, which thinks at random, can raise its reward by dropping it.
"""

import json

import pytest

from ponder.rl import TrainConfig, check, run
from ponder.runs import RunDir


def _mean(rows, key):
    return sum(r[key] for r in rows) / len(rows)


def test_rl_raises_reward_and_drops_needless_thinking(warm_model, tmp_path):
    steps = 16
    cfg = TrainConfig(model=str(warm_model), tasks=("arith",), levels=(1,), reward="correct:1,overlong:1",
                      max_new_tokens=16, overlong_cache=12, steps=steps, prompts_per_step=4, group_size=8,
                      loss="dapo", eps_high=0.28, lr=5e-4, save_every=0, seed=0, out=str(tmp_path / "run"))
    check(cfg)
    run_dir = RunDir.open("train", cfg.out, cfg)
    result = run(cfg, run_dir, progress=False)
    rows = run_dir.metrics()
    assert [r["step"] for r in rows] == list(range(1, steps + 1))
    first, last = rows[:4], rows[-4:]
    assert _mean(last, "reward_mean") > _mean(first, "reward_mean") + 0.05
    assert _mean(last, "think_rate") < _mean(first, "think_rate") - 0.1
    assert all(r["skipped"] == 0 for r in rows)
    # the ledger: RL FLOPs on top of the warm start's SFT FLOPs, shared as a post-training share
    assert result.final == rows[-1] and result.model == run_dir.path / "model"
    meta = json.loads((result.model / "ponder.json").read_text())
    assert meta["flops"]["rl"] == rows[-1]["rl_flops"] > 0 and meta["flops"]["sft"] > 0
    assert 0 < rows[-1]["post_training_share"] < 1
    # every trained completion is in the run's rollouts, and the run has its report
    import pandas as pd

    rollouts = pd.read_parquet(run_dir.path / "rollouts")
    assert len(rollouts) == steps * 4 * 8 and set(rollouts["step"]) == set(range(1, steps + 1))
    first = rollouts[rollouts["step"] == 1]
    assert first["reward"].tolist() == pytest.approx(first["reward_correct"] + first["reward_overlong"])
    assert "<h1>" in (run_dir.path / "report.html").read_text()
