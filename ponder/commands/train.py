"""`ponder train`: GRPO-family RL from verifiable rewards (see docs/train.md).

    ponder train --model runs/sft-x/model --tasks arith --reward correct:1,kimi_length:0.5 --steps 60
    ponder train --preset calibration --model runs/sft-x/model
    ponder train --resume --out runs/train-x          # after a crash: continue where it stopped
"""

from __future__ import annotations

import argparse
import sys

HELP = "train a policy with GRPO-family RL (effort- and plan-aware rewards, resumable)"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.rl import TrainConfig
    from ponder.rl.presets import PRESETS

    p.add_argument("--preset", choices=sorted(PRESETS), help="start from a named preset (--config and flags override it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_args(p, TrainConfig)
    p.add_argument("--balance-modes", dest="modes", action="store_const", const="balanced", default=argparse.SUPPRESS,
                   help="same as --modes balanced")


def resolve(args):
    """The TrainConfig of these arguments: defaults < the preset (or, with --resume, the run's
    saved config.yaml) < --config FILE < the flags given now."""
    import dataclasses

    from ponder.config import build_config, load_config_file
    from ponder.errors import PonderError
    from ponder.rl import TrainConfig
    from ponder.rl.presets import PRESETS
    from ponder.runs import check_out, saved_config

    base: dict = {}
    if getattr(args, "resume", False):
        if args.preset:
            raise PonderError("--resume continues a run with its saved config; drop --preset")
        base = saved_config(check_out(getattr(args, "out", None), resume=True))
    elif args.preset:
        base = dataclasses.asdict(PRESETS[args.preset])
    file_values = load_config_file(args.config) if args.config else {}
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    return build_config(TrainConfig, {**base, **file_values, **flags}, args.config or "command line")


def run(args) -> int:
    from ponder.rl import check
    from ponder.rl import run as train
    from ponder.runs import RunDir

    cfg = resolve(args)
    check(cfg)
    run_dir = RunDir.open("train", cfg.out, cfg, resume=cfg.resume)
    result = train(cfg, run_dir, progress=not args.quiet)
    f = result.final
    if f is None:
        print(f"steps {result.steps}  no step trained on data (every group was dropped: all solved or all failed)",
              file=sys.stderr)
    else:
        at = "" if f["step"] == result.steps else f" (step {f['step']}, the last with data)"
        print(f"steps {result.steps}  reward {f['reward_mean']:.3f}  accuracy {f['accuracy']:.3f}  "
              f"think-rate {f.get('p_think', f['think_rate']):.2f}  "
              f"post-training share {f['post_training_share']:.2%}{at}", file=sys.stderr)
    print(run_dir)
    return 0
