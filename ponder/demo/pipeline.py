"""The four-stage pipeline that the abstraction and tools demos share: warm start → baseline eval →
RL → trained eval, each stage checked then run in its own run directory under the demo's, timed,
then report.html comparing the two evaluations.

    def check(cfg): check_axis(cfg, stage_configs)
    def run(cfg, run_dir, *, progress=True): return run_axis(cfg, run_dir, sys.modules[__name__], progress=progress)

An axis module gives `stage_configs(cfg, root) -> Configs`, `TITLES`, `summary_of(eval_run)`,
`check_claims(baseline, trained)` and `print_summary(summary, run_dir)`; `run_axis` runs the
stages (`run_stages`) and writes summary.json: baseline, trained, claims, `extra`, `footer`.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import NamedTuple


class Configs(NamedTuple):
    """The four stage configs of a demo axis (sft, eval, train, eval)."""

    sft: object
    baseline: object
    train: object
    trained: object


def run_stages(cfg, root: Path, c: Configs, titles: tuple[str, str, str, str], *, progress: bool = True) -> dict[str, float]:
    """Run the four stages of `c` into `root` (the tiny model is built first, from cfg.size and
    cfg.seed), write root/report.html; seconds per stage and in total. `titles`: one line per stage."""
    import torch

    from ponder import eval as evaluation
    from ponder import sft
    from ponder.demo.resume import Stages
    from ponder.policy.tiny import init_tiny
    from ponder.report.compare import write_compare
    from ponder.rl import check as train_check
    from ponder.rl import run as train_run

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    times: dict[str, float] = {}
    t_all = time.perf_counter()

    stages = Stages(root, resume=getattr(cfg, "resume", False))  # --resume: skip finished stages

    def warm():
        scfg = stages.prepare(c.sft)
        if not scfg.resume:  # deterministic: a resumed demo rebuilds the same init/
            init_tiny(root / "init", size=cfg.size, seed=cfg.seed)
        sft.check(scfg)
        sft.run(scfg, stages.open("sft", scfg), progress=progress)

    def evaluate(ecfg):
        ecfg = stages.prepare(ecfg)
        evaluation.check(ecfg)
        evaluation.run(ecfg, stages.open("eval", ecfg), progress=progress)

    def train():
        tcfg = stages.prepare(c.train)
        train_check(tcfg)
        train_run(tcfg, stages.open("train", tcfg), progress=progress)

    steps = (("warm_start", warm), ("baseline_eval", lambda: evaluate(c.baseline)), ("rl", train),
             ("trained_eval", lambda: evaluate(c.trained)))
    for title, (key, fn) in zip(titles, steps):
        print(f"\n== {title}", file=sys.stderr, flush=True)
        t = time.perf_counter()
        if not stages.done(key):
            fn()
            stages.mark(key)
        times[key] = time.perf_counter() - t
    write_compare(c.baseline.out, c.trained.out, root / "report.html", ("baseline", "trained"))
    times["total"] = time.perf_counter() - t_all
    return times


def check_axis(cfg, stage_configs) -> None:
    """The demo's up-front checks for a four-stage axis: the run directory, the held-out problems."""
    from ponder.eval import make_problems
    from ponder.runs import check_out

    check_out(cfg.out)
    make_problems(stage_configs(cfg, Path(cfg.out or "runs/demo")).baseline)


def run_axis(cfg, run_dir, axis, *, progress: bool = True, extra=lambda c: {}) -> dict:
    """Run `axis` (module docstring) into run_dir; write and print summary.json and return it.
    `extra(c)`: axis-specific summary fields from its stage configs."""
    from ponder.runs import write_json

    root = run_dir.path
    c = axis.stage_configs(cfg, root)
    times = run_stages(cfg, root, c, axis.TITLES, progress=progress)
    baseline, trained = axis.summary_of(c.baseline.out), axis.summary_of(c.trained.out)
    summary = {"baseline": baseline, "trained": trained, "claims": axis.check_claims(baseline, trained),
               **extra(c), **footer(cfg, c, times)}
    write_json(root / "summary.json", summary)
    axis.print_summary(summary, run_dir)
    return summary


def footer(cfg, c: Configs, times: dict[str, float]) -> dict:
    """The summary's closing fields: seconds per stage, the trained model's compute ledger, the demo config."""
    from ponder.ledger import read_meta

    return {"seconds": {k: round(v, 1) for k, v in times.items()},
            "ledger": read_meta(Path(c.train.out) / "model").get("flops", {}), "config": dataclasses.asdict(cfg)}


def num(x) -> float:
    """x as a float, NaN for a missing metric."""
    return float("nan") if x is None else float(x)
