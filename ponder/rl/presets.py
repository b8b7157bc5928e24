"""Named training presets: tested settings a user (or `ponder demo`) starts from.

    from ponder.rl.presets import CALIBRATION
    train(dataclasses.replace(CALIBRATION, model="runs/sft-x/model"))
    ponder train --preset calibration --model runs/sft-x/model

CALIBRATION is the demo's RL stage on `arith`: correctness plus an AdaptThink-style bonus for a
correct answer given without `<think>`. Why this effort-aware reward and not Kimi's group length
penalty: under group-normalised advantages, a group in which every sample is wrong (common at
the hardest level for a tiny model) still has reward variance under Kimi's penalty -- long wrong
answers get min(0, lambda) < 0, short ones 0 -- so it teaches the model *not* to think exactly
where thinking is the only way to succeed. The no-think bonus is zero on wrong answers, so
all-wrong groups carry no signal, and thinking is dropped only where the direct answer stays
correct: on easy levels the correct direct answer beats the correct trace by the bonus, on hard
levels a rare correct trace beats the (wrong) direct answers by the whole correctness reward.
A bonus of 0.25 keeps accuracy first: the direct answer wins only where its accuracy is at least
1 / 1.25 = 80% of the trace's. Kimi's penalty stays available as `kimi_length` (docs/train.md).
"""

from __future__ import annotations

from ponder.rl.trainer import TrainConfig

CALIBRATION = TrainConfig(
    task="arith",
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,nothink:0.25",
    steps=40,
    prompts_per_step=10,
    group_size=8,  # the common small-GRPO setting; enough samples that both modes show up in a group
    max_new_tokens=112,  # the longest level-5 trace is 100 characters
    temperature=1.0,  # sample the policy itself, as the demo's evaluation does
    loss="dapo",  # token-level mean, so long traces are not down-weighted per token
    advantage_scale="group",
    eps_low=0.2,
    eps_high=0.28,  # DAPO clip-higher
    lr=3e-4,  # the tiny model's SFT runs at 3e-3; RL an order lower
    warmup_steps=2,
    save_every=10,
)

PRESETS: dict[str, TrainConfig] = {"calibration": CALIBRATION}
