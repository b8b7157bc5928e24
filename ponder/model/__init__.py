"""Model directories from outside ponder: `ponder model import` (a GGUF checkpoint -> HF directory).

    from ponder.model import ImportConfig, check, run
    cfg = ImportConfig(gguf="smollm2", out="models/smollm2")
    check(cfg)
    run(cfg)          # -> Path("models/smollm2")

Departure from the stage contract: the output is a model directory (written atomically by
`ponder.policy.checkpoint.save_model`), not a run directory, so `run` takes no RunDir -- like
`ponder model init`, whose output every other stage takes as `--model`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ponder.errors import PonderError
from ponder.model.config import ImportConfig


def check(cfg: ImportConfig) -> None:
    """The file is a GGUF file the readers can open, and --out is free; writes nothing."""
    from ponder.model.gguf import check_gguf, locate

    check_gguf(locate(cfg.gguf))
    out = Path(cfg.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not cfg.force:
        raise PonderError(f"{out} already exists and is not empty (use --force to replace it)")


def pretrain_meta(cfg: ImportConfig, params: int) -> dict:
    """The ledger entries of an imported checkpoint: {"flops": {"pretrain": F}, "pretrain_tokens": T}
    with F = --pretrain-flops, else 6*N*T for --pretrain-tokens (or a packaged model's published T);
    no entry when nothing is known."""
    from ponder.ledger import pretrain_entry
    from ponder.model.gguf import default_pretrain_tokens

    tokens = cfg.pretrain_tokens
    if tokens is None and cfg.pretrain_flops is None:
        tokens = default_pretrain_tokens(cfg.gguf)
    return pretrain_entry({"params": params, "flops": {}}, params, tokens=tokens, flops=cfg.pretrain_flops)


def run(cfg: ImportConfig, *, progress: bool = True) -> Path:
    """Import cfg.gguf into cfg.out (atomically); returns the model directory."""
    from ponder.model.gguf import load_gguf, locate
    from ponder.policy.checkpoint import num_params, save_model

    path = locate(cfg.gguf)
    if progress:
        print(f"importing {path}", file=sys.stderr)
    model, tok = load_gguf(path, cfg.dtype)
    params = num_params(model)
    meta = {**pretrain_meta(cfg, params), "source": {"gguf": path.name, "dtype": cfg.dtype}}
    return save_model(model, tok, cfg.out, meta)


__all__ = ["ImportConfig", "check", "pretrain_meta", "run"]
