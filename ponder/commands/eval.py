"""`ponder eval`: score a policy on the four axes and write a run directory with a report.

    ponder eval --model runs/sft-.../model --tasks arith,grid --levels 1-5 -n 4 --out runs/eval-a
    ponder eval --out runs/eval-a --resume          # after a kill: score only what is missing
    ponder eval --model M --mode think --think-budget 8,16,32,64   # accuracy vs think budget
    ponder eval --model models/smollm2 --extract lenient --instruction boxed   # a model without ponder's tags

The pipeline is `ponder.eval` (check, run); see ponder/eval/stage.py for the run directory.
"""

from __future__ import annotations

HELP = "evaluate a policy on skills, calibration, strategy and abstraction; write metrics and report.html"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.eval.config import EvalConfig

    add_config_args(p, EvalConfig)


def run(args) -> int:
    from ponder import eval as stage
    from ponder.config import resolve_config
    from ponder.runs import RunDir

    cfg = resolve_config(stage.EvalConfig, args)
    stage.check(cfg)
    policy = stage.load(cfg)  # a model that does not load: reported before the run directory exists
    run_dir = RunDir.open("eval", cfg.out, cfg, resume=cfg.resume)
    metrics = stage.run(cfg, run_dir, policy=policy)
    _print_summary(metrics, run_dir)
    return 0


def _print_summary(metrics: dict, run_dir) -> None:
    s = metrics["summary"]
    print(f"{'difficulty':>10} {'accuracy':>9} {'think':>6} {'tokens':>7}")
    for d, v in s["by_difficulty"].items():
        print(f"{d:>10} {v['accuracy']:>9.3f} {v['think_rate']:>6.2f} {v['mean_tokens']:>7.1f}")
    sk = metrics["skills"]
    print(f"accuracy {s['accuracy']:.3f} ({sk['strategy']}: {sk['strategy_accuracy']:.3f}) over {s['n']} samples")
    effort = metrics.get("effort") or {}
    for c in effort.get("budget_curve") or []:
        print(f"think budget {c['think_budget']:>5}: accuracy {c['accuracy']:.3f}, {c['mean_tokens']:.1f} tokens "
              f"({c['mean_think_tokens']:.1f} thinking)")
    if effort.get("extract") == "lenient":
        print("answers found by: " + ", ".join(f"{k} {v}" for k, v in (effort.get("extraction") or {}).items()))
    ledger = metrics["cost"].get("ledger")
    if ledger and ledger["flops"]:
        print(f"model ledger {ledger['total_flops']:.3g} FLOPs, post-training share {ledger['post_training_share']:.2%}"
              + ("" if ledger["pretrain_recorded"] else " (no pre-training recorded: pass --pretrain-tokens)"))
    print(f"run directory: {run_dir}  (report: {run_dir}/report.html)")
