"""Named training presets: tested settings a user (or `ponder demo`) starts from.

    from ponder.rl.presets import CALIBRATION
    train(dataclasses.replace(CALIBRATION, model="runs/sft-x/model"))
    ponder train --preset calibration --model runs/sft-x/model

CALIBRATION is the demo's RL stage on `arith`: correctness plus an AdaptThink-style bonus for a
correct answer given without `<think>` (`correct:1,nothink:0.25`), 200 steps at lr 1e-4.
Why this effort-aware reward and not Kimi's group length penalty: under group-normalised
advantages, a group in which every sample is wrong (the usual case at the hardest levels for a
tiny model) still has reward variance under Kimi's penalty -- long wrong answers get
min(0, lambda) < 0, short ones 0 -- so it teaches the model *not* to think exactly where thinking
is the only way to succeed. The no-think bonus is zero on wrong answers: a correct direct answer
beats a correct trace by 0.25 on easy levels, and a direct answer wins only where its accuracy is
at least 1 / 1.25 = 80% of the trace's, which keeps accuracy first.

CALIBRATION adds AdaptThink's mode-balanced groups (`balance_modes`: half of each group forced to
think, half to answer), the forced token scored by its half's mean reward (ponder.rl.losses.
mode_advantages). Measured (docs/train.md, "Calibration runs") on the demo's warm start: on-policy,
the tiny model's choice of mode moves as one shared bias that follows the majority of levels
(level 1 stayed at 0.81 while level 5 rose); with this preset the choice separates by difficulty
after ~60-80 steps (level 1 0.79 -> 0.00, levels 3-5 to 0.82-0.88, accuracy 0.878 -> 0.90).
"""

from __future__ import annotations

from ponder.rl.trainer import TrainConfig

CALIBRATION = TrainConfig(
    task="arith",
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,nothink:0.25",
    steps=200,  # ~1 s a step for the 870k tiny model on one thread; the mode choice separates by level after ~60-80
    prompts_per_step=10,
    group_size=8,  # 4 samples forced to think, 4 to answer, per prompt
    balance_modes=True,  # compare both modes on every prompt, however rarely the policy picks one
    mode_baseline="group",  # with the half-mean forced-token advantage, better than "batch" (docs/train.md)
    mode_weight=10.0,  # the mode choice is one token against a trace of ~20
    max_new_tokens=64,  # the longest level-5 oracle completion is 46 tokens
    temperature=1.0,  # sample the policy itself, as the demo's evaluation does
    loss="dapo",  # token-level mean, so long traces are not down-weighted per token
    advantage_scale="group",
    eps_low=0.2,
    eps_high=0.28,  # DAPO clip-higher
    lr=1e-4,  # 3e-4 degrades the traces
    warmup_steps=2,
    save_every=10,
)

PRESETS: dict[str, TrainConfig] = {"calibration": CALIBRATION}
