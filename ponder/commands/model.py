"""`ponder model init --out DIR [--size tiny|small]`: build the tiny default model (random weights)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ponder.errors import PonderError

HELP = "build the tiny default model (Llama architecture, character tokenizer) in Hugging Face format"


@dataclass
class ModelInitConfig:
    """`ponder model init` options."""

    out: str = field(default="", metadata={"help": "model directory to create (required)"})
    size: str = field(default="tiny", metadata={"help": "tiny (~0.87M parameters) or small (~3.4M)"})
    seed: int = field(default=0, metadata={"help": "initialisation seed"})
    force: bool = field(default=False, metadata={"help": "replace --out if it already holds a model"})

    def __post_init__(self):
        from ponder.policy.tiny import SIZES

        if not self.out:
            raise PonderError("--out is required (the model directory to create)")
        if self.size not in SIZES:
            raise PonderError(f"unknown model size {self.size!r} (choose from {', '.join(SIZES)})")


def add_arguments(p) -> None:
    from ponder.config import add_config_args

    sub = p.add_subparsers(dest="model_cmd", metavar="ACTION", parser_class=type(p))
    sub.required = True
    init = sub.add_parser("init", help="write a randomly initialised tiny model to --out",
                          description="Write a randomly initialised tiny model (warm-start it with `ponder sft`).")
    add_config_args(init, ModelInitConfig)


def run(args) -> int:
    from pathlib import Path

    from ponder.config import resolve_config

    cfg = resolve_config(ModelInitConfig, args)
    out = Path(cfg.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not cfg.force:
        raise PonderError(f"{out} already exists and is not empty (use --force to replace it)")
    from ponder.ledger import read_meta
    from ponder.policy.tiny import init_tiny

    path = init_tiny(out, size=cfg.size, seed=cfg.seed)
    print(f"{cfg.size} model with {read_meta(path)['params']:,} parameters", file=sys.stderr)
    print(path)
    return 0
