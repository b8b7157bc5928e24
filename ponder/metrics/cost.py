"""Cost: tokens, wall time and estimated inference FLOPs.

FLOPs are the compute ledger's estimate (`ponder.ledger.inference_flops`: 2 x parameters per
token, Kaplan et al. 2020), so an evaluation's cost and a model's `ponder.json` count alike.
`flops` counts the generated tokens (the ledger convention for generation); `prompt_flops`
reports the prompt tokens' forward passes separately. With the parameter count unknown (a model
behind an HTTP server, params = 0 or None) the FLOPs are None rather than a misleading 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.ledger import inference_flops
from ponder.stats import mean


def cost_metrics(rows: Sequence[dict], params: int | None, wall_s: float) -> dict[str, float | None]:
    gen = sum(int(r["num_tokens"]) for r in rows)
    prompt = sum(int(r.get("prompt_tokens") or 0) for r in rows)
    return {
        "samples": len(rows),
        "generated_tokens": gen,
        "prompt_tokens": prompt,
        "mean_tokens": mean(int(r["num_tokens"]) for r in rows),
        "wall_s": wall_s,
        "tokens_per_s": gen / wall_s if wall_s > 0 else float("nan"),
        "params": params,
        "flops": inference_flops(params, gen) if params else None,
        "prompt_flops": inference_flops(params, prompt) if params else None,
    }
