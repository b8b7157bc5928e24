"""Named training presets: tested settings a user (or `ponder demo`) starts from.

    from ponder.rl.presets import CALIBRATION
    train(dataclasses.replace(CALIBRATION, model="runs/sft-x/model"))
    ponder train --preset calibration --model runs/sft-x/model

CALIBRATION is the demo's RL stage on `arith`: correctness plus an AdaptThink-style bonus for a
correct answer given without `<think>` (`correct:1,nothink:0.25`), 100 steps at lr 1e-4.
Why this effort-aware reward and not Kimi's group length penalty: under group-normalised
advantages, a group in which every sample is wrong (the usual case at the hardest levels for a
tiny model) still has reward variance under Kimi's penalty -- long wrong answers get
min(0, lambda) < 0, short ones 0 -- so it teaches the model *not* to think exactly where thinking
is the only way to succeed. The no-think bonus is zero on wrong answers: a correct direct answer
beats a correct trace by 0.25 on easy levels, and a direct answer wins only where its accuracy is
at least 1 / 1.25 = 80% of the trace's, which keeps accuracy first.

Measured (docs/train.md, "Calibration runs"), on the demo's warm start: 100 steps raise the
level-5 think-rate from 0.41 to 0.63 and accuracy from 0.744 to 0.822, but leave level 1 at 0.81:
the tiny model's choice of mode is mostly one shared bias, and four levels that reward thinking
outvote the one that does not. lr 3e-4 degrades the traces; 300 steps on the demo's 100-problem
pool memorise it. `--balance-modes` (mode-balanced groups) is the tool aimed at that gap.
"""

from __future__ import annotations

from ponder.rl.trainer import TrainConfig

CALIBRATION = TrainConfig(
    task="arith",
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,nothink:0.25",
    steps=100,  # ~1.5 s a step for the 870k tiny model on 2 CPU cores: under 3 minutes
    prompts_per_step=10,
    group_size=8,  # the common small-GRPO setting; enough samples that both modes show up in a group
    max_new_tokens=64,  # the longest level-5 oracle completion is 46 tokens
    temperature=1.0,  # sample the policy itself, as the demo's evaluation does
    loss="dapo",  # token-level mean, so long traces are not down-weighted per token
    advantage_scale="group",
    eps_low=0.2,
    eps_high=0.28,  # DAPO clip-higher
    lr=1e-4,  # 3e-4 collapsed accuracy (66% -> 26% at level 1) within 40 steps
    warmup_steps=2,
    save_every=10,
)

PRESETS: dict[str, TrainConfig] = {"calibration": CALIBRATION}
