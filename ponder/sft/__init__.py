"""Supervised warm start on the tasks' oracle traces (`ponder sft`).

    ponder sft --model models/tiny --tasks arith --out runs/sft-a     # -> runs/sft-a/model

    from ponder.sft import SFTConfig, check, run
    check(cfg); model_dir = run(cfg, RunDir.open("sft", cfg.out, cfg))

- `config`  SFTConfig: every flag with its default
- `data`    the length-bucketed pools of (prompt + oracle completion) examples
- `loop`    the loss, the learning-rate schedule, checkpoints, and the stage's `check` / `run`

The run directory holds config.yaml, metrics.jsonl (loss per step), loss.png, checkpoints/last
(atomic, every --checkpoint-every steps; `--resume` continues from it) and the final model in
model/ (Hugging Face format, with the SFT FLOPs added to its ponder.json). See docs/policy.md.
"""

from ponder.sft.config import SFTConfig
from ponder.sft.data import collate, pool_examples
from ponder.sft.loop import check, lr_at, run, sft_loss

__all__ = ["SFTConfig", "check", "collate", "lr_at", "pool_examples", "run", "sft_loss"]
