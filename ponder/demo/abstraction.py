"""`ponder demo --axis abstraction`: decompose into parallel sub-calls where it pays, trained end to end.

    ponder demo --axis abstraction --out runs/demo-abs

Stages (each through its stage's `check` / `run`, in a sub-directory of the run):

    1. sft/       the tiny model warm-started on `chains` traces that either solve serially or spawn
                  the chains as sub-calls, at random (uncalibrated; injected results are masked)
    2. baseline/  `ponder eval` with the orchestrator: every held-out problem solved greedily as a
                  multi-turn rollout with the model's own sub-calls, and forced serial (`<think>`)
    3. train/     RL through the sub-call tree (the `abstraction` preset: correct, plus a bonus for a
                  correct answer without sub-calls, in groups half forced to spawn, half to solve serially)
    4. trained/   the same evaluation; report.html compares the two, summary.json holds the claims

summary.json: `baseline` / `trained`, each with `accuracy` (orchestrated: the model decides) and
`by_difficulty` {level: accuracy, decompose_rate, critical_path_tokens, serial_tokens (the same
model forced serial), serial_accuracy, wall_s (orchestrated, per problem), serial_wall_s}; and
`claims`, each {value, threshold, holds}, from the held-out evaluations; `warm_start_probe`
{serial_easiest, join_hardest, sub_hardest, spawned_hardest}: the warm start's two skills the claims
need (ponder/demo/abstraction_probe.py), on problems apart from the held-out ones. docs/abstraction.md
records what the claims measured.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from ponder.demo.claims import at_least, at_most
from ponder.demo.config import DemoConfig, sft_threads
from ponder.demo.pipeline import Configs, check_axis, run_axis
from ponder.demo.pipeline import num as _num

TASK = "chains"
LEVELS = (1, 2, 3, 4, 5)
SFT_STEPS = 1200  # the warm start's steps (--sft-steps overrides)
# the two warm-start skills the claims at the ends of the range need are copies that form late and
# follow their level's weight: level 1's serial trace (copy the second chain's start digit; weight 5)
# and level 5's join (copy five results into the answer; weight 8). At 1800 steps weighted 1,1,1,2,2
# seed 1 had neither; at 1200 steps weighted 5,1,1,3,8 seeds 0 and 1 have both (docs/abstraction.md,
# runs 11 and 13-16; the warm-start probe measures them)
SFT_LEVEL_WEIGHTS = (5.0, 1.0, 1.0, 3.0, 8.0)
SFT_TASKS = (TASK,)
# a third sub-call traces, a third one chain as a child's example, a third serial traces: on a
# problem of several chains the warm start spawns or solves serially half and half, at every level
SUBCALL_PROB = 1 / 3
EVAL_PER_LEVEL = 12  # held-out problems per level when --eval-per-level is 0 (each solved twice, greedily, alone)
# per turn and per rollout, both runs (equal context, as APR compares): the serial traces of levels
# 1-3 fit (~26-85 tokens), those of levels 4-5 (~145-190) do not; a chain's sub-call (<= 45) and the
# parent with its results (<= 49) do
EVAL_MAX_NEW_TOKENS = 128


def stage_configs(cfg: DemoConfig, root: Path) -> Configs:
    from ponder.eval import EvalConfig
    from ponder.rl.presets import ABSTRACTION
    from ponder.sft import SFTConfig

    scale = 2 if cfg.long else 1
    sft_model = str(root / "sft" / "model")
    scfg = SFTConfig(model=str(root / "init"), tasks=SFT_TASKS, levels=LEVELS, level_weights=SFT_LEVEL_WEIGHTS,
                     subcall_prob=SUBCALL_PROB, think_prob=1.0, out=str(root / "sft"), seed=cfg.seed,
                     steps=cfg.sft_steps or SFT_STEPS * scale, threads=sft_threads(cfg))

    def eval_cfg(model: str, name: str) -> EvalConfig:
        return EvalConfig(model=model, tasks=(TASK,), levels=LEVELS, n=1, per_level=cfg.eval_per_level or EVAL_PER_LEVEL,
                          temperature=cfg.eval_temperature, max_new_tokens=EVAL_MAX_NEW_TOKENS, seed=cfg.seed,
                          out=str(root / name), orchestrate=True)

    tcfg = dataclasses.replace(ABSTRACTION, model=sft_model, steps=cfg.rl_steps or ABSTRACTION.steps * scale,
                               seed=cfg.seed, threads=cfg.threads, out=str(root / "train"))
    return Configs(scfg, eval_cfg(sft_model, "baseline"), tcfg, eval_cfg(str(root / "train" / "model"), "trained"))


TITLES = (f"1/4 warm-start the tiny model on {TASK}: serial or sub-calls, at random",
          "2/4 evaluate the baseline (orchestrated and forced serial)", "3/4 RL through the sub-call tree",
          "4/4 evaluate the trained policy and compare")


def check(cfg: DemoConfig) -> None:
    check_axis(cfg, stage_configs)


def run(cfg: DemoConfig, run_dir, *, progress: bool = True) -> dict:
    return run_axis(cfg, run_dir, sys.modules[__name__], progress=progress, extra=warm_start_probe)


def warm_start_probe(c: Configs) -> dict:
    """{"warm_start_probe": ...}: the warm start's forced-serial accuracy at level 1 and its level-5
    join (`ponder.demo.abstraction_probe`, on problems apart from the held-out ones; seconds): the
    two skills the claims at the ends of the range need of it, recorded so a missed claim can be
    traced to the warm start or to RL."""
    import torch

    from ponder.demo import abstraction_probe as P
    from ponder.policy import load_policy

    if c.train.threads:  # it samples: the RL stage's threads, not the warm start's
        torch.set_num_threads(c.train.threads)
    policy = load_policy(str(Path(c.sft.out) / "model"), "hf")
    return {"warm_start_probe": P.probe(policy, TASK, easiest=LEVELS[0], hardest=LEVELS[-1], per_level=P.PROBE_PER_LEVEL,
                                        max_new_tokens=EVAL_MAX_NEW_TOKENS)}


def summary_of(eval_run: str | Path) -> dict:
    """The orchestrated view of an eval run (its metrics.json): accuracy and the per-level numbers."""
    m = json.loads((Path(eval_run) / "metrics.json").read_text())["abstraction"][TASK]
    keys = ("accuracy", "decompose_rate", "critical_path_tokens", "serial_tokens", "serial_accuracy", "wall_s",
            "serial_wall_s", "sub_accuracy", "tokens")
    return {"accuracy": m["orchestrated"]["accuracy"], "serial_accuracy": m["orchestrated"]["serial_accuracy"],
            "by_difficulty": {d: {k: x.get(k) for k in keys} for d, x in m["by_difficulty"].items()}}



def check_claims(baseline: dict, trained: dict) -> dict:
    """The abstraction claims on the held-out evaluations, each with its value, threshold and verdict."""
    lo, hi = str(LEVELS[0]), str(LEVELS[-1])
    t = trained["by_difficulty"]
    gain = _num(t[hi]["accuracy"]) - _num(t[hi]["serial_accuracy"])
    path = _num(t[hi]["critical_path_tokens"]) / _num(t[hi]["serial_tokens"]) if t[hi]["serial_tokens"] else float("nan")
    return {
        "decompose_rate_hardest_at_least_0.8": at_least(_num(t[hi]["decompose_rate"]), 0.8),
        "decompose_rate_easiest_at_most_0.3": at_most(_num(t[lo]["decompose_rate"]), 0.3),
        "accuracy_hardest_gain_over_serial_at_least_0.15": at_least(gain, 0.15),
        "critical_path_hardest_at_most_0.6_of_serial": at_most(path, 0.6),
        "accuracy_at_least_baseline": at_least(_num(trained["accuracy"]), _num(baseline["accuracy"])),
    }


def print_summary(summary: dict, run) -> None:
    b, t = summary["baseline"], summary["trained"]
    print(f"\n{'level':>5} | {'decompose':^13} | {'accuracy':^13} | {'serial acc':^13} | {'crit.path/serial tok':^21} | {'wall s':^13}")
    for d in b["by_difficulty"]:
        x, y = b["by_difficulty"][d], t["by_difficulty"][d]
        print(f"{d:>5} | {_num(x['decompose_rate']):>6.2f}{_num(y['decompose_rate']):>7.2f} | "
              f"{_num(x['accuracy']):>6.2f}{_num(y['accuracy']):>7.2f} | {_num(x['serial_accuracy']):>6.2f}"
              f"{_num(y['serial_accuracy']):>7.2f} | {_num(x['critical_path_tokens']):>5.0f}/{_num(x['serial_tokens']):<4.0f}"
              f"{_num(y['critical_path_tokens']):>6.0f}/{_num(y['serial_tokens']):<4.0f} | {_num(x['wall_s']):>6.2f}{_num(y['wall_s']):>7.2f}")
    print(f"  (each pair: baseline, trained)  accuracy overall {_num(b['accuracy']):.3f} -> {_num(t['accuracy']):.3f}")
    if "warm_start_probe" in summary:
        p = summary["warm_start_probe"]
        print(f"  warm start (probe): forced-serial accuracy at level {LEVELS[0]} {_num(p['serial_easiest']):.2f}, "
              f"forced-spawn accuracy at level {LEVELS[-1]} {_num(p['join_hardest']):.2f} (its children "
              f"{_num(p['sub_hardest']):.2f})")
    for name, c in summary["claims"].items():
        print(f"  [{'ok' if c['holds'] else 'MISSED'}] {name}: {c['value']:.3f} (threshold {c['threshold']:.3f})")
    print(f"total {summary['seconds']['total'] / 60:.1f} min; run directory: {run}  "
          f"(report: {run}/report.html, summary: {run}/summary.json)")
