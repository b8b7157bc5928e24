"""The four-stage pipeline that the abstraction and tools demos share: warm start → baseline eval →
RL → trained eval, each stage checked then run in its own run directory under the demo's, timed,
then report.html comparing the two evaluations.

    c = Configs(sft_cfg, baseline_eval_cfg, train_cfg, trained_eval_cfg)
    times = run_stages(cfg, run_dir.path, c, TITLES, progress=progress)
    summary = {"baseline": ..., "trained": ..., "claims": ..., **footer(cfg, c, times)}
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


def footer(cfg, c: Configs, times: dict[str, float]) -> dict:
    """The summary's closing fields: seconds per stage, the trained model's compute ledger, the demo config."""
    from ponder.ledger import read_meta

    return {"seconds": {k: round(v, 1) for k, v in times.items()},
            "ledger": read_meta(Path(c.train.out) / "model").get("flops", {}), "config": dataclasses.asdict(cfg)}


def num(x) -> float:
    """x as a float, NaN for a missing metric."""
    return float("nan") if x is None else float(x)
