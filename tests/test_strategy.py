"""The strategy axis: the careless warm-start data, and (below) the strategy demo end to end."""

from __future__ import annotations

import pytest

from ponder.format import parse


def _examples(cfg, task_names):
    from ponder.policy.tokenizer import build_tokenizer
    from ponder.sft import pool_examples
    from ponder.tasks import get_task

    tok = build_tokenizer()
    tasks = [get_task(n) for n in task_names]
    return [(tok.decode(ids[:plen]), tok.decode(ids[plen:]).removesuffix("</s>"))
            for b in pool_examples(cfg, 0, tok, tasks) for ids, plen in b]


def test_careless_plans_mix_in_at_their_rate():
    from ponder.sft import SFTConfig
    from ponder.tasks import get_task

    task = get_task("route")
    cfg = SFTConfig(model="m", tasks=("route",), batch_size=100, think_prob=0.5, careless_prob=0.5)
    planned = careless = 0
    for prompt, completion in _examples(cfg, ["route"]):
        problem = _problem(_cells(prompt))
        if parse(completion).plan is None:
            assert task.verify(completion, problem) == 1.0  # direct answers are always the oracle's
            continue
        planned += 1
        careless += task.verify(completion, problem) == 0.0  # a careless plan's answer misses
    assert 0.42 < planned / 800 < 0.58 and 0.4 < careless / planned < 0.6, (planned, careless)


def _cells(prompt):
    """The cells a `route` prompt names, offsets (`+3`: three columns right of the previous) resolved."""
    pts = []
    for w in prompt.strip().removeprefix("walk ").split(">"):
        pts.append((pts[-1][0], pts[-1][1] + int(w)) if w[0] in "+-" else tuple(map(int, w.split(","))))
    return pts


def _problem(pts):
    from ponder.tasks.route import leg
    from ponder.types import Problem

    return Problem(id="x", task="route", prompt="", answer="", difficulty=1,
                   meta={"cells": [list(p) for p in pts], "plan": [leg(a, b) for a, b in zip(pts, pts[1:])]})


def test_careless_prob_leaves_other_tasks_data_unchanged():
    from ponder.sft import SFTConfig

    # arith writes no careless plans: the knob must not even shift its random draws
    base = SFTConfig(model="m", batch_size=16, think_prob=0.5)
    with_knob = SFTConfig(model="m", batch_size=16, think_prob=0.5, careless_prob=0.7)
    assert _examples(base, ["arith"]) == _examples(with_knob, ["arith"])
    # and route's data is the oracle's alone at careless_prob 0
    route = SFTConfig(model="m", tasks=("route",), batch_size=16, think_prob=1.0)
    from ponder.tasks.route import Route

    assert all(Route().verify(c, _problem(_cells(p))) == 1.0 for p, c in _examples(route, ["route"]))


def test_strategy_demo_runs_end_to_end(tmp_path):
    """The whole strategy demo at toy sizes: every stage runs, summary.json has the specified exact
    shape, report.html is written, and both RL arms log the plan rate while only the strategy arm
    is rewarded for its plans."""
    import json

    from ponder.demo import DemoConfig, check, run
    from ponder.runs import RunDir, read_jsonl

    cfg = DemoConfig(axis="strategy", out=str(tmp_path / "demo"), sft_steps=150, rl_steps=12, eval_per_level=2,
                     eval_n=2, threads=1)
    check(cfg)
    summary = run(cfg, RunDir.open("demo", cfg.out, cfg), progress=False)
    saved = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert {"baseline", "trained", "ablation", "claims"} <= set(saved) and saved["claims"] == summary["claims"]
    for arm in ("baseline", "trained", "ablation"):
        assert set(saved[arm]["by_difficulty"]) == {"1", "2", "3", "4", "5"}
        for level in saved[arm]["by_difficulty"].values():
            assert {"accuracy", "plan_rate", "plan_validity", "mean_tokens"} <= set(level)
    assert set(saved["claims"]) == {"plan_rate_hard_baseline_at_most_0.3", "plan_rate_hard_at_least_0.8",
                                    "plan_validity_hard_gain_at_least_0.3", "accuracy_hard_gain_at_least_0.10",
                                    "accuracy_hard_beats_ablation_by_0.05"}
    assert all(set(c) == {"value", "threshold", "holds"} for c in saved["claims"].values())
    assert "Claims" in (tmp_path / "demo" / "report.html").read_text()
    stages = {"sft", "sft_mix", "baseline_eval", "rl_both_arms", "trained_eval", "ablation_eval", "total"}
    assert set(saved["seconds"]) == set(saved["cpu_seconds"]) == stages
    assert saved["cpu_seconds"]["total"] >= saved["cpu_seconds"]["sft"] > 0
    # Both arms log the policy's plan rate per level; only the plan-reward arm is paid by the simulator's
    # verdict. Not asserted: that planning rises (12 steps from a 150-step warm start are noise; the
    # full demo's numbers, and why planning barely pays on route, are in docs/train.md).
    trained = read_jsonl(tmp_path / "demo" / "train" / "metrics.jsonl")
    ablation = read_jsonl(tmp_path / "demo" / "train_ablation" / "metrics.jsonl")
    assert len(trained) == len(ablation) == 12
    assert all("plan_rate" in r and "plan_rate/d5" in r for r in trained + ablation)
    assert all({"plan_legs", "credit_abs"} <= set(r) for r in trained) and not any("plan_legs" in r for r in ablation)
    assert any(r["credit_abs"] > 0 for r in trained)  # the per-leg credit reached the update


def test_demo_axis_is_validated_before_anything_is_written(tmp_path):
    import pytest

    from ponder.demo import DemoConfig, check
    from ponder.errors import PonderError

    with pytest.raises(PonderError, match="--axis"):
        DemoConfig(axis="planning")
    for axis in ("strategy", "all"):
        check(DemoConfig(axis=axis, out=str(tmp_path / axis)))
    assert not any(tmp_path.iterdir())


def test_strategy_warm_start_is_plan_heavy_then_brings_the_plan_rate_down(tmp_path):
    """Stage 1 learns the plans (oracle plans on most examples); stage 2 starts from stage 1's
    model, plans on at most 0.3 of its examples with careless ones mixed in, and is what the
    baseline and both RL arms start from."""
    from ponder.demo import DemoConfig
    from ponder.demo.strategy import stage_configs

    c = stage_configs(DemoConfig(axis="strategy", out=str(tmp_path / "d"), sft_steps=600), tmp_path / "d")
    assert c.sft.think_prob >= 0.8 and c.sft.careless_prob == 0.0 and c.sft.steps == 600
    assert c.sft_mix.model == str(tmp_path / "d" / "sft" / "model") and c.sft_mix.out != c.sft.out
    assert c.sft_mix.think_prob <= 0.3 and c.sft_mix.careless_prob > 0 and 0 < c.sft_mix.steps < c.sft.steps
    # the stage RL on levels 4-5 was measured from: an eighth of stage 1's steps at half its lr
    assert c.sft_mix.steps == c.sft.steps // 8 and c.sft_mix.lr == c.sft.lr / 2
    assert stage_configs(DemoConfig(axis="strategy"), tmp_path / "e").sft_mix.steps == 300
    warm = str(tmp_path / "d" / "sft_mix" / "model")
    assert c.baseline.model == c.train.model == c.ablation_train.model == warm


def _burn(seconds: float) -> None:
    import time

    t = time.process_time()
    while time.process_time() - t < seconds:
        pass


def test_cpu_seconds_counts_a_joined_child_process():
    """The demo's CPU time per stage includes the ablation arm's second process once it is joined."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ponder.demo.strategy import cpu_seconds

    before = cpu_seconds()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_burn, 0.5).result()
    assert cpu_seconds() - before >= 0.5


def test_strategy_claims_by_hand():
    from ponder.demo.strategy import check_claims

    base = {"plan_rate": 0.2, "plan_validity": 0.1, "accuracy": 0.5}
    trained = {"plan_rate": 0.9, "plan_validity": 0.45, "accuracy": 0.65}
    ablation = {"plan_rate": 0.1, "plan_validity": None, "accuracy": 0.6}
    c = check_claims(base, trained, ablation)
    assert [c[k]["holds"] for k in c] == [True, True, True, True, True]
    assert c["accuracy_hard_beats_ablation_by_0.05"]["value"] == pytest.approx(0.05)
    # no plans at all in the baseline: validity cannot be measured, so its gain does not hold
    c = check_claims({**base, "plan_validity": None}, trained, ablation)
    assert c["plan_validity_hard_gain_at_least_0.3"] == {"value": None, "threshold": 0.3, "holds": False}
    c = check_claims({**base, "plan_rate": 0.31}, {**trained, "plan_rate": 0.79}, {**ablation, "accuracy": 0.61})
    assert not any(c[k]["holds"] for k in ("plan_rate_hard_baseline_at_most_0.3", "plan_rate_hard_at_least_0.8",
                                           "accuracy_hard_beats_ablation_by_0.05"))


def test_strategy_preset_and_its_ablation_differ_only_in_the_plan_reward():
    import dataclasses

    from ponder.rewards import parse_spec
    from ponder.rl.credit import split_reward
    from ponder.rl.presets import PRESETS, STRATEGY, STRATEGY_ABLATION_REWARD

    assert PRESETS["strategy"] is STRATEGY and STRATEGY.tasks == ("route",)
    sequence, per_token = split_reward(STRATEGY.reward)  # plan_legs is a token-level term, not a sequence reward
    assert dict(parse_spec(sequence)) == {"correct": 1.0} and per_token == [("plan_legs", 0.5)]
    assert dict(parse_spec(STRATEGY_ABLATION_REWARD)) == {"correct": 1.0}
    ablation = dataclasses.replace(STRATEGY, reward=STRATEGY_ABLATION_REWARD)
    assert [f.name for f in dataclasses.fields(STRATEGY)
            if getattr(STRATEGY, f.name) != getattr(ablation, f.name)] == ["reward"]


def test_strategy_demo_spends_both_rl_arms_on_the_hardest_level_alone(tmp_path):
    """Both RL arms train on the hardest level (where correctness is sparse and the plan reward's
    per-leg credit is what separates the arms), with the same data, steps and seed; only the
    reward differs. The claims pool the two hardest levels; the baseline and the evaluations still
    cover every level."""
    import dataclasses

    from ponder.demo import DemoConfig
    from ponder.demo.strategy import HARD, LEVELS, stage_configs
    from ponder.rl.credit import split_reward
    from ponder.rl.presets import STRATEGY, STRATEGY_ABLATION_REWARD

    c = stage_configs(DemoConfig(axis="strategy", out=str(tmp_path / "d")), tmp_path / "d")
    assert c.train.levels == c.ablation_train.levels == STRATEGY.levels == (LEVELS[-1],) and HARD == (4, 5)
    assert c.train.reward == STRATEGY.reward and c.ablation_train.reward == STRATEGY_ABLATION_REWARD
    assert split_reward(STRATEGY.reward) == (STRATEGY_ABLATION_REWARD, [("plan_legs", 0.5)])  # the same sequence reward
    assert [f.name for f in dataclasses.fields(c.train)
            if getattr(c.train, f.name) != getattr(c.ablation_train, f.name)] == ["reward", "out"]
    assert c.baseline.levels == c.trained.levels == c.ablation.levels == LEVELS


def test_all_axes_index_lists_every_claim_with_its_verdict():
    from ponder.demo.axes import index

    html = index({"calibration": {"claims": {"a_at_least_1": {"value": 2.0, "threshold": 1.0, "holds": True}}},
                  "strategy": {"claims": {"b_<x>": {"value": None, "threshold": 0.3, "holds": False}}}})
    assert 'href="calibration/report.html"' in html and 'href="strategy/report.html"' in html
    assert "holds" in html and "MISSED" in html and "b_&lt;x&gt;" in html


def test_plan_balanced_rollout_starts_half_of_each_group_with_a_plan(warm_model, load_live):
    import torch

    from ponder.rl import TrainConfig
    from ponder.rl.data import PromptSource
    from ponder.rl.modes import think_probability
    from ponder.rl.rollout import rollout

    _, tok, policy = load_live(warm_model)
    torch.manual_seed(0)
    cfg = TrainConfig(model="x", tasks=("route",), group_size=4, max_new_tokens=16, modes="plan_balanced")
    problems = PromptSource.from_task("route", levels=(1, 2), seed=3).take(2)
    comps = rollout(policy, problems, cfg)
    plan_id, answer_id = (tok.convert_tokens_to_ids(t) for t in ("<plan>", "<answer>"))
    for g in range(2):
        group = comps[4 * g: 4 * g + 4]
        assert [c.token_ids[0] for c in group] == [plan_id, plan_id, answer_id, answer_id]
        assert [c.text.startswith("<plan>") for c in group] == [True, True, False, False]
    # the logged probability is the policy's own pi(<plan> | prompt)
    p = think_probability(policy, problems[:1], 1.0, "<plan>")[0]
    assert 0.0 <= p <= 1.0 and p != think_probability(policy, problems[:1], 1.0)[0]
