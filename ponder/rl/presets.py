"""Named training presets: tested settings a user (or `ponder demo`) starts from.

    from ponder.rl.presets import CALIBRATION
    train(dataclasses.replace(CALIBRATION, model="runs/sft-x/model"))
    ponder train --preset calibration --model runs/sft-x/model

CALIBRATION is the demo's RL stage: correctness plus effort-aware rewards on `arith`, tuned so
the warm-started tiny model (which thinks at random, whatever the difficulty) learns to answer
the easiest level directly and to think on the hardest, in a few CPU minutes. The numbers it
reached are in docs/train.md.
"""

from __future__ import annotations

from ponder.rl.trainer import TrainConfig

CALIBRATION = TrainConfig(
    task="arith",
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,kimi_length:0.5",
    steps=40,
    prompts_per_step=10,
    group_size=8,
    max_new_tokens=112,
    temperature=1.0,
    loss="dapo",
    advantage_scale="group",
    eps_low=0.2,
    eps_high=0.28,
    lr=2e-4,
    warmup_steps=2,
    save_every=10,
)

PRESETS: dict[str, TrainConfig] = {"calibration": CALIBRATION}
