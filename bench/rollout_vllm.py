"""vLLM's column for bench/rollout.py: generated tokens per second of the `vllm` backend.

Runs in .venv-vllm (vLLM pins its own torch), so bench/rollout.py calls it as a subprocess --
`vllm_column(model, prompts, n, max_new_tokens)` below does that from any venv and returns the
result dict, or None with a reason when .venv-vllm is missing -- and prints its numbers beside
the hf ones. By hand:

    .venv-vllm/bin/python bench/rollout_vllm.py --model DIR [--prompts-file P.json] \\
        [--num-prompts 64] [--n 8] [--max-new-tokens 64] [--seed 0] [--out RESULT.json]

Prints one JSON line, the last line on stdout (vLLM logs to stdout too; `--out` also writes it
to a file, which is the easier thing for a caller to read): {"backend": "vllm", "tokens": ..., "seconds": ..., "tokens_per_s": ...,
"params": ..., "load_s": ..., "peak_flops": ..., "flops_fraction": ...}. `--prompts-file` is a JSON
list of prompt strings (so both columns time the same batch); without it the prompts are
`--num-prompts` arith problems of levels 1-5 rendered for the model. Sampling is temperature 1.0,
seed fixed; vLLM runs one warm-up call first, then the timed one. `flops_fraction` is
2 x params x tokens/s over the peak of a large float32 matrix product measured in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def vllm_column(model: str, prompts: list[str] | None = None, n: int = 8, max_new_tokens: int = 64,
                seed: int = 0, venv: str | None = None, timeout_s: float = 1800) -> tuple[dict | None, str]:
    """Run this script in .venv-vllm on the same batch; (result, "") or (None, why not).

    Standard library only, so bench/rollout.py can call it from the main venv.
    """
    import subprocess
    import tempfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    py = Path(venv or os.environ.get("PONDER_VLLM_VENV") or repo / ".venv-vllm") / "bin" / "python"
    if not py.exists():
        return None, f"no {py.parent.parent.name} (run: bash scripts/setup-vllm.sh)"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(py), str(Path(__file__).resolve()), "--model", str(model), "--n", str(n),
               "--max-new-tokens", str(max_new_tokens), "--seed", str(seed), "--out", f"{tmp}/result.json"]
        if prompts is not None:
            Path(tmp, "prompts.json").write_text(json.dumps(prompts))
            cmd += ["--prompts-file", f"{tmp}/prompts.json"]
        try:
            proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None, f"vllm run timed out after {timeout_s:g} s"
        result = Path(tmp, "result.json")
        if proc.returncode != 0 or not result.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"vllm run failed (exit {proc.returncode}): {tail[0][:200]}"
        return json.loads(result.read_text()), ""


def measured_peak_flops(size: int = 2048, reps: int = 5) -> float:
    """Best FLOP/s of a size x size float32 matrix product (2 * size**3 FLOPs each)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best


def bench_prompts(policy, count: int, seed: int = 0) -> list[str]:
    from ponder.tasks import get_task

    task = get_task("arith")
    per = -(-count // 5)
    problems = [p for d in range(1, 6) for p in task.sample(per, difficulty=d, seed=seed)][:count]
    return [policy.render(p) for p in problems]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts-file")
    ap.add_argument("--num-prompts", type=int, default=64)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.3)
    ap.add_argument("--out", help="also write the JSON result to this file (atomically)")
    args = ap.parse_args(argv)

    from ponder.policy import load_policy
    from ponder.types import Sampling

    t0 = time.perf_counter()
    policy = load_policy(args.model, backend="vllm", dtype="float32",
                         gpu_memory_utilization=args.gpu_memory_utilization)
    load_s = time.perf_counter() - t0
    if args.prompts_file:
        with open(args.prompts_file) as f:
            prompts = json.load(f)
    else:
        prompts = bench_prompts(policy, args.num_prompts, args.seed)
    sampling = Sampling(temperature=1.0, max_new_tokens=args.max_new_tokens, seed=args.seed)
    policy.generate(prompts[:4], n=2, sampling=sampling)  # warm-up
    t0 = time.perf_counter()
    out = policy.generate(prompts, n=args.n, sampling=sampling)
    seconds = time.perf_counter() - t0
    tokens = sum(c.num_tokens for row in out for c in row)
    peak = measured_peak_flops()
    params = policy.num_params or 0
    result = {
        "backend": "vllm", "prompts": len(prompts), "n": args.n, "max_new_tokens": args.max_new_tokens,
        "tokens": tokens, "seconds": round(seconds, 3), "tokens_per_s": round(tokens / seconds, 1),
        "params": params, "load_s": round(load_s, 1), "peak_flops": peak,
        "flops_fraction": 2 * params * tokens / seconds / peak if params else None,
    }
    policy.close()
    if args.out:
        from ponder.runs import atomic_write_text

        atomic_write_text(args.out, json.dumps(result) + "\n")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # vLLM starts worker processes: the guard is required
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
