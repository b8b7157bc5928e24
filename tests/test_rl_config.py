"""TrainConfig's cross-field rules: a contradictory config fails when it is built, with one line."""

import pytest
import torch

from ponder.errors import PonderError
from ponder.rl import TrainConfig
from ponder.rl.rollout import Batch, advantages
from ponder.types import Completion, Problem


@pytest.mark.parametrize("reward", ["l1_exact:1", "correct:1,l1_max:0.5"])
def test_l1_rewards_need_a_budget(reward):
    with pytest.raises(PonderError, match="--budget"):
        TrainConfig(model="x", reward=reward)
    TrainConfig(model="x", reward=reward, budget=100)  # with one stated, fine


def _batch(rewards):
    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    return Batch(problems=[p] * len(rewards), completions=[Completion(text="")] * len(rewards), rewards=rewards,
                 correct=rewards, parts={}, group_size=len(rewards))


def test_dr_grpo_drops_the_std_scaling_by_default():
    cfg = TrainConfig(model="x", loss="dr_grpo")
    assert cfg.scale == "none"
    # rewards [1, 0, 0, 0]: centred, not divided by the group std (0.5)
    assert advantages(_batch([1.0, 0.0, 0.0, 0.0]), cfg).tolist() == [0.75, -0.25, -0.25, -0.25]
    assert TrainConfig(model="x", loss="grpo").scale == TrainConfig(model="x", loss="dapo").scale == "group"
    assert TrainConfig(model="x", loss="grpo", advantage_scale="none").scale == "none"  # explicit, not contradictory


@pytest.mark.parametrize("scale", ["group", "batch"])
def test_dr_grpo_with_std_scaling_is_refused(scale):
    with pytest.raises(PonderError, match="dr_grpo.*advantage-scale"):
        TrainConfig(model="x", loss="dr_grpo", advantage_scale=scale)


@pytest.mark.parametrize("kw", [dict(mode_weight=10.0), dict(mode_baseline="batch"), dict(mode_std_floor=0.1)])
def test_mode_options_are_refused_without_balanced_modes(kw):
    with pytest.raises(PonderError, match="--modes balanced"):
        TrainConfig(model="x", **kw)
    cfg = TrainConfig(model="x", modes="balanced", **kw)
    assert cfg.mode_strategy.weight == kw.get("mode_weight", 1.0)


def test_mode_strategies_come_from_the_table():
    from ponder.rl.modes import MODE_STRATEGIES, Balanced, OnPolicy, PlanBalanced

    assert isinstance(TrainConfig(model="x").mode_strategy, OnPolicy)
    assert isinstance(TrainConfig(model="x", modes="balanced").mode_strategy, Balanced)
    plan = TrainConfig(model="x", modes="plan_balanced", mode_weight=10.0).mode_strategy
    assert isinstance(plan, PlanBalanced) and plan.tags == ("<plan>", "<answer>") and plan.weight == 10.0
    assert set(MODE_STRATEGIES) == {"on_policy", "balanced", "plan_balanced", "subcalls", "tools", "tool_balanced",
                                    "subcall_balanced"}
    rewards = torch.tensor([[1.0, 0.0, 1.25, 0.0]])
    assert OnPolicy().advantages(rewards, "group").shape == (4,)
    assert Balanced().advantages(rewards, "group").shape == (4, 2)


def test_resume_needs_out():
    with pytest.raises(PonderError, match="--out"):
        TrainConfig(model="x", resume=True)


def test_cli_alias_flags_and_layering(tmp_path):
    from ponder.cli import build_parser
    from ponder.commands.train import resolve

    (tmp_path / "c.yaml").write_text("steps: 7\nlr: 0.001\n")
    args = build_parser().parse_args(["train", "--model", "m", "--task", "arith,countdown", "--difficulties", "1-2",
                                      "--balance-modes", "--preset", "calibration", "--config", str(tmp_path / "c.yaml"),
                                      "--lr", "0.002"])
    cfg = resolve(args)
    assert cfg.tasks == ("arith", "countdown") and cfg.levels == (1, 2) and cfg.modes == "balanced"
    from ponder.rl.presets import CALIBRATION

    assert cfg.reward == CALIBRATION.reward and cfg.beta == CALIBRATION.beta  # from the preset
    assert cfg.steps == 7 and cfg.lr == 0.002  # the file overrides the preset, flags override the file


def test_training_on_a_gameable_task_warns_before_it_starts(tiny_model, capsys, monkeypatch):
    """A task whose verifier can be gamed gets one warning line from check(), before any step."""
    from ponder.rl import check
    from ponder.tasks import get_task

    monkeypatch.setattr(type(get_task("add")), "gameable", "any answer scores 1", raising=False)
    check(TrainConfig(model=str(tiny_model), tasks=("add",), levels=(1,)))
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "add's reward can be gamed: any answer scores 1" in err
    monkeypatch.undo()
    check(TrainConfig(model=str(tiny_model), tasks=("add",), levels=(1,)))
    assert "warning" not in capsys.readouterr().err
