"""Where one `ponder train` step of the trainer bench goes: each phase timed by wrapping the loop's
functions (sampling, scoring, batch tensors, the update), medians over steps 2.. (step 1 starts the
verifier pool).

    .venv/bin/python bench/step_phases.py --threads 1                 # fresh tiny model, bench setting
    .venv/bin/python bench/step_phases.py --threads 1 --model <dir> --micro-batch-size 16   # TrainConfig's default

Same setting as bench/trainer_vs_trl.py: 8 `arith` prompts x 8 completions, <= 32 new tokens, GRPO,
one epoch, no KL. Relative numbers: the phases of one run, on one machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--micro-batch-size", type=int, default=64,
                    help="rows per forward/backward (64, as bench/trainer_vs_trl.py; TrainConfig's default is 16)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    import ponder.rl.rollout as ro
    import ponder.rl.trainer as tr
    from ponder.rl import TrainConfig, check
    from ponder.rl import run as train
    from ponder.runs import RunDir
    from trainer_vs_trl import problems_file

    times: dict[str, list[float]] = defaultdict(list)

    def timed(mod, name, key):
        fn = getattr(mod, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                times[key].append(time.perf_counter() - t)

        setattr(mod, name, wrapper)

    timed(ro, "rollout", "sampling")
    timed(ro, "score", "scoring")
    timed(tr, "build_tensors", "batch tensors")
    timed(tr, "step", "update")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        model = args.model
        if model is None:
            from ponder.policy.tiny import init_tiny

            model = str(init_tiny(out / "tiny"))
        _, path = problems_file(out)
        extra = {} if args.micro_batch_size is None else {"micro_batch_size": args.micro_batch_size}
        cfg = TrainConfig(model=model, problems=str(path), reward="correct:1", steps=args.steps, prompts_per_step=8,
                          group_size=8, max_new_tokens=args.max_new_tokens, temperature=1.0, loss="grpo", lr=1e-5,
                          beta=0.0, save_every=0, seed=0, out=str(out / "run"), **extra)
        check(cfg)
        run = RunDir.open("train", cfg.out, cfg)
        train(cfg, run, progress=False)
        steps = [r["step_time_s"] for r in run.metrics()]
    med = {k: statistics.median(v[1:]) for k, v in times.items()}
    total = statistics.median(steps[1:])
    print(f"threads {torch.get_num_threads()}, model {args.model or 'fresh tiny'}, steps 2..{len(steps)}")
    for k, v in med.items():
        print(f"{k:<16}{v:>8.3f} s {100 * v / total:>5.0f}%")
    rest = total - sum(med.values())
    print(f"{'other':<16}{rest:>8.3f} s {100 * rest / total:>5.0f}%")
    print(f"{'step':<16}{total:>8.3f} s")


if __name__ == "__main__":
    main()
