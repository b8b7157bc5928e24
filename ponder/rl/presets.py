"""Named training presets: tested settings a user (or `ponder demo`) starts from.

    from ponder.rl.presets import CALIBRATION
    train(dataclasses.replace(CALIBRATION, model="runs/sft-x/model"))
    ponder train --preset calibration --model runs/sft-x/model

CALIBRATION is the demo's RL stage on `arith`: correctness, an AdaptThink-style bonus for a
correct answer given without `<think>`, and partial credit for the correct running sums of a
wrong answer's trace (`trace`). Why these effort-aware terms and not Kimi's group length penalty:
- Under group-normalised advantages, a group in which every sample is wrong (the usual case at
  the hardest levels for a tiny model) still has reward variance under Kimi's penalty -- long
  wrong answers get min(0, lambda) < 0, short ones 0 -- so it teaches the model *not* to think
  exactly where thinking is the only way to succeed.
- The no-think bonus (0.25) is zero on wrong answers: a correct direct answer beats a correct
  trace by 0.25 on easy levels, and a direct answer wins only where its accuracy is at least
  1 / 1.25 = 80% of the trace's, which keeps accuracy first.
- Outcome rewards alone are flat where every sample fails, so nothing would push thinking *up*
  on the hardest levels; `trace` (0.2 x the share of the worked solution's running sums the
  trace gets right, only on wrong answers) gives those groups a signal that rewards real
  partial work, while on a one-step level-1 problem it adds nothing a correct answer lacks.
  Its weight barely matters where it is needed (an all-wrong group's advantages are divided by
  the group's std), so it is kept small (0.2) where it could hurt: on a weak model's wrong
  level-1 answers it favours the trace (measured on the under-trained test warm start, whose
  level-1 accuracy is ~10%: think-rate rose there; the demo's warm start answers level 1 well).
Kimi's penalty stays available as `kimi_length` (docs/train.md).
"""

from __future__ import annotations

from ponder.rl.trainer import TrainConfig

CALIBRATION = TrainConfig(
    task="arith",
    levels=(1, 2, 3, 4, 5),
    reward="correct:1,nothink:0.25,trace:0.2",
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
