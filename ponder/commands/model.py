"""`ponder model init --out DIR [--size tiny|small]`: build the tiny default model (random weights)."""

from __future__ import annotations

import sys

from ponder.errors import PonderError

HELP = "build the tiny default model (Llama architecture, character tokenizer) in Hugging Face format"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="model_cmd", metavar="ACTION", parser_class=type(p))
    sub.required = True
    init = sub.add_parser("init", help="write a randomly initialised tiny model to --out",
                          description="Write a randomly initialised tiny model (warm-start it with `ponder sft`).")
    init.add_argument("--out", required=True, help="model directory to create")
    init.add_argument("--size", default="tiny", help="tiny (~0.87M parameters) or small (~3.4M) (default: tiny)")
    init.add_argument("--seed", type=int, default=0, help="initialisation seed (default: 0)")
    init.add_argument("--force", action="store_true", help="replace --out if it already holds a model")


def run(args) -> int:
    from pathlib import Path

    from ponder.policy.tiny import SIZES

    if args.size not in SIZES:
        raise PonderError(f"unknown model size {args.size!r} (choose from {', '.join(SIZES)})")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise PonderError(f"{out} already exists and is not empty (use --force to replace it)")
    from ponder.ledger import read_meta
    from ponder.policy.tiny import init_tiny

    path = init_tiny(out, size=args.size, seed=args.seed)
    print(f"{args.size} model with {read_meta(path)['params']:,} parameters", file=sys.stderr)
    print(path)
    return 0
