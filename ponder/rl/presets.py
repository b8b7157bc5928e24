"""Named training presets: tested settings a user (or `ponder demo`) starts from.

    from ponder.rl.presets import CALIBRATION
    cfg = dataclasses.replace(CALIBRATION, model="runs/sft-x/model")
    ponder train --preset calibration --model runs/sft-x/model
    ponder train --preset strategy --model runs/sft-y/model

CALIBRATION is the demo's RL stage on `arith`: correctness plus an AdaptThink-style bonus for a
correct answer given without `<think>` (`correct:1,nothink:0.05`, AdaptThink's delta), in
mode-balanced groups (`--modes balanced`) of 16, 200 steps at lr 1e-4, with a k3 KL penalty to
the warm start (beta 0.1) and the forced token's divisor at least half its level's RMS mode gap
(`--mode-level-floor 0.5`). Why this reward and not Kimi's group length penalty: under
group-normalised advantages Kimi's penalty still has variance in an all-wrong group, so it
teaches the model not to think where thinking is the only way to succeed. Why mode balancing:
on-policy, the tiny model's choice of mode moves as one shared bias; balanced, it separates by
difficulty. Why groups of 16 and the KL: with 8 a level-2 group is all correct in both halves
often enough (0.75^4) that the group-normalised bonus pulls level 2 to answer directly at a cost
of ~25 points; without the KL, RL wears down the 6- and 8-term traces. Why the level floor: ~40% of level 2's
groups have every sample right, and there the group std turns the 0.05 bonus into a full push
toward answering directly (level 2 lost 6-7 points on seed 3); the level's RMS gap (~0.2 at level
2, ~0.03 at level 1) caps that push at level 2 and leaves level 1's. docs/train.md ("Presets",
"Calibration runs", "Robustness over seeds") has the measurements.
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
    reward="correct:1,nothink:0.05",  # AdaptThink's delta: skipping thought wins only where it costs < ~5% accuracy
    steps=200,  # ~1 s a step for the 870k tiny model on one thread; the mode choice separates by level after ~80-100
    prompts_per_step=5,
    group_size=16,  # 8 samples forced to think, 8 to answer, per prompt (same 80 samples a step as 10 x 8)
    modes="balanced",  # compare both modes on every prompt, however rarely the policy picks one
    mode_baseline="group",  # with the half-mean forced-token advantage, better than "batch" (docs/train.md)
    mode_weight=10.0,  # the mode choice is one token against a trace of ~20
    # an all-correct group's bonus is magnified to +-1 by its std; capped at half the level's RMS
    # mode gap, which leaves level 1 (gap ~0.03) alone and stops level 2 (~0.2) answering directly
    mode_level_floor=0.5,
    max_new_tokens=64,  # the longest level-5 oracle completion is 46 tokens
    save_every=10,
    beta=0.1,  # k3 KL to the warm start (not on the forced first token): keeps the long traces intact
    **TINY_RL,
)

# ABSTRACTION is the abstraction demo's RL stage on `chains`: multi-turn rollouts in which the
# policy may spawn sub-calls of itself, trained end to end (the root's reward credits every token
# of its tree) on correctness plus a bonus for a correct answer given without sub-calls
# (`nospawn`, the sub-call analogue of the calibration preset's `nothink`): splitting costs
# tokens, so it should pay only where the answer needs it, i.e. where the serial trace does not
# fit the 128-token context. In spawn-balanced groups (`--modes subcall_balanced`): on-policy
# (`subcalls`) the spawn choice moved as one bias shared by every level and kept splitting at
# level 1 (0.83); balanced, it separates by level (0.08 at level 1, 1.00 at level 5).
# docs/abstraction.md has what was measured (runs 21-24: this preset on seeds 0 and 1).
ABSTRACTION = TrainConfig(
    tasks=("chains",),
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,nospawn:0.25",
    modes="subcall_balanced",  # half of each group forced to spawn, half to think serially: both compared on every prompt
    mode_weight=10.0,  # the choice is one token against a tree of ~25-250, as in CALIBRATION
    max_turns=2,  # spawn, then answer from the results (or answer serially in one turn)
    steps=80,  # at 40 a warm start that seldom splits greedily still split at level 1 (its spawn choice had risen with the others'); by 80 it was back to 0
    beta=0.1,  # k3 KL to the warm start (not on the root's forced first token), as CALIBRATION: kept seed 1's level 3 (0.67 -> 0.83 vs 0.67 without)
    prompts_per_step=8,
    group_size=8,
    max_new_tokens=128,  # per turn and per rollout (results included): the level-4/5 serial traces (~145/190) do not fit, a chain's sub-call (<=45) does
    save_every=10,
    **TINY_RL,
)

# STRATEGY is the strategy demo's RL stage on `route` (ponder demo --axis strategy): correctness plus
# the simulator's per-leg credit put on each plan step's own tokens (plan_legs: a step replayed from
# its leg's true start either ends on the leg's waypoint or not; the group-centred credit lands on
# that step's tokens, and a plan that does not parse earns none), on the hardest level only: with
# 8 legs correctness is sparse (the warm start is right ~0.05 of the time there), and that is where
# per-leg credit teaches what correctness alone does not. Over four RL runs (two warm starts x two
# RL seeds) it beat the correctness-only arm by +0.255, -0.020, +0.130, +0.090 at levels 4-5; the
# same credit as a sequence reward (plan_progress), or RL on levels 4-5, is within noise of
# correctness alone. docs/train.md ("Strategy runs", "Per-leg credit") has what was tried.
STRATEGY = TrainConfig(
    tasks=("route",),
    levels=(5,),  # levels 1-4 learn from level 5's plans; at 4-5, correctness alone keeps up (docs/train.md)
    reward="correct:1,plan_legs:0.5",
    modes="plan_balanced",  # half of each group forced to plan, half to answer: both compared on every prompt
    mode_weight=10.0,  # the choice is one token against a trace of ~20-100, as in CALIBRATION
    steps=120,
    prompts_per_step=8,
    group_size=8,
    max_new_tokens=128,  # a level-5 planned oracle completion is ~107 tokens
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
    reward="correct:1,tool_calls:-0.4",  # a call must raise the chance of a right answer by more than 0.4
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
