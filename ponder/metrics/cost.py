"""Cost: tokens, wall time and estimated inference FLOPs.

FLOPs follow the usual dense-transformer estimate (Kaplan et al. 2020, "Scaling Laws for Neural
Language Models", sec. 2.1): a forward pass costs about 2 x parameters per token. `flops` counts
the generated tokens (the ledger convention of ponder.json: 2 x params x tokens for generation);
`prompt_flops` reports the prompt tokens' forward passes separately. Attention's
context-dependent term is ignored, as in the estimate. With the parameter count unknown (a model
behind an HTTP server, params = 0 or None) the FLOPs are None rather than a misleading 0.
"""

from __future__ import annotations

from collections.abc import Sequence


def inference_flops(params: int, tokens: int) -> float:
    return 2.0 * params * tokens


def cost_metrics(rows: Sequence[dict], params: int | None, wall_s: float) -> dict[str, float | None]:
    gen = sum(int(r["num_tokens"]) for r in rows)
    prompt = sum(int(r.get("prompt_tokens") or 0) for r in rows)
    return {
        "samples": len(rows),
        "generated_tokens": gen,
        "prompt_tokens": prompt,
        "mean_tokens": gen / len(rows) if rows else float("nan"),
        "wall_s": wall_s,
        "tokens_per_s": gen / wall_s if wall_s > 0 else float("nan"),
        "params": params,
        "flops": inference_flops(params, gen) if params else None,
        "prompt_flops": inference_flops(params, prompt) if params else None,
    }
