"""Metrics on the four axes (skills, calibration, strategy, abstraction) plus cost.

Every metric is a pure function over plain values or per-sample row dicts, tested against
hand-derived numbers in tests/test_metrics.py; docs/eval.md defines each one.
"""

from ponder.metrics.abstraction import decomposition_metrics, orchestration_by_difficulty, orchestration_metrics
from ponder.metrics.calibration import (accuracy_under_budget, auc_oaa, determined_at, effort_by_difficulty,
                                        effort_correlations, needed_tokens, outcome_efficiency,
                                        over_under_thinking, spearman)
from ponder.metrics.cost import cost_metrics, inference_flops
from ponder.metrics.skills import (accuracy_table, best_of_n_index, maj_at_k, majority_vote, pass_and_maj_curves,
                                   pass_at_k, wilson_interval)
from ponder.metrics.strategy import plan_metrics, plan_metrics_by_difficulty

__all__ = [
    "accuracy_table", "accuracy_under_budget", "auc_oaa", "best_of_n_index", "cost_metrics",
    "decomposition_metrics", "determined_at", "effort_by_difficulty", "effort_correlations",
    "inference_flops", "maj_at_k", "majority_vote", "needed_tokens", "orchestration_by_difficulty", "orchestration_metrics",
    "outcome_efficiency", "over_under_thinking", "pass_and_maj_curves", "pass_at_k", "plan_metrics",
    "plan_metrics_by_difficulty", "spearman", "wilson_interval",
]
