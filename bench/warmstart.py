"""The warm-start floor: greedy arith accuracy per level after `ponder sft`, free and forced modes.

    .venv/bin/python bench/warmstart.py                        # init + default sft + eval
    .venv/bin/python bench/warmstart.py --model runs/sft-a/model   # eval an existing model only
    .venv/bin/python bench/warmstart.py --steps 1000 --threads 1   # other sft settings

Floor: within 10 minutes of warm start on a 2-core CPU, >= 90% on arith levels 1 and 2
(greedy), and better with the <think> trace than without at the harder levels. Modes are forced
by ending the prompt with `<think>` or `<answer>`; "free" lets the model choose. Prints the SFT
wall time and CPU time (on a shared machine the CPU time is the honest cost).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def evaluate(model_dir: str, n: int, levels) -> dict:
    from ponder.policy.hf import HFPolicy
    from ponder.tasks import get_task
    from ponder.types import Sampling

    policy, task = HFPolicy(model_dir), get_task("arith")
    rows = {}
    for d in levels:
        probs = task.sample(n, d, seed=0)
        row = {}
        for mode, suffix in (("free", ""), ("think", "<think>"), ("answer", "<answer>")):
            outs = policy.generate([policy.render(p, suffix) for p in probs], 1,
                                   Sampling(temperature=0, max_new_tokens=160))
            row[mode] = sum(task.verify(suffix + o[0].text, p) for o, p in zip(outs, probs)) / n
            if mode == "free":
                row["think_rate"] = sum(o[0].text.startswith("<think>") for o in outs) / n
        rows[d] = row
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="evaluate this model instead of warm-starting a fresh one")
    ap.add_argument("--steps", type=int, help="sft --steps (default: SFTConfig's)")
    ap.add_argument("--threads", type=int, default=0, help="sft --threads")
    ap.add_argument("-n", type=int, default=100, help="problems per level")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model = args.model
    if not model:
        from ponder.policy.tiny import init_tiny
        from ponder.runs import RunDir
        from ponder.sft import SFTConfig
        from ponder.sft import run as sft_run

        root = Path(tempfile.mkdtemp(prefix="warmstart-"))
        cfg = SFTConfig(model=str(init_tiny(root / "init")), out=str(root / "run"), threads=args.threads,
                        **({"steps": args.steps} if args.steps else {}))
        wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        model = str(sft_run(cfg, RunDir.open("sft", cfg.out, cfg)))
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        print(f"sft: {cfg.steps} steps, wall {time.perf_counter() - wall:.0f} s, CPU "
              f"{cpu_after.ru_utime - cpu.ru_utime + cpu_after.ru_stime - cpu.ru_stime:.0f} s -> {model}")
    rows = evaluate(model, args.n, (1, 2, 3, 4, 5))
    print(f"{'level':<6}{'free':>8}{'think%':>8}{'<think>':>9}{'<answer>':>10}")
    for d, r in rows.items():
        print(f"d{d:<5}{r['free']:>8.2f}{r['think_rate']:>8.2f}{r['think']:>9.2f}{r['answer']:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
