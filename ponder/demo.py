"""`ponder demo`: the talk's calibration claim, reproduced on the tiny default in one command.

    ponder demo                      # ~6 minutes on 2 CPU cores (at most 15); prints the run directory
    ponder demo --out runs/demo-a --long

Stages (each writes its own sub-directory of the run, and shows a progress bar):

    1. sft/       build the tiny Llama + character tokenizer, warm-start it on oracle traces
                  that think (3 in 4) or answer directly at random (so it starts *uncalibrated*)
    2. baseline/  evaluate it on a held-out arith set (eval seed apart from training seeds)
    3. curate/    estimate pass rates adaptively; keep the problems it can learn from
    4. train/     RL (the `calibration` preset: correctness + a bonus for correct direct answers)
    5. trained/   evaluate again; report.html compares the two, summary.json holds the claim

summary.json has, for `baseline` and `trained`, overall `accuracy` and per difficulty
`think_rate`, `mean_tokens` and `accuracy`, plus `claims` (each check with its threshold and
whether it held), stage timings and the compute ledger.

Curation window: the effort-aware reward still separates samples of a problem the policy always
solves (shorter correct answers score higher), so those problems carry signal; the demo's window
only drops the problems the policy never solves ([0.05, 1.0]), where pass-rate-only RL would use
the usual [0.1, 0.9].
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ponder.errors import PonderError

TASK = "arith"
LEVELS = (1, 2, 3, 4, 5)


@dataclass
class DemoConfig:
    out: str | None = field(default=None, metadata={"help": "run directory (default runs/demo-<time>)"})
    seed: int = field(default=0, metadata={"help": "seed of every stage"})
    size: str = field(default="tiny", metadata={"help": "model size: tiny or small"})
    sft_steps: int = field(default=0, metadata={"help": "warm-start steps (0: the tuned default, longer with --long)"})
    rl_steps: int = field(default=0, metadata={"help": "RL steps (0: the calibration preset's, longer with --long)"})
    eval_per_level: int = field(default=50, metadata={"help": "held-out problems per difficulty level"})
    eval_n: int = field(default=2, metadata={"help": "samples per evaluation problem"})
    eval_temperature: float = field(default=1.0, metadata={"help": "evaluation sampling temperature (1.0: the policy itself)"})
    curate_pool: int = field(default=1000, metadata={"help": "problems in the curation pool (RL draws 2000 prompts; "
                                                       "a small pool is memorised instead of learnt)"})
    window: tuple[float, ...] = field(default=(0.05, 1.0), metadata={"help": "curation pass-rate window LOW,HIGH (see the module docstring)", "metavar": "LOW,HIGH"})
    long: bool = field(default=False, metadata={"help": "the longer version: twice the warm start and RL steps"})
    threads: int = field(default=1, metadata={"help": "torch CPU threads; the tiny model's small matrix products run faster on one thread than on two (0: torch's default)"})

    def __post_init__(self):
        if self.size not in ("tiny", "small"):
            raise PonderError(f"--size must be tiny or small, got {self.size!r}")
        for name in ("eval_per_level", "eval_n", "curate_pool"):
            if getattr(self, name) < 1:
                raise PonderError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.sft_steps < 0 or self.rl_steps < 0:
            raise PonderError("--sft-steps and --rl-steps must be >= 0")


def _stage(name: str) -> None:
    print(f"\n== {name}", file=sys.stderr, flush=True)


def _eval(policy, model_dir: Path, out: Path, cfg: DemoConfig):
    from ponder.commands.eval import execute
    from ponder.eval.config import EvalConfig
    from ponder.eval.runner import make_problems
    from ponder.runs import RunDir

    ecfg = EvalConfig(model=str(model_dir), tasks=(TASK,), difficulties=LEVELS, n=cfg.eval_n,
                      per_level=cfg.eval_per_level, temperature=cfg.eval_temperature, max_new_tokens=128,
                      seed=cfg.seed, out=str(out), orchestrate=False)
    run = RunDir.create("eval", out)
    run.write_config(ecfg)
    execute(run, policy, make_problems(ecfg), ecfg)
    return run


def summary_of(eval_run: Path) -> dict:
    from ponder.eval.aggregate import summarize
    from ponder.runs import read_parquet

    s = summarize(read_parquet(Path(eval_run) / "samples.parquet"))
    return {"accuracy": s["accuracy"], "n": s["n"],
            "by_difficulty": {str(d): v for d, v in s["by_difficulty"].items()}}


def check_claims(baseline: dict, trained: dict) -> dict:
    """The demo's claims (issue 7), each with its measured value, threshold and verdict."""
    lo, hi = str(LEVELS[0]), str(LEVELS[-1])
    tb, bb = trained["by_difficulty"], baseline["by_difficulty"]
    claims = {
        "think_rate_easiest_at_most_0.25": (tb[lo]["think_rate"], 0.25, tb[lo]["think_rate"] <= 0.25),
        "think_rate_hardest_at_least_0.75": (tb[hi]["think_rate"], 0.75, tb[hi]["think_rate"] >= 0.75),
        "tokens_easiest_at_most_half_baseline": (tb[lo]["mean_tokens"], bb[lo]["mean_tokens"] / 2,
                                                 tb[lo]["mean_tokens"] <= bb[lo]["mean_tokens"] / 2),
        "accuracy_at_least_baseline_minus_1pt": (trained["accuracy"], baseline["accuracy"] - 0.01,
                                                 trained["accuracy"] >= baseline["accuracy"] - 0.01),
    }
    return {k: {"value": v, "threshold": t, "holds": bool(ok)} for k, (v, t, ok) in claims.items()}


def run_demo(cfg: DemoConfig) -> Path:
    import torch

    from ponder.commands.curate import execute as curate_execute
    from ponder.curate.runner import CurateConfig, build_pool
    from ponder.policy import load_policy
    from ponder.ledger import read_meta
    from ponder.policy.tiny import init_tiny
    from ponder.report.compare import write_compare
    from ponder.rl.presets import CALIBRATION
    from ponder.rl.trainer import train
    from ponder.runs import RunDir, write_json
    from ponder.sft import SFTConfig
    from ponder.sft import train as sft_train

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = RunDir.create("demo", cfg.out)
    if any(run.path.iterdir()):
        raise PonderError(f"{run} already exists and is not empty; choose another --out")
    run.write_config(cfg)
    print(f"ponder demo: run directory {run}", file=sys.stderr)
    scale = 2 if cfg.long else 1
    times: dict[str, float] = {}
    t_all = time.perf_counter()

    _stage("1/5 build the tiny model and warm-start it (uncalibrated: thinks at random)")
    t = time.perf_counter()
    init_dir = init_tiny(run / "init", size=cfg.size, seed=cfg.seed)
    base = SFTConfig()
    scfg = dataclasses.replace(base, model=str(init_dir), tasks=(TASK,), out=str(run / "sft"), seed=cfg.seed,
                               steps=cfg.sft_steps or base.steps * scale, threads=cfg.threads)
    sft_run = RunDir.create("sft", run / "sft")
    sft_run.write_config(scfg)
    sft_model = sft_train(scfg, sft_run)
    times["warm_start"] = time.perf_counter() - t

    _stage("2/5 evaluate the warm-started baseline")
    t = time.perf_counter()
    policy = load_policy(str(sft_model), backend="hf")
    baseline_run = _eval(policy, sft_model, run / "baseline", cfg)
    times["baseline_eval"] = time.perf_counter() - t

    _stage("3/5 curate a learnable pool")
    t = time.perf_counter()
    ccfg = CurateConfig(model=str(sft_model), tasks=(TASK,), difficulties=LEVELS, pool=cfg.curate_pool,
                        seed=cfg.seed + 7, window=cfg.window, max_new_tokens=CALIBRATION.max_new_tokens,
                        out=str(run / "curate"))
    curate_run = RunDir.create("curate", run / "curate")
    curate_run.write_config(ccfg)
    curate_execute(curate_run, policy, build_pool(ccfg), ccfg)
    if not (curate_run / "curated.jsonl").read_text().strip():
        raise PonderError(f"curation kept no problems (see {curate_run}/report.html): the warm start is too weak; "
                          "raise --sft-steps")
    del policy
    times["curate"] = time.perf_counter() - t

    _stage("4/5 RL with correctness + an effort-aware reward")
    t = time.perf_counter()
    tcfg = dataclasses.replace(CALIBRATION, model=str(sft_model), problems=str(curate_run / "curated.parquet"),
                               steps=cfg.rl_steps or CALIBRATION.steps * scale, seed=cfg.seed, threads=cfg.threads)
    train_run = train(tcfg, out=str(run / "train"))
    trained_model = Path(train_run.path) / "model"
    times["rl"] = time.perf_counter() - t

    _stage("5/5 evaluate the trained policy and compare")
    t = time.perf_counter()
    trained_run = _eval(load_policy(str(trained_model), backend="hf"), trained_model, run / "trained", cfg)
    write_compare(baseline_run.path, trained_run.path, run / "report.html", ("baseline", "trained"))
    times["trained_eval"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t_all

    baseline, trained = summary_of(baseline_run.path), summary_of(trained_run.path)
    summary = {"baseline": baseline, "trained": trained, "claims": check_claims(baseline, trained),
               "seconds": {k: round(v, 1) for k, v in times.items()},
               "ledger": read_meta(trained_model).get("flops", {}), "config": dataclasses.asdict(cfg)}
    write_json(run / "summary.json", summary)
    print_summary(summary, run)
    return run.path


def print_summary(summary: dict, run) -> None:
    b, t = summary["baseline"], summary["trained"]
    print(f"\n{'level':>5} | {'think-rate':^15} | {'mean tokens':^15} | {'accuracy':^15}")
    print(f"{'':>5} | {'base':>7} {'RL':>7} | {'base':>7} {'RL':>7} | {'base':>7} {'RL':>7}")
    for d in b["by_difficulty"]:
        x, y = b["by_difficulty"][d], t["by_difficulty"][d]
        print(f"{d:>5} | {x['think_rate']:>7.2f} {y['think_rate']:>7.2f} | {x['mean_tokens']:>7.1f} "
              f"{y['mean_tokens']:>7.1f} | {x['accuracy']:>7.3f} {y['accuracy']:>7.3f}")
    print(f"{'all':>5} | {'':>15} | {'':>15} | {b['accuracy']:>7.3f} {t['accuracy']:>7.3f}")
    for name, c in summary["claims"].items():
        print(f"  [{'ok' if c['holds'] else 'MISSED'}] {name}: {c['value']:.3f} (threshold {c['threshold']:.3f})")
    print(f"total {summary['seconds']['total'] / 60:.1f} min; run directory: {run}  "
          f"(report: {run}/report.html, summary: {run}/summary.json)")
