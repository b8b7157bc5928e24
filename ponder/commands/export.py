"""`ponder export`: curated problems in verl's Parquet layout or as a TRL GRPO dataset.

    ponder export --format verl --input runs/curate-a --out data/verl   # -> data/verl/train.parquet
    ponder export --format trl --input runs/curate-a/curated.jsonl --out data/trl

--input is a `ponder curate` run directory (its curated.parquet) or any problems file
(.parquet / .jsonl with Problem columns; rows with kept=false are skipped). See
ponder/curate/export.py and docs/curate.md for the columns.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ponder.errors import PonderError

HELP = "export curated problems for verl (Parquet) or TRL (GRPOTrainer dataset)"


def add_arguments(p) -> None:
    p.add_argument("--format", required=True, choices=("verl", "trl"), help="target trainer's layout")
    p.add_argument("--input", required=True, metavar="RUN_OR_FILE", help="curate run directory or problems file")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (gets <split>.parquet)")
    p.add_argument("--split", default="train", help="split name, used as the file name (default: train)")
    p.add_argument("--plain", action="store_true", help="trl: plain-text prompts instead of chat messages")
    p.add_argument("--no-system", action="store_true", help="no system turn with ponder's format instruction")


def run(args) -> int:
    from ponder.curate.export import export_trl, export_verl, read_curated

    if not args.split.replace("-", "").replace("_", "").isalnum():
        raise PonderError(f"--split must be a plain name like train or test, got {args.split!r}")
    rows = read_curated(args.input)
    if args.plain and args.format != "trl":
        raise PonderError("--plain applies to --format trl only (verl prompts are chat messages)")
    if args.format == "verl":
        path = export_verl(rows, args.out, split=args.split, system=not args.no_system)
    else:
        path = export_trl(rows, args.out, split=args.split, conversational=not args.plain, system=not args.no_system)
    print(f"wrote {len(rows)} problems to {path} ({args.format} layout)", file=sys.stderr)
    print(Path(path))
    return 0
