"""Mode-balanced rollouts (AdaptThink importance sampling), on the real tiny model."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import train
from ponder.errors import PonderError
from ponder.rl import TrainConfig
from ponder.rl.data import PromptSource
from ponder.rl.modes import FORCED_LOGPROB, think_probability
from ponder.rl.rollout import Batch, rollout
from ponder.rl.update import build_tensors, step, token_logprobs
from ponder.types import Completion, Problem


@pytest.fixture(scope="module")
def live(warm_model, load_live):
    return load_live(warm_model)


def test_balanced_rollout_starts_half_of_each_group_in_each_mode(live):
    _, tok, policy = live
    torch.manual_seed(0)
    cfg = TrainConfig(model="x", group_size=4, max_new_tokens=24, modes="balanced")
    problems = PromptSource.from_task("arith", levels=(1, 2), seed=3).take(3)
    comps = rollout(policy, problems, cfg)
    assert len(comps) == 12
    think_id, answer_id = (tok.convert_tokens_to_ids(t) for t in ("<think>", "<answer>"))
    for g in range(3):
        group = comps[4 * g: 4 * g + 4]
        assert [c.token_ids[0] for c in group] == [think_id, think_id, answer_id, answer_id]
        assert [c.text[:7] for c in group] == ["<think>"] * 2 + ["<answer"] * 2
        for c in group:
            assert c.num_tokens == len(c.token_ids) and tok.decode(c.token_ids, skip_special_tokens=True) == c.text
            assert (c.think_tokens > 0) == c.text.startswith("<think>")


def test_balanced_step_weights_a_negative_forced_advantage_by_pi_over_one_half(live):
    model, tok, policy = live
    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    texts = ["<think>2+3=5</think><answer>5</answer>", "<answer>5</answer>"]
    comps = [Completion(text=t, token_ids=tok.encode(t, add_special_tokens=False) + [tok.eos_token_id],
                        num_tokens=len(tok.encode(t, add_special_tokens=False)) + 1) for t in texts]
    batch = Batch(problems=[p, p], completions=comps, rewards=[1.0, 1.25], correct=[1.0, 1.0], parts={}, group_size=2)
    adv = torch.tensor([[-0.7, 0.1], [0.7, -0.2]])  # (first token, later tokens) per row
    cfg = TrainConfig(model="x", lr=0.0, modes="balanced", loss="dapo")  # lr 0: the loss, not the update
    ids, attn, mask = build_tensors(policy, tok, batch, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)
    stats = step(model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), (ids, attn, mask), adv, cfg)
    with torch.no_grad():
        logp = token_logprobs(model, ids, attn, 1.0)[0]
    first = mask.argmax(1)
    pi_first = torch.exp(logp[torch.arange(2), first])  # pi(<think>), pi(<answer>) after the prompt
    # on-policy step: ratio 1 everywhere, so the DAPO loss is -(sum of per-token advantages) / tokens
    lengths = mask.sum(1)
    first_adv = torch.where(adv[:, 0] < 0, adv[:, 0] * pi_first / 0.5, adv[:, 0])  # only the negative one weighted
    want = -float(((lengths - 1) * adv[:, 1] + first_adv).sum() / lengths.sum())
    assert stats["ratio_mean"] == pytest.approx(1.0, abs=1e-6) and stats["clip_frac"] == 0.0
    assert stats["loss"] == pytest.approx(want, rel=1e-5)
    # and think_probability reads the same pi(<think>) off the prompt
    assert think_probability(policy, [p], 1.0)[0] == pytest.approx(float(pi_first[0]), rel=1e-5)
    assert FORCED_LOGPROB == math.log(0.5)


@pytest.mark.parametrize("kw", [dict(group_size=3), dict(prompt_suffix="<think>")])
def test_balanced_modes_refuse_odd_groups_and_suffixes(kw):
    with pytest.raises(PonderError, match="modes balanced"):
        TrainConfig(model="x", modes="balanced", **kw)


def test_balanced_training_logs_the_policys_own_think_probability(warm_model, tmp_path):
    cfg = TrainConfig(model=str(warm_model), levels=(1, 2), steps=2, prompts_per_step=2, group_size=4,
                      max_new_tokens=24, reward="correct:1,nothink:0.25", modes="balanced", lr=1e-4, threads=1)
    rows = train(cfg, tmp_path / "run").metrics()
    assert len(rows) == 2
    for r in rows:
        assert r["think_rate"] == 0.5  # forced: half of every group
        assert 0.0 < r["p_think"] < 1.0 and any(k.startswith("p_think/d") for k in r)


def test_mode_advantages_by_hand():
    from ponder.rl.losses import mode_advantages

    # an easy prompt: both halves all correct, direct answers earn the 0.25 bonus
    # group mean 1.125, unbiased std sqrt(4 * 0.125^2 * 2 / 7) = 0.13363
    adv = mode_advantages(torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.25, 1.25, 1.25, 1.25]]))
    std = math.sqrt(8 * 0.125 ** 2 / 7) + 1e-6
    assert adv[:, 0].tolist() == pytest.approx([-0.125 / std] * 4 + [0.125 / std] * 4, rel=1e-5)
    assert adv[:, 1].tolist() == [0.0] * 8  # correct traces are not pushed down by the bonus
    # a hard prompt: think half 3 of 4 right, direct half 1 of 4 right (1.25)
    r = torch.tensor([[1.0, 1.0, 1.0, 0.0, 1.25, 0.0, 0.0, 0.0]])
    adv = mode_advantages(r, "none")
    # first token: the half's mean (0.75 thinking, 0.3125 answering) minus the group's (0.53125),
    # the same for every sample of the half: the lucky direct answer does not pull its mode up
    assert adv[:, 0].tolist() == pytest.approx([0.21875] * 4 + [-0.21875] * 4)
    assert adv[:4, 0].sum() == pytest.approx(float((r - r.mean())[0, :4].sum()))  # the half's total is unchanged
    assert adv[:, 1].tolist() == pytest.approx([0.25, 0.25, 0.25, -0.75, 0.9375, -0.3125, -0.3125, -0.3125])
    with pytest.raises(ValueError, match="even G"):
        mode_advantages(torch.zeros(1, 3))


def test_first_token_split_puts_weighted_column_0_on_the_first_completion_token():
    from ponder.rl.modes import first_token_split

    mask = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 0]], dtype=torch.float32)
    old = torch.log(torch.tensor([[0.9, 0.25, 0.5, 0.5], [0.5, 0.5, 0.75, 0.5]]))  # pi_old of the forced tokens: 0.25, 0.75
    out = first_token_split(torch.tensor([[-2.0, -1.0], [3.0, 0.5]]), mask, old)
    # negative: weighted by pi_old / 0.5 = 0.5; positive: unweighted
    assert out.flatten().tolist() == pytest.approx([-1.0, -2.0 * 0.5, -1.0, -1.0, 0.5, 0.5, 3.0, 0.5])


def test_mode_weight_scales_only_the_first_token_column():
    from ponder.rl.losses import mode_advantages
    from ponder.rl.rollout import advantages

    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    rewards = [1.0, 0.0, 1.25, 0.0]
    batch = Batch(problems=[p] * 4, completions=[Completion(text="")] * 4, rewards=rewards, correct=[1.0, 0.0, 1.0, 0.0],
                  parts={}, group_size=4)
    base = mode_advantages(torch.tensor([rewards]))
    adv = advantages(batch, TrainConfig(model="x", group_size=4, modes="balanced", mode_weight=3.0))
    assert adv[:, 0].tolist() == pytest.approx((3 * base[:, 0]).tolist()) and torch.equal(adv[:, 1], base[:, 1])
    with pytest.raises(PonderError, match="mode_weight"):
        TrainConfig(model="x", modes="balanced", mode_weight=0.0)


def test_std_floor_caps_the_forced_tokens_magnified_bonus_and_leaves_mixed_groups_alone():
    from ponder.rl.rollout import advantages

    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    # group 1, all right: think 1, 1 | answer 1.05, 1.05 (the nothink bonus is the only spread);
    # group 2: think 1, 1 | answer 1.05, 0 (a wrong direct answer)
    rewards = [1.0, 1.0, 1.05, 1.05, 1.0, 1.0, 1.05, 0.0]
    batch = Batch(problems=[p] * 8, completions=[Completion(text="")] * 8, rewards=rewards,
                  correct=[1.0] * 7 + [0.0], parts={}, group_size=4)
    plain = advantages(batch, TrainConfig(model="x", group_size=4, modes="balanced"))
    floored = advantages(batch, TrainConfig(model="x", group_size=4, modes="balanced", mode_std_floor=0.1))
    # group 1: half means 1.0 / 1.05, group mean 1.025, unbiased std sqrt(4 x 0.025^2 / 3) = 0.028868:
    # the 0.05 bonus becomes -+0.866 as it is; with the floor, -+0.025 / 0.1 = -+0.25
    assert plain[:4, 0].tolist() == pytest.approx([-0.8660, -0.8660, 0.8660, 0.8660], abs=1e-4)
    assert floored[:4, 0].tolist() == pytest.approx([-0.25, -0.25, 0.25, 0.25], abs=1e-5)
    # group 2: mean 0.7625, unbiased std sqrt(0.77688 / 3) = 0.50888 > 0.1: the same either way,
    # +-(1.0 - 0.7625) / 0.50888 = +-0.4667
    assert floored[4:, 0].tolist() == pytest.approx([0.4667, 0.4667, -0.4667, -0.4667], abs=1e-4)
    assert torch.equal(floored[4:, 0], plain[4:, 0])
    assert torch.equal(floored[:, 1], plain[:, 1])  # later tokens untouched
    with pytest.raises(PonderError, match="mode_std_floor"):
        TrainConfig(model="x", modes="balanced", mode_std_floor=-0.1)


def test_level_floor_caps_the_bonus_only_at_a_level_whose_modes_often_differ():
    from ponder.rl.losses import level_floors, mode_gaps
    from ponder.rl.rollout import advantages

    easy = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    mid = Problem(id="b", task="arith", prompt="7-2-5=?", answer="0", difficulty=2)
    all_right = [1.0, 1.0, 1.05, 1.05]  # think | answer: the 0.05 bonus is the only spread
    # level 1: two all-right groups; level 2: one all-right group and one whose direct answers are wrong
    rewards = all_right + all_right + all_right + [1.0, 1.0, 0.0, 0.0]
    batch = Batch(problems=[easy] * 8 + [mid] * 8, completions=[Completion(text="")] * 16, rewards=rewards,
                  correct=[1.0] * 14 + [0.0] * 2, parts={}, group_size=4)
    cfg = TrainConfig(model="x", group_size=4, modes="balanced", mode_level_floor=0.5)
    plain = advantages(batch, TrainConfig(model="x", group_size=4, modes="balanced"))
    sums: dict = {}
    floored = advantages(batch, cfg, sums)
    # gaps 0.025 at level 1 (RMS 0.025, floor 0.0125 < the group's std 0.0289: unchanged); at level 2
    # 0.025 and 0.5 (RMS sqrt((0.025^2 + 0.5^2) / 2) = 0.35399, floor 0.17700): the all-right group's
    # bonus is -+0.025 / 0.177 = -+0.1412 instead of -+0.866, the mixed group is unchanged
    assert torch.equal(floored[:8], plain[:8])
    assert floored[8:12, 0].tolist() == pytest.approx([-0.1412, -0.1412, 0.1412, 0.1412], abs=1e-4)
    assert plain[8:12, 0].tolist() == pytest.approx([-0.8660, -0.8660, 0.8660, 0.8660], abs=1e-4)
    assert torch.equal(floored[12:], plain[12:]) and torch.equal(floored[:, 1], plain[:, 1])
    assert sums == {"1": [pytest.approx(2 * 0.025 ** 2, abs=1e-6), 2], "2": [pytest.approx(0.025 ** 2 + 0.25, abs=1e-6), 2]}
    # the statistics are the run's, not the batch's: a later batch of level 2 holding only an
    # all-right group is still capped by what the level showed before
    later = advantages(Batch(problems=[mid] * 4, completions=[Completion(text="")] * 4, rewards=all_right,
                             correct=[1.0] * 4, parts={}, group_size=4), cfg, sums)
    assert later[:, 0].abs().max().item() < 0.2 and sums["2"][1] == 3
    assert level_floors(mode_gaps(torch.tensor([all_right])), [3], {}, 0.0).tolist() == [0.0]
    with pytest.raises(PonderError, match="mode_level_floor"):
        TrainConfig(model="x", modes="balanced", mode_level_floor=-0.1)


def test_batch_mode_baseline_centres_each_modes_first_token_over_the_batch():
    from ponder.rl.rollout import advantages

    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    # group 1 (easy): think 1, 1 | answer 1.25, 1.25; group 2 (hard): think 1, 0 | answer 0, 0
    rewards = [1.0, 1.0, 1.25, 1.25, 1.0, 0.0, 0.0, 0.0]
    batch = Batch(problems=[p] * 8, completions=[Completion(text="")] * 8, rewards=rewards, correct=rewards,
                  parts={}, group_size=4)
    group = advantages(batch, TrainConfig(model="x", group_size=4, modes="balanced"))
    # half means minus group means, over the group std: easy -0.866 x2 | +0.866 x2 (std 0.1443);
    # hard (0.5 - 0.25) / 0.5 = +0.5 x2 | -0.5 x2
    assert group[:, 0].tolist() == pytest.approx([-0.8660, -0.8660, 0.8660, 0.8660, 0.5, 0.5, -0.5, -0.5], abs=1e-4)
    batch_adv = advantages(batch, TrainConfig(model="x", group_size=4, modes="balanced", mode_baseline="batch"))
    think_mean = (-0.8660 * 2 + 0.5 * 2) / 4  # -0.1830; the answer rows' mean is +0.1830
    want = [-0.8660 - think_mean] * 2 + [0.8660 + think_mean] * 2 + [0.5 - think_mean] * 2 + [-0.5 + think_mean] * 2
    assert batch_adv[:, 0].tolist() == pytest.approx(want, abs=1e-4)
    assert torch.equal(batch_adv[:, 1], group[:, 1])  # later tokens untouched


def test_balanced_kl_penalty_skips_the_forced_first_token(live):
    """The forced first token was not sampled from the policy, so k3 (an estimator over the
    policy's own samples) is left out there: the KL is that of the later tokens only."""
    import copy

    from ponder.rl.losses import kl_k3

    model, tok, policy = live
    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    texts = ["<think>2+3=5</think><answer>5</answer>", "<answer>5</answer>"]
    comps = [Completion(text=t, token_ids=tok.encode(t, add_special_tokens=False) + [tok.eos_token_id],
                        num_tokens=len(tok.encode(t, add_special_tokens=False)) + 1) for t in texts]
    batch = Batch(problems=[p, p], completions=comps, rewards=[1.0, 1.25], correct=[1.0, 1.0], parts={}, group_size=2)
    ref = copy.deepcopy(model)
    with torch.no_grad():
        torch.manual_seed(0)
        for w in ref.parameters():
            w.add_(0.05 * torch.randn_like(w))
    cfg = TrainConfig(model="x", lr=0.0, modes="balanced", loss="dapo", beta=0.1)
    ids, attn, mask = build_tensors(policy, tok, batch, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)
    stats = step(model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), (ids, attn, mask),
                 torch.zeros(2, 2), cfg, ref_model=ref)
    with torch.no_grad():
        kl = kl_k3(token_logprobs(model, ids, attn, 1.0)[0], token_logprobs(ref, ids, attn, 1.0)[0]) * mask
    first = kl[torch.arange(2), mask.argmax(1)]
    assert float(first.abs().min()) > 1e-4  # the models differ at the forced token too
    want = float((kl.sum() - first.sum()) / mask.sum())
    assert stats["kl"] == pytest.approx(want, rel=1e-4)


def test_level_floor_statistics_survive_a_resume(warm_model, tmp_path):
    """The per-level statistics live in the checkpoint: a run resumed after step 2 scores step 3
    as the uninterrupted run does (with them reset, its floors would come from step 3 alone; a
    factor of 5 makes the floor, not the group's std, the divisor of nearly every group)."""
    import dataclasses
    import json

    import pandas as pd

    from ponder.rl import run
    from ponder.runs import RunDir

    cfg = TrainConfig(model=str(warm_model), tasks=("arith",), levels=(1, 2, 3), steps=3, prompts_per_step=3,
                      group_size=4, max_new_tokens=24, modes="balanced", reward="correct:1,nothink:0.05",
                      mode_level_floor=5.0, save_every=1, keep_checkpoints=5, threads=1, seed=1)
    train(cfg, tmp_path / "a")
    train(dataclasses.replace(cfg, steps=2), tmp_path / "b")
    state = json.loads((tmp_path / "b" / "checkpoints" / "step-000002" / "state.json").read_text())
    assert sum(n for _, n in state["mode_levels"].values()) == 2 * 3  # two steps of three groups
    resumed = dataclasses.replace(cfg, out=str(tmp_path / "b"), resume=True)
    run(resumed, RunDir.open("train", resumed.out, resumed, resume=True), progress=False)
    a, b = (pd.read_parquet(tmp_path / x / "rollouts" / "step-000003.parquet") for x in "ab")
    assert a["advantage_mode"].tolist() == b["advantage_mode"].tolist() and a["advantage_mode"].abs().sum() > 0
