"""Rollout throughput: the `hf` backend vs plain `model.generate` (and vLLM when installed).

    .venv/bin/python bench/rollout.py                       # fresh tiny model, 64 prompts x 8 x 64 tokens
    .venv/bin/python bench/rollout.py --model runs/sft-a/model --threads 1
    .venv/bin/python bench/rollout.py --model models/smollm2 --threads 1 --prompts 16   # SmolLM2-135M (docs/real.md)

Same batch for every column: 64 arith prompts (levels 1-5, rendered for the model), 8 samples
each at temperature 1, up to 64 new tokens. Reported: generated tokens per second and the
fraction of the CPU's arithmetic limit reached, i.e. 2 x params x tokens/s over the measured
FLOP/s of a large float32 matrix product (the same threads). With a fresh (random) model no row
emits EOS early, so every row generates exactly 64 tokens and the comparison is of the decode
loops alone; with a warm model, early stopping also counts (plain generate keeps computing
finished rows until the whole batch is done). Floor: hf >= 2x plain generate. With a Llama-family
model the hf backend decodes with `ponder.policy.lean` (plain tensor ops, no per-call module
overhead); `--no-lean` shows transformers' forward inside the same loop, to separate the two gains.
`--rounds R` times the hf and generate columns R times each in ABBA order (hf, generate, generate,
hf, ...) and reports each column's median, so a drift in machine load hits both alike.
`--profile` then prints torch.profiler's op table of one more hf call. The "% of peak" column is
against torch.mm's (MKL's) float32 rate; the hf backend's projections run on oneDNN (docs/train.md,
"Fifth pass"), whose rate for the same product is printed beside it.

The vLLM column runs in `.venv-vllm` (a separate environment; see docs/backends.md) when it
exists, through `ponder.policy.load_policy(model, backend="vllm")`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def batch_prompts(render, n_prompts: int) -> list[str]:
    from ponder.tasks import get_task

    task = get_task("arith")
    probs = [task.generate(7, i, 1 + i % 5) for i in range(n_prompts)]
    return [render(p) for p in probs]


def peak_flops(seconds: float = 3.0, n: int = 2048) -> float:
    """FLOP/s of a large float32 matmul (best of repeated runs) -- the arithmetic ceiling."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def measure_policy(model_dir: str, backend: str, prompts_n: int, n: int, tokens: int, lean: bool = True) -> dict:
    from ponder.policy import load_policy
    from ponder.types import Sampling

    policy = load_policy(model_dir, backend=backend)
    if hasattr(policy, "lean"):
        policy.lean = lean
    prompts = batch_prompts(policy.render, prompts_n)
    s = Sampling(temperature=1.0, max_new_tokens=tokens, seed=0)
    policy.generate(prompts[:2], 2, Sampling(temperature=1.0, max_new_tokens=4, seed=0))  # warm-up
    t = time.perf_counter()
    outs = policy.generate(prompts, n, s)
    dt = time.perf_counter() - t
    gen = sum(c.num_tokens for g in outs for c in g)
    return {"tokens": gen, "seconds": dt, "tok_s": gen / dt, "params": policy.num_params}


def profile_policy(model_dir: str, prompts_n: int, n: int, tokens: int, rows: int = 20) -> None:
    """torch.profiler's op table (self CPU time) of one hf `generate` on the bench's batch, after a
    warm-up call, printed to stderr: where the hf column's time goes (docs/train.md's passes)."""
    from torch.profiler import ProfilerActivity, profile

    from ponder.policy import load_policy
    from ponder.types import Sampling

    policy = load_policy(model_dir, backend="hf")
    prompts = batch_prompts(policy.render, prompts_n)
    s = Sampling(temperature=1.0, max_new_tokens=tokens, seed=0)
    policy.generate(prompts, n, s)  # warm-up: the KV workspace's pages, oneDNN's kernels
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        policy.generate(prompts, n, s)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows), file=sys.stderr)


def onednn_flops(seconds: float = 3.0, n: int = 2048) -> float:
    """FLOP/s of the same float32 product on oneDNN with a prepacked weight (the path the hf
    backend's projections take on CPU, `ponder.policy.lean._Lin`); 0.0 where it is missing."""
    import torch

    a = torch.randn(n, n)

    def f():
        return torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "")

    try:
        w = torch.ops.mkldnn._reorder_linear_weight(torch.randn(n, n), None)
        f()
    except (RuntimeError, AttributeError):
        return 0.0
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        f()
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def measure_generate(model_dir: str, prompts_n: int, n: int, tokens: int) -> dict:
    """Plain `model.generate` on the same left-padded batch (prompts repeated n times)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.policy import render_prompt

    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompts = batch_prompts(lambda p: render_prompt(tok, p), prompts_n)
    rows = [p for p in prompts for _ in range(n)]
    enc = tok(rows, return_tensors="pt", padding=True, add_special_tokens=False)
    kw = dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=tokens,
              pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    with torch.inference_mode():
        model.generate(**tok(prompts[:2], return_tensors="pt", padding=True, add_special_tokens=False),
                       **{**kw, "max_new_tokens": 4})
        torch.manual_seed(0)
        t = time.perf_counter()
        out = model.generate(**enc, **kw)
        dt = time.perf_counter() - t
    new = out[:, enc["input_ids"].shape[1] :]
    gen = 0
    for row in new.tolist():  # count up to and including the first EOS, as the backends do
        gen += (row.index(tok.eos_token_id) + 1) if tok.eos_token_id in row else len(row)
    return {"tokens": gen, "seconds": dt, "tok_s": gen / dt, "params": sum(p.numel() for p in model.parameters())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model directory (default: a fresh tiny model in a temp dir)")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("-n", type=int, default=8, help="samples per prompt")
    ap.add_argument("--tokens", type=int, default=64, help="max new tokens")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--no-lean", action="store_true", help="hf backend with transformers' forward (no lean decoder)")
    ap.add_argument("--rounds", type=int, default=1, help="runs of the hf and generate columns each, ABBA order (medians)")
    ap.add_argument("--profile", action="store_true", help="also print torch.profiler's op table of one hf call")
    ap.add_argument("--only", choices=["hf", "generate", "vllm"], help=argparse.SUPPRESS)  # one column, JSON
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.only:
        fn = {"generate": lambda: measure_generate(args.model, args.prompts, args.n, args.tokens)}.get(
            args.only, lambda: measure_policy(args.model, args.only, args.prompts, args.n, args.tokens))
        print("ROLLOUT_JSON " + json.dumps(fn()), flush=True)  # engines print to stdout too
        return 0
    tmp = None
    if not args.model:
        from ponder.policy.tiny import init_tiny

        tmp = tempfile.TemporaryDirectory()
        args.model = str(init_tiny(Path(tmp.name) / "tiny"))
    print(f"model {args.model}; {args.prompts} prompts x {args.n} samples x {args.tokens} new tokens; "
          f"torch threads {torch.get_num_threads()}", file=sys.stderr)
    peak = peak_flops()
    fns = {"hf": lambda: measure_policy(args.model, "hf", args.prompts, args.n, args.tokens, lean=not args.no_lean),
           "generate": lambda: measure_generate(args.model, args.prompts, args.n, args.tokens)}
    order = (["hf", "generate", "generate", "hf"] * ((args.rounds + 1) // 2))[: 2 * max(1, args.rounds)]
    runs: dict[str, list[dict]] = {"hf": [], "generate": []}
    for name in order:
        runs[name].append(fns[name]())
    cols = {k: sorted(v, key=lambda c: c["tok_s"])[len(v) // 2] for k, v in runs.items()}  # the median run (the upper one of an even count)
    vpy = REPO / ".venv-vllm" / "bin" / "python"
    if vpy.exists():
        cmd = [str(vpy), __file__, "--only", "vllm", "--model", args.model, "--prompts", str(args.prompts),
               "-n", str(args.n), "--tokens", str(args.tokens)]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        found = [ln[len("ROLLOUT_JSON "):] for ln in res.stdout.splitlines() if ln.startswith("ROLLOUT_JSON ")]
        if res.returncode == 0 and found:
            cols["vllm"] = json.loads(found[-1])
        else:
            print(f"vllm column skipped: {(res.stderr.strip().splitlines() or ['?'])[-1]}", file=sys.stderr)
    base = cols["generate"]["tok_s"]
    print(f"{'':<22}" + "".join(f"{k:>14}" for k in cols))
    for label, fn in [("generated tokens", lambda c: f"{c['tokens']:d}"),
                      ("seconds", lambda c: f"{c['seconds']:.2f}"),
                      ("tokens/s", lambda c: f"{c['tok_s']:.0f}"),
                      ("x plain generate", lambda c: f"{c['tok_s'] / base:.2f}"),
                      ("% of peak FLOP/s", lambda c: f"{100 * 2 * c['params'] * c['tok_s'] / peak:.2f}")]:
        print(f"{label:<22}" + "".join(f"{fn(c):>14}" for c in cols.values()))
    if args.rounds > 1:
        print("tokens/s of each run: " + "; ".join(f"{k} " + ", ".join(f"{c['tok_s']:.0f}" for c in v)
                                                   for k, v in runs.items()))
    print(f"peak float32 matmul: {peak / 1e9:.1f} GFLOP/s; params {cols['hf']['params']:,}; "
          f"floor: hf >= 2x plain generate -> {'PASS' if cols['hf']['tok_s'] >= 2 * base else 'FAIL'}")
    print(f"(the peak is torch.mm's, MKL; the same product on oneDNN, which the hf backend's projections "
          f"use on CPU: {onednn_flops() / 1e9:.1f} GFLOP/s)")
    if args.profile:
        profile_policy(args.model, args.prompts, args.n, args.tokens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
