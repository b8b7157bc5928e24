"""Evaluation on the four axes (skills, calibration, strategy, abstraction) with cost.

The stage (`ponder eval`):

    from ponder.eval import EvalConfig, check, run
    cfg = EvalConfig(model="runs/sft-a/model", tasks=("arith",), levels=(1, 2, 3), n=4, out="runs/eval-a")
    check(cfg)                                            # PonderError before anything is written
    metrics = run(cfg, RunDir.open("eval", cfg.out, cfg))  # samples, metrics.json, report.html

The pieces, for an already loaded policy and no run directory:

    rows, metrics = evaluate(policy, make_problems(cfg), cfg)
    summarize(rows)  # {'accuracy', 'by_difficulty': {d: {'accuracy', 'think_rate', 'mean_tokens', 'n'}}}

docs/eval.md defines every metric.
"""

from ponder.eval.aggregate import compute_metrics, summarize
from ponder.eval.config import EvalConfig
from ponder.eval.runner import evaluate, make_problems, make_row, run_batches
from ponder.eval.stage import check, load, run
from ponder.eval.strategies import STRATEGIES, score_strategies

__all__ = ["EvalConfig", "STRATEGIES", "check", "compute_metrics", "evaluate", "load", "make_problems", "make_row",
           "run", "run_batches", "score_strategies", "summarize"]
