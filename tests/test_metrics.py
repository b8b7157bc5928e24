"""Metrics against values derived by hand (the arithmetic is in the comments)."""

import math

import pytest

from ponder.metrics import (accuracy_under_budget, auc_oaa, best_of_n_index, cost_metrics, decomposition_metrics,
                            determined_at, effort_by_difficulty, effort_correlations, maj_at_k, majority_vote,
                            needed_tokens, orchestration_metrics, outcome_efficiency, over_under_thinking,
                            pass_and_maj_curves, pass_at_k, plan_metrics, plan_metrics_by_difficulty, spearman,
                            wilson_interval)
from ponder.metrics.skills import accuracy_table


# -- skills ------------------------------------------------------------------------------------
def test_pass_at_k_hand_values():
    # C(3,2)/C(5,2) = 3/10 -> 0.7
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    # k=1 is the plain success rate c/n
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # C(2,3) = 0: n - c < k, every subset holds a success
    assert pass_at_k(5, 3, 3) == 1.0
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 4, 4) == 1.0
    # C(6,3)/C(10,3) = 20/120 -> 5/6
    assert pass_at_k(10, 4, 3) == pytest.approx(5 / 6)


def test_pass_at_k_is_stable_for_large_n():
    # math.comb would make 1e300-sized integers; the product form stays in floats and agrees
    n, c, k = 2000, 7, 100
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("args", [(3, 4, 1), (3, 1, 0), (3, 1, 4), (0, 0, 1)])
def test_pass_at_k_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        pass_at_k(*args)


def test_wilson_interval_hand_value():
    # p=.8, z^2=3.8415: centre=(.8+.19207)/1.38415=.71674, half=1.96*sqrt(.016+.0096037)/1.38415=.22658
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.49016, abs=1e-5)
    assert hi == pytest.approx(0.94332, abs=1e-5)
    # all successes: the upper end is exactly 1, the lower end n/(n+z^2)
    lo, hi = wilson_interval(5, 5)
    assert hi == pytest.approx(1.0)
    assert lo == pytest.approx(5 / (5 + 1.959963984540054**2))
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_majority_vote_and_tie_break():
    assert majority_vote(["3", "4", "4", "3", "4"]) == 1  # "4" has 3 votes; first at index 1
    assert majority_vote(["4", "3", "3", "4"]) == 0  # 2-2 tie: the first vote (index 0) wins
    assert majority_vote([None, "3", None]) == 1  # no answer does not vote
    assert majority_vote([None, None]) is None
    assert majority_vote([" 1 2", "12"]) == 0  # whitespace-insensitive


def test_maj_at_k_hand_values():
    answers, correct = ["a", "a", "b"], [True, True, False]
    # k=1: each sample alone -> 2/3
    assert maj_at_k(answers, correct, 1) == pytest.approx(2 / 3)
    # k=2: {a,a}->a, {a,b}->tie, first wins -> a, {a,b}->a : 3/3
    assert maj_at_k(answers, correct, 2) == 1.0
    # order matters only through ties: {b, a} ties and b votes first
    assert maj_at_k(["b", "a"], [False, True], 2) == 0.0
    # unanswered samples: {None, a} -> a right; {None, None} -> nobody voted, wrong
    assert maj_at_k([None, None, "a"], [False, False, True], 2) == pytest.approx(2 / 3)


def test_best_of_n_picks_highest_then_earliest():
    assert best_of_n_index([0.0, 1.0, 0.5, 1.0]) == 1
    assert best_of_n_index([0.0, 0.0]) == 0


def _row(pid, d, correct, think, tokens, pred="x", sample=0, **kw):
    base = {"problem_id": pid, "task": "t", "difficulty": d, "correct": correct, "has_think": think,
            "num_tokens": tokens, "think_tokens": tokens - 3 if think else 0, "answer_tokens": 3,
            "pred": pred, "sample": sample}
    return {**base, **kw}


def test_accuracy_table_and_curves():
    rows = [_row("p1", 1, True, False, 5, "1", 0), _row("p1", 1, False, False, 5, "2", 1),
            _row("p2", 2, False, True, 9, "7", 0), _row("p2", 2, False, True, 9, "7", 1)]
    table = accuracy_table(rows)
    assert [(t["difficulty"], t["accuracy"], t["n"]) for t in table] == [(1, 0.5, 2), (2, 0.0, 2)]
    curves = pass_and_maj_curves(rows)
    # pass@1 = mean(1/2, 0) = .25; pass@2 = mean(1, 0) = .5
    assert curves["pass"] == {1: pytest.approx(0.25), 2: pytest.approx(0.5)}
    # maj@2 on p1: tie between "1" and "2", first ("1", correct) wins -> mean(1, 0)
    assert curves["maj"][2] == pytest.approx(0.5)


# -- calibration -------------------------------------------------------------------------------
def test_spearman_hand_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # x ranks 1,2,3; y = [1,3,2] ranks 1,3,2: d^2 = 0+1+1 = 2 -> 1 - 6*2/(3*8) = 0.5
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    # ties: x=[1,1,2] -> ranks [1.5,1.5,3]; y=[1,2,3]; Pearson of mid-ranks = 0.8660254
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(math.sqrt(3) / 2)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_effort_by_difficulty_and_correlations():
    rows = [_row("a", 1, True, False, 4), _row("a", 1, True, True, 10),
            _row("b", 2, False, True, 20), _row("b", 2, True, True, 30)]
    eff = effort_by_difficulty(rows)
    assert eff[1]["think_rate"] == 0.5 and eff[1]["mean_tokens"] == 7 and eff[1]["accuracy"] == 1.0
    assert eff[2]["think_rate"] == 1.0 and eff[2]["mean_tokens"] == 25 and eff[2]["mean_think_tokens"] == 22
    corr = effort_correlations(rows)
    # difficulty [1,1,2,2] -> ranks [1.5,1.5,3.5,3.5]; tokens ranks [1,2,3,4]: r = 4/sqrt(4*5) = .894427
    assert corr["difficulty_vs_tokens"] == pytest.approx(2 / math.sqrt(5))
    # per problem: failure (0, .5) vs tokens (7, 25): two points, same order -> 1
    assert corr["failure_rate_vs_tokens"] == pytest.approx(1.0)


def test_determined_at_uses_whole_values_and_trace_order():
    think = "3+4=7 7*2=14 check 14"
    # first whole "14" ends at offset 12; "4" inside "14" or "3+4" does not count for gold "4"
    assert determined_at(think, "14") == 12
    assert determined_at("11+3=14", "1") is None
    # gold 7 appears early by coincidence; the trace chain 7 -> 14 -> 7 ends later
    think2 = "2+5=7 7*2=14 14/2=7 again 7"
    assert determined_at(think2, "7") == 5
    assert determined_at(think2, "7", ["7", "14", "7"]) == 19
    # a value is taken where a step produces it ("=9"), not where it is an operand ("0+9")
    assert determined_at("0+9=9; check 9", "9", ["9"]) == 5
    assert determined_at("0+9 is 9", "9") == 3  # no "=": first whole-token appearance
    # a broken chain falls back to the gold's first appearance
    assert determined_at(think2, "7", ["7", "99"]) == 5


def test_needed_tokens_char_level():
    # char-level: think body "1+1=2 so 2" is 10 chars, think_tokens = 12 (two tags);
    # the answer "2" is determined at offset 5, so the tail " so 2" (5 chars) is redundant
    text = "<think>1+1=2 so 2</think><answer>2</answer>"
    total = 1 + 10 + 1 + 1 + 1 + 1  # tags as single tokens
    assert needed_tokens(text, "2", total, 12) == total - 5
    # no think block -> nothing redundant
    assert needed_tokens("<answer>2</answer>", "2", 3, 0) == 3
    # answer never in the trace -> nothing redundant
    assert needed_tokens("<think>hmm</think><answer>2</answer>", "2", 8, 5) == 8


def test_outcome_efficiency_both_normalisations():
    rows = [{"correct": True, "num_tokens": 10, "needed_tokens": 5},
            {"correct": True, "num_tokens": 4, "needed_tokens": 4},
            {"correct": False, "num_tokens": 8, "needed_tokens": 8}]
    eff = outcome_efficiency(rows)
    assert eff["outcome_efficiency"] == pytest.approx(0.75)  # (0.5 + 1) / 2 correct
    assert eff["outcome_efficiency_paper"] == pytest.approx(0.5)  # (0.5 + 1 + 0) / 3


def test_over_and_underthinking_hand_values():
    rows = [
        # p1: solved reliably without thinking (2/2); two think samples spend 12 and 4 tokens vs 5
        _row("p1", 1, True, False, 5), _row("p1", 1, True, False, 5),
        _row("p1", 1, True, True, 12), _row("p1", 1, True, True, 4),
        # p2: without thinking 0/1 right, with thinking 1/1: 1 sample x (1 - 0) lost
        _row("p2", 3, False, False, 5), _row("p2", 3, True, True, 20),
        # p3: think only -> contributes to neither
        _row("p3", 3, True, True, 9),
    ]
    out = over_under_thinking(rows)
    assert out["overthinking_tokens"] == pytest.approx(7 / 7)  # (12-5) + max(0, 4-5) over 7 samples
    assert out["overthinking_share"] == pytest.approx(7 / 60)  # all tokens 5+5+12+4+5+20+9 = 60
    assert out["underthinking"] == pytest.approx(1 / 7)
    assert out["examples"] == [(2, 7.0)]
    assert out["problems_reliable_without_think"] == 1 and out["problems_both_modes"] == 2


def test_auc_oaa_closed_form_matches_riemann_sum():
    correct, tokens, t_max = [True, True, False, True], [0, 50, 10, 120], 100
    # (1 - 0) + (1 - .5) + 0 + max(0, 1 - 1.2) = 1.5 over 4
    assert auc_oaa(correct, tokens, t_max) == pytest.approx(0.375)
    # the integral it closes: mean of OAA_t on a fine grid of t in (0, t_max]
    grid = [t_max * (i + 0.5) / 10000 for i in range(10000)]
    riemann = sum(accuracy_under_budget(correct, tokens, grid)) / len(grid)
    assert riemann == pytest.approx(0.375, abs=1e-3)
    assert accuracy_under_budget(correct, tokens, [1, 51]) == [0.25, 0.5]


# -- strategy, abstraction, cost ---------------------------------------------------------------
def test_plan_metrics_hand_values():
    rows = [
        {"correct": True, "plan_parsed": True, "plan_valid": True, "plan_goal": True, "plan_adherence": 1.0},
        {"correct": False, "plan_parsed": True, "plan_valid": False, "plan_goal": False, "plan_adherence": 0.5},
        {"correct": False, "plan_parsed": False, "plan_valid": None, "plan_goal": None, "plan_adherence": None},
        {"correct": True, "plan_parsed": None, "plan_valid": None, "plan_goal": None, "plan_adherence": None},
    ]
    m = plan_metrics(rows)
    assert m["plan_rate"] == 0.5 and m["plan_validity"] == 0.5 and m["plan_validity_all"] == 0.25
    assert m["plan_adherence"] == 0.75 and m["plan_goal_rate"] == 0.5
    assert m["accuracy_with_plan"] == 0.5 and m["accuracy_without_plan"] == 0.5


def test_plan_metrics_tokens_and_levels_by_hand():
    rows = [
        {"difficulty": 1, "correct": True, "plan_parsed": False, "num_tokens": 6},
        {"difficulty": 1, "correct": True, "plan_parsed": False, "num_tokens": 8},
        {"difficulty": 5, "correct": True, "plan_parsed": True, "plan_valid": True, "plan_goal": True,
         "plan_adherence": 1.0, "num_tokens": 50},
        {"difficulty": 5, "correct": False, "plan_parsed": True, "plan_valid": True, "plan_goal": False,
         "plan_adherence": 1.0, "num_tokens": 40},
        {"difficulty": 5, "correct": False, "plan_parsed": False, "num_tokens": 20},
    ]
    m = plan_metrics(rows)
    assert m["tokens_with_plan"] == 45.0 and m["tokens_without_plan"] == pytest.approx(34 / 3)
    by = plan_metrics_by_difficulty(rows)
    assert list(by) == [1, 5]
    assert by[1]["plan_rate"] == 0.0 and by[1]["tokens_without_plan"] == 7.0 and math.isnan(by[1]["tokens_with_plan"])
    assert by[5]["plan_rate"] == pytest.approx(2 / 3) and by[5]["plan_goal_rate"] == 0.5
    assert by[5]["accuracy_with_plan"] == 0.5 and by[5]["accuracy_without_plan"] == 0.0


def test_abstraction_hand_values():
    d = decomposition_metrics([{"decomposition": 1.0}, {"decomposition": 0.5}, {"decomposition": None}])
    assert d["decomposition_rate"] == pytest.approx(1 / 3) and d["decomposition_score"] == pytest.approx(0.5)
    def rec(d, sub, ok, serial_ok, tokens, path, serial, wall, serial_wall, dec=None):
        return {"difficulty": d, "decomposed": bool(sub), "sub_calls": len(sub), "sub_correct": sub, "decomposition": dec,
                "correct": ok, "serial_correct": serial_ok, "tokens": tokens, "critical_path_tokens": path,
                "serial_tokens": serial, "wall_s": wall, "serial_wall_s": serial_wall}

    o = orchestration_metrics([rec(3, [True, True, False], False, True, 60, 30, 50, 1.0, 3.0, dec=0.5),
                               rec(1, [], True, True, 10, 10, 12, 1.0, 1.0)])
    assert o["sub_accuracy"] == pytest.approx(2 / 3) and o["accuracy"] == 0.5 and o["serial_accuracy"] == 1.0
    assert o["decompose_rate"] == 0.5 and o["decomposition_score"] == 0.5 and o["sub_calls"] == 1.5
    assert o["critical_path_tokens"] == 20 and o["tokens"] == 35 and o["serial_tokens"] == 31
    assert o["wall_s"] == 1.0 and o["serial_wall_s"] == 2.0 and o["speedup"] == 2.0


def test_cost_flops():
    c = cost_metrics([{"num_tokens": 10, "prompt_tokens": 4}, {"num_tokens": 30, "prompt_tokens": 4}],
                     params=1000, wall_s=2.0)
    assert c["generated_tokens"] == 40 and c["flops"] == 2 * 1000 * 40 and c["prompt_flops"] == 16000
    assert c["tokens_per_s"] == 20.0 and c["mean_tokens"] == 20.0
    assert cost_metrics([{"num_tokens": 10}], params=None, wall_s=1.0)["flops"] is None  # served model
    # one FLOP formula: the ledger's (a model's ponder.json and an evaluation's cost count alike)
    import ponder.ledger
    from ponder.metrics import inference_flops

    assert inference_flops is ponder.ledger.inference_flops


def test_empty_groups_have_no_value_not_zero():
    """The metrics' means are ponder.stats.mean: NaN where nothing was measured (never a fake 0)."""
    assert math.isnan(cost_metrics([], params=1000, wall_s=1.0)["mean_tokens"])
    m = plan_metrics([{"correct": True, "plan_parsed": False}])
    assert m["plan_rate"] == 0.0 and math.isnan(m["plan_validity"]) and math.isnan(m["plan_adherence"])
    assert m["accuracy_without_plan"] == 1.0 and math.isnan(m["accuracy_with_plan"])
    assert math.isnan(outcome_efficiency([{"correct": False, "num_tokens": 8, "needed_tokens": 8}])["outcome_efficiency"])
    o = orchestration_metrics([{"difficulty": 1, "decomposed": False, "sub_calls": 0, "sub_correct": [], "decomposition": None,
                                "correct": True, "serial_correct": True, "tokens": 5, "critical_path_tokens": 5,
                                "serial_tokens": 5, "wall_s": 1.0, "serial_wall_s": 1.0}])
    assert math.isnan(o["sub_accuracy"]) and math.isnan(o["decomposition_score"])
