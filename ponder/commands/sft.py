"""`ponder sft --model DIR --tasks arith --out RUN`: supervised warm start on oracle traces.

See ponder/sft/ for what the run directory holds. Prints RUN/model.
"""

from __future__ import annotations

HELP = "supervised warm start of a model on the tasks' oracle traces (mixed think / answer-only)"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.sft import SFTConfig

    add_config_args(p, SFTConfig)


def run(args) -> int:
    from ponder import sft
    from ponder.config import resolve_config
    from ponder.runs import RunDir

    cfg = resolve_config(sft.SFTConfig, args)
    sft.check(cfg)
    run_dir = RunDir.open("sft", cfg.out, cfg, resume=cfg.resume)
    print(sft.run(cfg, run_dir))
    return 0
