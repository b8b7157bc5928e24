"""`ponder export`: curated problems in verl's Parquet layout or as a TRL GRPO dataset.

    ponder export --format verl --input runs/curate-a --out data/verl   # -> data/verl/train.parquet
    ponder export --format trl --input runs/curate-a/curated.jsonl --out data/trl

--input is a `ponder curate` run directory (its curated.parquet) or any problems file
(.parquet / .jsonl with Problem columns; rows with kept=false are skipped). See
ponder/curate/export.py and docs/curate.md for the columns.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ponder.errors import PonderError

HELP = "export curated problems for verl (Parquet) or TRL (GRPOTrainer dataset)"
FORMATS = ("verl", "trl")


@dataclass
class ExportConfig:
    format: str = field(default="", metadata={"help": "target trainer's layout: verl or trl (required)"})
    input: str = field(default="", metadata={"help": "curate run directory or problems file (required)",
                                             "metavar": "RUN_OR_FILE"})
    out: str = field(default="", metadata={"help": "output directory, gets <split>.parquet (required)", "metavar": "DIR"})
    split: str = field(default="train", metadata={"help": "split name, used as the file name"})
    plain: bool = field(default=False, metadata={"help": "trl: plain-text prompts instead of chat messages"})
    system: bool = field(default=True, metadata={"help": "a system turn with ponder's format instruction "
                                                         "(--no-system: none)"})

    def __post_init__(self):
        for name in ("format", "input", "out"):
            if not getattr(self, name):
                raise PonderError(f"--{name} is required")
        if self.format not in FORMATS:
            raise PonderError(f"--format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if not self.split.replace("-", "").replace("_", "").isalnum():
            raise PonderError(f"--split must be a plain name like train or test, got {self.split!r}")
        if self.plain and self.format != "trl":
            raise PonderError("--plain applies to --format trl only (verl prompts are chat messages)")


def add_arguments(p) -> None:
    from ponder.config import add_config_args

    add_config_args(p, ExportConfig)


def run(args) -> int:
    from ponder.config import resolve_config
    from ponder.curate.export import export_trl, export_verl, read_curated

    cfg = resolve_config(ExportConfig, args)
    rows = read_curated(cfg.input)  # a missing or malformed input: before anything is written
    if cfg.format == "verl":
        path = export_verl(rows, cfg.out, split=cfg.split, system=cfg.system)
    else:
        path = export_trl(rows, cfg.out, split=cfg.split, conversational=not cfg.plain, system=cfg.system)
    print(f"wrote {len(rows)} problems to {path} ({cfg.format} layout)", file=sys.stderr)
    print(Path(path))
    return 0
