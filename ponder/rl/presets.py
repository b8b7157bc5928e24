"""Named training presets: tested settings a user (or `ponder demo`) starts from.

    from ponder.rl.presets import CALIBRATION
    cfg = dataclasses.replace(CALIBRATION, model="runs/sft-x/model")
    ponder train --preset calibration --model runs/sft-x/model
    ponder train --preset strategy --model runs/sft-y/model

CALIBRATION is the demo's RL stage on `arith`: correctness plus an AdaptThink-style bonus for a
correct answer given without `<think>` (`correct:1,nothink:0.25`), in mode-balanced groups
(`--modes balanced`), 200 steps at lr 1e-4. Why this reward and not Kimi's group length penalty:
under group-normalised advantages Kimi's penalty still has variance in an all-wrong group, so it
teaches the model not to think where thinking is the only way to succeed. Why mode balancing:
on-policy, the tiny model's choice of mode moves as one shared bias; balanced, it separates by
difficulty. docs/train.md ("Presets", "Calibration runs") has the measurements.
"""

from __future__ import annotations

from ponder.rl.config import TrainConfig

# The optimisation every preset of the tiny default shares (found on the calibration demo)
TINY_RL = dict(
    temperature=1.0,  # sample the policy itself, as the demos' evaluations do
    loss="dapo",  # token-level mean, so long traces are not down-weighted per token (advantage scale: its own, group)
    eps_low=0.2,
    eps_high=0.28,  # DAPO clip-higher
    lr=1e-4,  # 3e-4 degrades the calibration demo's traces
    warmup_steps=2,
)

CALIBRATION = TrainConfig(
    tasks=("arith",),
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,nothink:0.25",
    steps=200,  # ~1 s a step for the 870k tiny model on one thread; the mode choice separates by level after ~60-80
    prompts_per_step=10,
    group_size=8,  # 4 samples forced to think, 4 to answer, per prompt
    modes="balanced",  # compare both modes on every prompt, however rarely the policy picks one
    mode_baseline="group",  # with the half-mean forced-token advantage, better than "batch" (docs/train.md)
    mode_weight=10.0,  # the mode choice is one token against a trace of ~20
    max_new_tokens=64,  # the longest level-5 oracle completion is 46 tokens
    save_every=10,
    **TINY_RL,
)

# ABSTRACTION is the abstraction demo's RL stage on `sumprod`: multi-turn rollouts in which the
# policy may spawn sub-calls of itself (`--modes subcalls`), trained end to end on correctness (the
# root's outcome credits every token of its tree). docs/abstraction.md has what was measured.
ABSTRACTION = TrainConfig(
    tasks=("sumprod",),
    levels=(1, 2, 3, 4, 5),
    reward="correct:1",
    modes="subcalls",
    max_turns=2,  # spawn, then answer from the results (or answer serially in one turn)
    steps=40,
    prompts_per_step=8,
    group_size=8,
    max_new_tokens=128,  # per turn and per rollout (results included): the level-5 serial trace is ~100
    save_every=10,
    **TINY_RL,
)

# STRATEGY is the strategy demo's RL stage on `route` (ponder demo --axis strategy): correctness plus
# the simulator's verdict on the plan (plan_validity: 1 legal and reaching the goal, 0.5 legal only,
# 0 otherwise or without a plan), sampled on-policy. docs/train.md ("Strategy runs") has what was tried.
STRATEGY = TrainConfig(
    tasks=("route",),
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,plan_validity:0.5",
    steps=120,
    prompts_per_step=8,
    group_size=8,
    max_new_tokens=112,  # the longest level-5 oracle completion is 56 tokens (2x: room for a careless plan)
    save_every=20,
    **TINY_RL,
)
STRATEGY_ABLATION_REWARD = "correct:1"  # the demo's ablation arm: the same run without the plan reward

# TOOLS is the tools demo's RL stage on `toolarith` (ponder demo --axis tools): tool rollouts with the
# calculator (`--tools calc`), correctness minus a price per call, so a call pays only where the
# model cannot answer from memory. docs/tools.md has what was tried.
TOOLS = TrainConfig(
    tasks=("toolarith",),
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,tool_calls:-0.2",  # a call must raise the chance of a right answer by more than 0.2
    tools="calc",
    modes="tool_balanced",  # half of each group forced to call, half to answer: both compared on every prompt
    mode_weight=10.0,  # the choice is one token against a trace of ~25, as in CALIBRATION
    max_turns=2,  # call, then answer from the result (or answer directly in one turn)
    steps=120,
    prompts_per_step=8,
    group_size=8,
    max_new_tokens=96,  # per turn and per rollout: a level-5 call, its result and the answer are ~50 tokens
    save_every=20,
    **TINY_RL,
)

PRESETS: dict[str, TrainConfig] = {"calibration": CALIBRATION, "abstraction": ABSTRACTION, "strategy": STRATEGY,
                                   "tools": TOOLS}
