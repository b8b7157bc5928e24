"""ponder's trainer vs TRL's GRPOTrainer: same model, prompts, reward and batch, timed side by side.

    python3 -m venv .venv-trl && .venv-trl/bin/pip install torch==2.13.0 \
        && .venv-trl/bin/pip install trl 'transformers<5.20' && .venv-trl/bin/pip install -e .
    .venv-trl/bin/python bench/trainer_vs_trl.py --model runs/sft-x/model      # or no --model: a fresh tiny model
    .venv-trl/bin/python bench/trainer_vs_trl.py --model models/smollm2 --lora-rank 8 --max-new-tokens 64   # docs/real.md

Setting: 8 prompts x 8 completions, at most 32 new tokens (--max-new-tokens), 10 steps, one optimisation
epoch, no KL, GRPO loss, the same 8 `arith` prompts every step, reward = ponder's correctness
(TRL gets it through `ponder.rewards.adapters.trl_reward`, so both grade identically). Both compute the update's 64
rows in one forward/backward (TRL: per_device_train_batch_size=64; ponder: --micro-batch-size 64, which TrainConfig
would otherwise cut in four micro-batches of 16). --also-slow adds ponder with its
fast paths off (`ponder.policy.hf.LEAN`, `ponder.rl.update.FAST_PATH`,
`SKIP_IDLE_ROWS`), to show what they bring. Both run
in this one process on the same torch threads, ponder first. Step time = wall time of one
optimizer step including generation, scoring and the update (TRL: on_step_begin -> on_step_end;
ponder: `step_time_s`); the process's CPU time over the same spans is printed beside it (steadier than
the wall clock on a machine other jobs share; at 2 threads it also counts the threads' spinning). Floor: ponder's median step time <= half of TRL's. With --lora-rank R
both train a rank-R LoRA adapter (peft, alpha 16, all linear layers) on the same base model.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def problems_file(out: Path):
    from ponder.runs import write_problems
    from ponder.tasks import get_task

    task = get_task("arith")
    problems = [task.generate(2024, i, 1 + i % 2) for i in range(8)]  # levels 1-2: learnable, mixed reward
    write_problems(out / "prompts.jsonl", problems)
    return problems, out / "prompts.jsonl"


def run_ponder(model: str, path: Path, args, out: Path, fast: bool = True) -> dict:
    import ponder.policy.hf
    import ponder.rl.trainer
    import ponder.rl.update
    from ponder.rl import TrainConfig, check
    from ponder.rl import run as train
    from ponder.runs import RunDir

    ponder.policy.hf.LEAN = ponder.rl.update.FAST_PATH = ponder.rl.update.SKIP_IDLE_ROWS = fast
    cpu: list[float] = []
    inner = ponder.rl.trainer.train_step

    def timed_step(*a, **k):  # the process's CPU time over the step `step_time_s` times by the wall clock
        t = time.process_time()
        try:
            return inner(*a, **k)
        finally:
            cpu.append(time.process_time() - t)

    cfg = TrainConfig(model=model, problems=str(path), reward="correct:1", steps=args.steps, prompts_per_step=8,
                      group_size=8, max_new_tokens=args.max_new_tokens, temperature=1.0, loss="grpo", lr=args.lr,
                      beta=0.0, lora_rank=args.lora_rank, save_every=0, seed=0, out=str(out / "ponder"),
                      micro_batch_size=args.micro_batch_size)
    check(cfg)
    t0 = time.perf_counter()
    run = RunDir.open("train", cfg.out, cfg)
    ponder.rl.trainer.train_step = timed_step
    try:
        train(cfg, run, progress=False)
    finally:
        ponder.rl.trainer.train_step = inner
    wall = time.perf_counter() - t0
    rows = run.metrics()
    return {"step_s": [r["step_time_s"] for r in rows], "cpu_s": cpu, "wall_s": wall,
            "gen_tokens": sum(r["len_mean"] * 64 for r in rows), "reward": [r["reward_mean"] for r in rows]}


def run_trl(model: str, problems, args, out: Path) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from ponder.policy import render_prompt
    from ponder.rewards.adapters import trl_reward

    tok = AutoTokenizer.from_pretrained(model)
    rows = [{"prompt": render_prompt(tok, p), "id": p.id, "task": p.task, "answer": p.answer,
             "difficulty": p.difficulty, "meta": "{}"} for p in problems]
    data = Dataset.from_list(rows * (args.steps + 1))  # one pass of 8 prompts per step, in order
    times: list[float] = []
    cpu: list[float] = []
    rewards: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_step_end(self, a, state, control, **kw):
            times.append(time.perf_counter() - self.t)
            cpu.append(time.process_time() - self.c)

        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "reward" in logs:
                rewards.append(logs["reward"])

    cfg = GRPOConfig(output_dir=str(out / "trl"), per_device_train_batch_size=64, gradient_accumulation_steps=1,
                     num_generations=8, max_completion_length=args.max_new_tokens, max_steps=args.steps,
                     learning_rate=args.lr,
                     beta=0.0, loss_type="grpo", num_iterations=1, temperature=1.0, logging_steps=1,
                     report_to="none", save_strategy="no", use_cpu=True, bf16=False, seed=0, shuffle_dataset=False,
                     dataloader_num_workers=0)
    peft_config = None
    if args.lora_rank:
        from peft import LoraConfig

        peft_config = LoraConfig(r=args.lora_rank, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0,
                                 task_type="CAUSAL_LM")
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(model), processing_class=tok,
                          reward_funcs=[trl_reward("correct:1")], args=cfg, train_dataset=data, callbacks=[Timer()],
                          peft_config=peft_config)
    t0 = time.perf_counter()
    trainer.train()
    return {"step_s": times, "cpu_s": cpu, "wall_s": time.perf_counter() - t0, "reward": rewards}


def _merge(rs: list[dict]) -> dict:
    return {"step_s": [x for r in rs for x in r["step_s"]], "cpu_s": [x for r in rs for x in r["cpu_s"]],
            "wall_s": sum(r["wall_s"] for r in rs) / len(rs),
            "reward": rs[0]["reward"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model dir (default: a freshly initialised tiny model)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each trainer, in ABBA order (2: ponder, trl, trl, ponder)")
    ap.add_argument("--max-new-tokens", type=int, default=32, help="completion length limit of both trainers")
    ap.add_argument("--lora-rank", type=int, default=0, help="train a LoRA adapter of this rank in both (0: all weights)")
    ap.add_argument("--micro-batch-size", type=int, default=64,
                    help="ponder's rows per forward/backward; 64 = TRL's per_device_train_batch_size here, so both "
                         "hold the same rows in memory at once (TrainConfig's default is 16)")
    ap.add_argument("--also-slow", action="store_true",
                    help="also time ponder without its lean forward (transformers' forward for sampling and the "
                         "update: the code before the fast paths), as a third row")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        model = args.model
        if model is None:
            from ponder.policy.tiny import init_tiny

            model = str(init_tiny(out / "tiny"))
        problems, path = problems_file(out)
        # ABBA order (ponder, trl, trl, ponder, ...) so a drift in machine load hits both alike
        runs: dict[str, list[dict]] = {"ponder": [], "trl": [], "ponder-slow": []}
        order = ["ponder", "trl", "trl", "ponder"] * ((args.rounds + 1) // 2)
        order = order[: 2 * args.rounds]
        if args.also_slow:
            order = [x for name in order for x in ([name, "ponder-slow"] if name == "trl" else [name])]
        for i, name in enumerate(order):
            sub = out / f"r{i}"
            runs[name].append(run_trl(model, problems, args, sub) if name == "trl" else
                              run_ponder(model, path, args, sub, fast=name == "ponder"))
        ponder, trl = (_merge(runs[k]) for k in ("ponder", "trl"))
        slow = _merge(runs["ponder-slow"]) if runs["ponder-slow"] else None
    pm, tm = statistics.median(ponder["step_s"]), statistics.median(trl["step_s"])
    print(f"\nsetting: 8 prompts x 8 completions, <= {args.max_new_tokens} new tokens, {args.steps} steps, "
          f"LoRA rank {args.lora_rank or 'none'}, torch threads "
          f"{torch.get_num_threads()}, model {args.model or 'fresh tiny'}, {args.rounds} run(s) each, wall = per run")
    print(f"{'':<12}{'median step s':>14}{'mean step s':>13}{'median CPU s':>14}{'wall s':>9}{'first reward':>14}"
          f"{'last reward':>13}")
    for name, r in (("ponder", ponder), ("trl", trl), ("ponder-slow", slow)):
        if r is None:
            continue
        rw = r["reward"] or [float("nan")]
        print(f"{name:<12}{statistics.median(r['step_s']):>14.3f}{statistics.mean(r['step_s']):>13.3f}"
              f"{statistics.median(r['cpu_s']):>14.3f}{r['wall_s']:>9.1f}{rw[0]:>14.3f}{rw[-1]:>13.3f}")
    # CPU time of the process over each step: on a machine shared with other jobs it moves less
    # with their load than the wall clock does (informational; the floor is on the wall clock)
    print(f"ponder / trl median step CPU time: {statistics.median(ponder['cpu_s']) / statistics.median(trl['cpu_s']):.2f}")
    print(f"ponder / trl median step time: {pm / tm:.2f} (floor: <= 0.50) -> {'PASS' if pm <= tm / 2 else 'FAIL'}")


if __name__ == "__main__":
    main()
