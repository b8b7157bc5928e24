"""Atomic training checkpoints that a `kill -9` at any moment cannot corrupt.

    run/checkpoints/step-000010/     a Hugging Face model dir (config.json, model.safetensors,
                                     tokenizer files, ponder.json) -- or a PEFT adapter dir with LoRA
                     trainer_state.pt   optimizer + LR scheduler state, RNG states (python, numpy, torch)
                     state.json         step, data cursor + curriculum state, compute ledger
    run/checkpoints/latest.json      {"step": 10, "path": "step-000010"}, replaced atomically

Write order: the step directory through `ponder.policy.checkpoint.save_model` (everything into a
hidden temp dir beside it, fsync, rename: `ponder.runs.atomic_dir`), then latest.json replaced
atomically. A crash before the last rename leaves latest.json on the previous complete
checkpoint; a stale temp dir is removed at the next save. Only the newest `keep` checkpoints are
kept.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

from ponder.runs import write_json

LATEST = "latest.json"


def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_checkpoint(ckpt_dir: str | os.PathLike, step: int, *, model, tokenizer, optimizer, scheduler,
                    state: dict[str, Any], meta: dict[str, Any], keep: int = 2) -> Path:
    import torch

    from ponder.policy.checkpoint import save_model

    root = Path(ckpt_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".step-*"):  # temp dirs of a save that was killed
        shutil.rmtree(stale, ignore_errors=True)
    name = f"step-{step:06d}"

    def trainer_files(tmp: Path) -> None:
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_state()},
                   tmp / "trainer_state.pt")
        (tmp / "state.json").write_text(json.dumps({"step": step, **state}, indent=2, sort_keys=True) + "\n")

    final = save_model(model, tokenizer, root / name, meta, extra=trainer_files)
    write_json(root / LATEST, {"step": step, "path": name})
    done = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in done[:-keep] if keep > 0 else []:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(ckpt_dir: str | os.PathLike) -> Path | None:
    root = Path(ckpt_dir)
    pointer = root / LATEST
    if not pointer.exists():
        return None
    path = root / json.loads(pointer.read_text())["path"]
    return path if (path / "state.json").exists() else None


def load_trainer_state(path: str | os.PathLike, *, optimizer, scheduler) -> dict[str, Any]:
    """Restore optimizer, scheduler and RNG states in place; return state.json's dict."""
    import torch

    path = Path(path)
    blob = torch.load(path / "trainer_state.pt", weights_only=False)  # our own file: numpy RNG state needs pickle
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    set_rng_state(blob["rng"])
    return json.loads((path / "state.json").read_text())
