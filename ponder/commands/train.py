"""`ponder train`: GRPO-family RL from verifiable rewards (see docs/train.md).

    ponder train --model runs/sft-x/model --task arith --reward correct:1,kimi_length:0.5 --steps 60
    ponder train --preset calibration --model runs/sft-x/model
    ponder train --resume --out runs/train-x          # after a crash: continue where it stopped
"""

from __future__ import annotations

import sys
from pathlib import Path

from ponder.errors import PonderError

HELP = "train a policy with GRPO-family RL (effort- and plan-aware rewards, resumable)"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.rl.presets import PRESETS
    from ponder.rl.trainer import TrainConfig

    p.add_argument("--preset", choices=sorted(PRESETS), help="start from a named preset (flags override it)")
    p.add_argument("--out", help="run directory (default: runs/train-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its latest checkpoint, with its saved config")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_args(p, TrainConfig)


def run(args) -> int:
    import dataclasses

    from ponder.config import load_config_file, resolve_config
    from ponder.rl.presets import PRESETS
    from ponder.rl.trainer import TrainConfig, train

    base: dict = {}
    if args.resume:
        if not args.out or not (Path(args.out) / "config.yaml").exists():
            raise PonderError(f"--resume needs --out pointing at an existing train run (no config.yaml in {args.out})")
        base = load_config_file(Path(args.out) / "config.yaml")
    elif args.preset:
        base = dataclasses.asdict(PRESETS[args.preset])
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    file_values = load_config_file(args.config) if getattr(args, "config", None) else {}
    cfg = resolve_config(TrainConfig, _NoConfig(), **{**base, **file_values, **flags})
    run_dir = train(cfg, out=args.out, resume=args.resume, progress=not args.quiet)
    last = (run_dir.metrics() or [{}])[-1]
    print(f"steps {last.get('step', 0)}  reward {last.get('reward_mean', 0):.3f}  accuracy {last.get('accuracy', 0):.3f}  "
          f"think-rate {last.get('think_rate', 0):.2f}  post-training share {last.get('post_training_share', 0):.2%}",
          file=sys.stderr)
    print(run_dir)
    return 0


class _NoConfig:
    """An argparse-like namespace with no values: the layering is done in `run`."""

    config = None
