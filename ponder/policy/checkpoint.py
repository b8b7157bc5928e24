"""Saving a model directory: Hugging Face weights + tokenizer + ponder.json, atomically.

The one model saver every stage uses (model init, sft, RL checkpoints and final models): a
directory is written beside its target and renamed over it (`ponder.runs.atomic_dir`), so a
crash leaves the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ponder.ledger import PONDER_JSON
from ponder.runs import atomic_dir


def num_params(model) -> int:
    """Parameters counted once (tied embeddings count once)."""
    return sum(p.numel() for p in model.parameters())


def save_model(model, tokenizer, out_dir: str | os.PathLike, meta: dict[str, Any],
               extra: Callable[[Path], None] | None = None) -> Path:
    """Save an HF checkpoint + ponder.json to `out_dir` atomically.

    `extra(tmp_dir)` may write more files (optimizer state, RNG state) before the rename.
    """
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / PONDER_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if extra is not None:
            extra(tmp)
    return Path(out_dir)
