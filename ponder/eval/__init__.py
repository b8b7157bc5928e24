"""Evaluation on the four axes (skills, calibration, strategy, abstraction) with cost.

    from ponder.eval import EvalConfig, evaluate, make_problems, summarize
    cfg = EvalConfig(tasks=("arith",), difficulties=(1, 2, 3), n=4, per_level=8)
    rows, metrics = evaluate(policy, make_problems(cfg), cfg)   # policy already loaded
    summarize(rows)  # {'accuracy', 'by_difficulty': {d: {'accuracy', 'think_rate', 'mean_tokens', 'n'}}}

`ponder eval` (ponder/commands/eval.py) wraps this with a run directory, resume and the report.
docs/eval.md defines every metric.
"""

from ponder.eval.aggregate import compute_metrics, summarize
from ponder.eval.config import EvalConfig
from ponder.eval.runner import evaluate, make_problems, make_row, run_batches
from ponder.eval.strategies import STRATEGIES, score_strategies

__all__ = ["EvalConfig", "STRATEGIES", "compute_metrics", "evaluate", "make_problems", "make_row", "run_batches",
           "score_strategies", "summarize"]
