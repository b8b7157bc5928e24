"""The compute ledger: FLOP estimates and the per-model record of what each stage spent.

Every model directory ponder writes has a `ponder.json`:

    {"params": N, "flops": {"sft": F, "rl": F, ...}, ...}

and every stage that trains or samples adds its own entry, so the post-training share of a
model's compute (the talk's "post-training vs pre-training compute") can be read off any
checkpoint. FLOPs follow the dense-transformer estimate (Kaplan et al. 2020, "Scaling Laws for
Neural Language Models", sec. 2.1): a forward pass costs 2 x params per token, forward plus
backward 6 x params per token; attention's context-dependent term is ignored, as there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PONDER_JSON = "ponder.json"
# ledger keys that count as post-training (RL): the talk's DeepSeek figure (0.18% of GPU time)
# is the RL share, so a warm start (sft) counts with pre-training
POST_TRAINING_PREFIX = "rl"


def inference_flops(params: int, tokens: int) -> float:
    """Forward passes over `tokens` tokens: 2 N T."""
    return 2.0 * params * tokens


def train_flops(params: int, tokens: int) -> float:
    """Forward + backward over `tokens` tokens: 6 N T."""
    return 6.0 * params * tokens


def rl_flops(params: int, trained_tokens: int, generated_tokens: int) -> float:
    """One RL step: sampling (2 N per generated token) plus the update (6 N per trained token)."""
    return train_flops(params, trained_tokens) + inference_flops(params, generated_tokens)


def post_training_share(flops: dict[str, float], extra_post: float = 0.0) -> float:
    """RL FLOPs over all FLOPs: `flops` is a model's ledger, `extra_post` RL FLOPs not yet in it.

    Entries whose key starts with POST_TRAINING_PREFIX are post-training; the rest (sft, a
    checkpoint's recorded pre-training) count as pre-training. A ledger with nothing but RL reads
    1.0: record the checkpoint's pre-training compute to get a meaningful share.
    """
    post = sum(v for k, v in flops.items() if k.startswith(POST_TRAINING_PREFIX)) + extra_post
    total = sum(flops.values()) + extra_post
    return post / total if total > 0 else 0.0


def read_meta(model_dir: str | os.PathLike) -> dict[str, Any]:
    """The model's ponder.json ({} for a checkpoint that has none)."""
    path = Path(model_dir) / PONDER_JSON
    return json.loads(path.read_text()) if path.exists() else {}


def add_flops(meta: dict[str, Any], stage: str, flops: float) -> dict[str, Any]:
    """A copy of `meta` with `flops` added to its ledger entry `stage`."""
    ledger = dict(meta.get("flops") or {})
    ledger[stage] = ledger.get(stage, 0.0) + float(flops)
    return {**meta, "flops": ledger}


PRETRAIN = "pretrain"  # the ledger key of a checkpoint's own pre-training compute


def pretrain_entry(meta: dict[str, Any], params: int, tokens: float | None = None,
                   flops: float | None = None) -> dict[str, Any]:
    """A copy of `meta` recording the checkpoint's pre-training compute: `flops` when given, else
    6 N T for `tokens` (train_flops), replacing any earlier record; `meta` unchanged when neither
    is known. Without it a real checkpoint's ledger holds only what ponder spent, and its
    post-training share reads 100%."""
    if flops is None and tokens is None:
        return dict(meta)
    value = float(flops) if flops is not None else train_flops(params, int(tokens))
    out = {**meta, "flops": {**(meta.get("flops") or {}), PRETRAIN: value}}
    if tokens is not None:
        out["pretrain_tokens"] = float(tokens)
    return out


def ledger_summary(meta: dict[str, Any], params: int | None, pretrain_tokens: float | None = None,
                   extra_post: float = 0.0) -> dict[str, Any]:
    """A report's view of a model's ledger: its FLOPs by stage (with `pretrain_tokens`, 6 N T
    recorded as pre-training when the ledger has none), the total, and the post-training share
    (`extra_post`: RL FLOPs not yet in the ledger)."""
    if pretrain_tokens and PRETRAIN not in (meta.get("flops") or {}) and params:
        meta = pretrain_entry(meta, params, tokens=pretrain_tokens)
    flops = dict(meta.get("flops") or {})
    return {"flops": flops, "total_flops": sum(flops.values()) + extra_post,
            "pretrain_recorded": PRETRAIN in flops,
            "post_training_share": post_training_share(flops, extra_post)}
