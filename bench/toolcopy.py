"""The tools warm start's copy rate: how often, after a `calc` result, the answer equals the result.

    .venv/bin/python bench/toolcopy.py --model runs/demo-tools/sft/model      # probe a warm start
    .venv/bin/python bench/toolcopy.py --seed 4 --steps 1500 --out /tmp/ws4     # init + warm start, then probe
    .venv/bin/python bench/toolcopy.py --seed 4 --level-weights 2,2,1,3,3 ...   # another mix (run H's)

Per level, on held-out problems (seed 9999, whose first 40 per level the demo evaluates; 100 by
default), teacher-forced at temperature 1: each number is the mean over the problems of the exact
chance that a temperature-1 sample gets it right (no sampling noise, only the problems'):

    call     P(the call's text is right | the prompt and `<tool`)        operands copied into the call
    copy     P(`<answer>R</answer>` | prompt, right call, `<output>R</output>`)   the result copied out
    tool     call * copy per problem: the accuracy of a rollout that calls (what RL can reinforce at level 5)
    direct   P(`<answer>R</answer>` | the prompt and `<answer>`): the accuracy of a direct answer
    p_call   P(the first token opens a call): the warm start's tool rate

The demo's level-5 gain needs `tool` well above the price of a call (0.4) on every seed
(docs/tools.md, "Seeds 0-4 of run H"). Default warm start: the demo's (ponder/demo/tools.py).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def logprob_of(model, tok, prefix: str, target: str) -> float:
    """log P(target | prefix) under the model, token by token."""
    import torch

    p = tok.encode(prefix, add_special_tokens=False)
    t = tok.encode(target, add_special_tokens=False)
    ids = torch.tensor([p + t])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, len(p) - 1 : -1].float(), -1)
    return float(sum(logp[i, x] for i, x in enumerate(t)))


def probe(model_dir: str, n: int, data_seed: int, levels) -> dict:
    import math

    from ponder.policy.hf import HFPolicy
    from ponder.tasks import get_task
    from ponder.tools.env import FORMATS

    policy, task, fmt = HFPolicy(model_dir), get_task("toolarith"), FORMATS["tag"]
    model, tok = policy.model.eval(), policy.tokenizer
    rows = {}
    for d in levels:
        acc = {"call": 0.0, "copy": 0.0, "tool": 0.0, "direct": 0.0, "p_call": 0.0}
        for p in task.sample(n, d, seed=data_seed):
            prompt = policy.render(p)
            call = fmt.write_call("calc", task.tool_input(p))
            answer = f"<answer>{p.answer}</answer>"
            lc = logprob_of(model, tok, prompt + "<tool", call[len("<tool"):])
            lk = logprob_of(model, tok, prompt + call + fmt.result([p.answer]), answer)
            ld = logprob_of(model, tok, prompt + "<answer>", answer[len("<answer>"):])
            first = logprob_of(model, tok, prompt, "<tool")
            for k, v in (("call", lc), ("copy", lk), ("tool", lc + lk), ("direct", ld), ("p_call", first)):
                acc[k] += math.exp(v) / n
        rows[d] = acc
    return rows


def warm_start(args) -> str:
    from ponder.demo import tools as demo
    from ponder.policy.tiny import init_tiny
    from ponder.runs import RunDir
    from ponder.sft import SFTConfig, check, run

    out = Path(args.out)
    init_tiny(out / "init", seed=args.seed)
    weights = tuple(float(x) for x in args.level_weights.split(",")) if args.level_weights else demo.LEVEL_WEIGHTS
    cfg = SFTConfig(model=str(out / "init"), tasks=(demo.TASK,), levels=demo.LEVELS, level_weights=weights,
                    think_prob=0.0, tool_prob=args.tool_prob, out=str(out / "sft"), seed=args.seed,
                    steps=args.steps, lr=args.lr, threads=args.threads, batch_size=args.batch_size)
    check(cfg)
    t0, c0 = time.time(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
    model = run(cfg, RunDir.open("sft", cfg.out, cfg), progress=False)
    print(f"warm start: {time.time() - t0:.0f} s wall, "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_utime - c0:.0f} s CPU", flush=True)
    return str(model)


def main() -> None:
    from ponder.demo import tools as demo

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a warm-started model to probe (else run init + warm start into --out)")
    ap.add_argument("--out", default="/tmp/toolcopy")
    ap.add_argument("--seed", type=int, default=0, help="init, warm-start and evaluation seed (the demo's --seed)")
    ap.add_argument("--steps", type=int, default=demo.SFT_STEPS)
    ap.add_argument("--lr", type=float, default=demo.SFT_LR)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--level-weights", default="", help="comma list for levels 1-5 (default: the demo's)")
    ap.add_argument("--tool-prob", type=float, default=demo.TOOL_PROB)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-n", type=int, default=100, help="problems per level (the demo evaluates the first 40 of seed 9999)")
    ap.add_argument("--data-seed", type=int, default=9999, help="problem seed (9999: the demo's evaluation set)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    model = args.model or warm_start(args)
    rows = probe(model, args.n, args.data_seed, demo.LEVELS)
    print(f"{model}\nlevel |  p_call   call   copy   tool  direct")
    for d, r in rows.items():
        print(f"{d:>5} | " + "  ".join(f"{r[k]:5.2f}" for k in ("p_call", "call", "copy", "tool", "direct")))


if __name__ == "__main__":
    main()
