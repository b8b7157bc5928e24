"""The tiny default model: a small Llama-architecture causal LM with a character tokenizer.

    from ponder.policy.tiny import init_tiny
    init_tiny("models/tiny")          # or: ponder model init --out models/tiny

The directory is an ordinary Hugging Face checkpoint (`config.json`, `model.safetensors`,
`tokenizer.json`, ...) that `AutoModelForCausalLM` / `AutoTokenizer` and vLLM load unchanged, plus
`ponder.json`: {"params": N, "size": ..., "flops": {}} -- the compute ledger later stages add to.
Weights are random (seeded); `ponder sft` warm-starts them.
"""

from __future__ import annotations

import os
from pathlib import Path

from ponder.errors import PonderError
from ponder.policy.checkpoint import num_params, save_model

# name -> LlamaConfig fields. `tiny` (~0.87M parameters) is the demo default: small enough that a
# warm start on a 2-core CPU reaches the arithmetic floor in minutes (docs/policy.md has the
# numbers); `small` (~3.4M) costs ~4x the compute per token.
SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                 intermediate_size=384),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                  intermediate_size=768),
}
MAX_POSITIONS = 512  # prompts + completions of the procedural tasks fit well within this


def tiny_config(size: str = "tiny", vocab_size: int = 128):
    from transformers import LlamaConfig

    if size not in SIZES:
        raise PonderError(f"unknown model size {size!r} (choose from {', '.join(SIZES)})")
    from ponder.policy.tokenizer import SPECIALS

    return LlamaConfig(
        vocab_size=vocab_size,  # tokenizer has ~107 ids; rounded up for aligned matmuls
        max_position_embeddings=MAX_POSITIONS,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        pad_token_id=SPECIALS.index("<pad>"),
        bos_token_id=SPECIALS.index("<s>"),
        eos_token_id=SPECIALS.index("</s>"),
        torch_dtype="float32",
        **SIZES[size],
    )


def init_tiny(out_dir: str | os.PathLike, size: str = "tiny", seed: int = 0) -> Path:
    """Build a randomly initialised tiny model + character tokenizer in `out_dir`."""
    import torch
    from transformers import LlamaForCausalLM

    from ponder.policy.tokenizer import build_tokenizer

    cfg = tiny_config(size)
    tok = build_tokenizer()
    if len(tok) > cfg.vocab_size:
        raise PonderError(f"tokenizer has {len(tok)} ids but the model only {cfg.vocab_size}")
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = cfg.pad_token_id
    model.generation_config.eos_token_id = cfg.eos_token_id
    model.generation_config.bos_token_id = cfg.bos_token_id
    meta = {"params": num_params(model), "size": size, "seed": seed, "flops": {}}
    return save_model(model, tok, out_dir, meta)
