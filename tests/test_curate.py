"""Curation: the adaptive stopping rule (hand-derived cases + simulated error rate), the
curriculum, the verl/TRL exports read back and scored by ponder's own adapters, and the
`ponder curate` / `ponder export` commands end to end on the warm tiny model."""

from __future__ import annotations

import json
import random

import pytest

from ponder.curate.curriculum import Curriculum
from ponder.curate.estimate import (DROP, KEEP, StopRule, beta_cdf, discrete_predict, fit_discrete_prior, fit_prior,
                                    fit_prior_shared, keep_counts, optimal_stops, p_keep_credible, p_keep_predictive,
                                    plan, plan_with, run_rule, simulate)
from helpers import RecordingPolicy
from ponder.errors import PonderError


# -- the estimator -------------------------------------------------------------------------------
def test_beta_cdf_matches_closed_forms():
    for x in (0.05, 0.3, 0.5, 0.9):
        assert beta_cdf(x, 1, 5) == pytest.approx(1 - (1 - x) ** 5, abs=1e-12)  # Beta(1,b): 1-(1-x)^b
        assert beta_cdf(x, 5, 1) == pytest.approx(x ** 5, abs=1e-12)  # Beta(a,1): x^a
        assert beta_cdf(x, 2, 2) == pytest.approx(3 * x**2 - 2 * x**3, abs=1e-12)


def test_keep_counts_for_sixteen_samples():
    # c/16 in [0.1, 0.9]  <=>  1.6 <= c <= 14.4  <=>  c in 2..14
    assert keep_counts(16, 0.1, 0.9) == tuple(range(2, 15))
    assert keep_counts(10, 0.1, 0.9) == tuple(range(1, 10))  # 1/10 == LOW counts as inside


def test_predictive_after_four_failures_flat_prior():
    # Beta(1,1) prior, 0/4 -> posterior Beta(1,5); 12 samples left, X ~ BetaBinomial(12, 1, 5).
    # P(X=0) = B(1,17)/B(1,5) = 5/17;  P(X=1) = 12 * B(2,16)/B(1,5) = 12*5/(16*17) = 15/68.
    # Dropped at 16 iff X <= 1, so P(keep) = 1 - 5/17 - 15/68 = 33/68.
    assert p_keep_predictive(0, 4, 1, 1, 0.1, 0.9, 16) == pytest.approx(33 / 68, abs=1e-12)
    assert p_keep_predictive(4, 4, 1, 1, 0.1, 0.9, 16) == pytest.approx(33 / 68, abs=1e-12)  # mirror image
    rule = StopRule(confidence=0.9, rule="predictive")
    assert rule.decide(0, 4) is None and rule.decide(4, 4) is None  # a flat prior cannot stop at 0/4


def test_credible_four_of_four_with_upper_bound_point_nine():
    # 4/4 under Beta(1,1) -> Beta(5,1): P(p <= 0.9) = 0.9^5, P(p < 0.1) = 0.1^5.
    assert p_keep_credible(4, 4, 1, 1, 0.1, 0.9, 16) == pytest.approx(0.9**5 - 0.1**5, abs=1e-12)
    rule = StopRule(confidence=0.9, rule="credible", round_size=4)
    # all successes after k rounds: P(in window) = 0.9^(4k+1) - 0.1^(4k+1) stays above 0.1 until
    # 4k+1 >= 22, so the credible rule never drops before the budget is spent...
    for n in (4, 8, 12):
        assert rule.decide(n, n) is None
        assert rule.p_keep(n, n) == pytest.approx(0.9 ** (n + 1) - 0.1 ** (n + 1), abs=1e-12)
    assert rule.decide(16, 16) == DROP  # ...where 16/16 = 1.0 > 0.9 decides exactly


def test_curtailment_is_exact():
    rule = StopRule(confidence=0.99, rule="predictive")
    # 2 successes and 2 failures: the final count is in 2..14 whatever happens -> keep, P = 1
    assert p_keep_predictive(2, 4, 0.3, 0.3, 0.1, 0.9, 16) == pytest.approx(1.0, abs=1e-12)
    assert rule.decide(2, 4, (0.3, 0.3)) == KEEP
    # 0 of 15 with one sample left: the final count is 0 or 1 -> drop, P(keep) = 0
    assert p_keep_predictive(0, 15, 1, 1, 0.1, 0.9, 16) == 0.0
    assert rule.decide(0, 15) == DROP
    # the budget spent: exactly the fixed-budget decision
    assert [rule.decide(c, 16) for c in (0, 1, 2, 14, 15, 16)] == [DROP, DROP, KEEP, KEEP, DROP, DROP]


def test_pool_prior_lets_all_failures_stop_early():
    # In a pool where most problems are always or never solved, 0/8 is strong evidence
    # (P(keep) = 0.061 under Beta(0.3, 0.3), 0.21 under the flat prior).
    rule = StopRule(confidence=0.9, rule="predictive")
    assert rule.decide(0, 8, (0.3, 0.3)) == DROP
    assert rule.decide(0, 8, (1.0, 1.0)) is None


def test_round_size_fills_small_rounds():
    from ponder.curate.runner import round_size

    rule = StopRule(max_samples=16, first_round=4, round_size=1)
    assert round_size(rule, 0, 3, min_batch=64) == 4  # the first round is always first_round
    assert round_size(rule, 4, 100, min_batch=64) == 1  # enough problems: the rule's round
    assert round_size(rule, 4, 10, min_batch=64) == 7  # ceil(64 / 10)
    assert round_size(rule, 14, 1, min_batch=64) == 2  # never past the budget
    assert round_size(rule, 4, 10) == 1  # off by default


def test_schedule_and_rounds():
    rule = StopRule(max_samples=16, first_round=4, round_size=2)
    assert rule.schedule() == [4, 6, 8, 10, 12, 14, 16]
    assert StopRule(max_samples=10, first_round=4, round_size=4).schedule() == [4, 8, 10]
    assert rule.next_round(0) == 4 and rule.next_round(14) == 2


@pytest.mark.parametrize("kw", [dict(low=0.9, high=0.1), dict(low=-0.1), dict(confidence=1.0), dict(confidence=0.4),
                                dict(rule="nope"), dict(max_samples=0)])
def test_stop_rule_rejects_bad_settings(kw):
    with pytest.raises(PonderError):
        StopRule(**kw)


def test_fit_prior_recovers_a_u_shaped_pool():
    rng = random.Random(0)
    ps = [rng.betavariate(0.3, 0.3) for _ in range(3000)]
    s = [sum(rng.random() < p for _ in range(4)) for p in ps]
    a, b = fit_prior(s, [4] * len(s))
    assert 0.2 < a < 0.45 and 0.2 < b < 0.45
    a, b = fit_prior([0] * 50, [4] * 50)  # all failures: the prior piles up at p = 0
    assert a < 0.1 and b > 5 * a
    assert fit_prior([], []) == (1.0, 1.0)


def test_optimal_plan_by_hand():
    # N = 2, window [0.5, 1] (keep iff >= 1 success of 2), flat prior, checks after 1 and 2 samples.
    # After 1 success: keep is certain -> stop. After 1 failure: posterior Beta(1, 2), P(keep) =
    # P(next succeeds) = 1/3, so stopping (drop) errs with 1/3 and costs lam/3, going on costs 1.
    # P(first fails) = 1/2: stop -> 1 sample, disagreement 1/6; go on -> 1.5 samples, none.
    stops, used, dis = plan(1, 1, 0.5, 1.0, 2, [1, 2], lam=2.9)
    assert (1, 0) in stops and (1, 1) in stops
    assert used == pytest.approx(1.0) and dis == pytest.approx(1 / 6)
    stops, used, dis = plan(1, 1, 0.5, 1.0, 2, [1, 2], lam=3.1)
    assert (1, 0) not in stops and used == pytest.approx(1.5) and dis == pytest.approx(0.0, abs=1e-12)
    # the budget picks the plan: 1/6 fits in 0.2, not in 0.1; a cap below 1/3 forbids that stop
    assert (1, 0) in optimal_stops(1.0, 1.0, 0.5, 1.0, 2, (1, 2), 0.2)
    assert (1, 0) not in optimal_stops(1.0, 1.0, 0.5, 1.0, 2, (1, 2), 0.1)
    assert (1, 0) not in optimal_stops(1.0, 1.0, 0.5, 1.0, 2, (1, 2), 0.2, cap=0.3)


def test_optimal_stops_respect_budget_and_cap():
    rule = StopRule()  # optimal, confidence 0.95: budget 0.05, no single stop above 0.10
    for prior in [(0.3, 0.3), (0.1, 0.1), (20.0, 4.0)]:
        stops = optimal_stops(*prior, 0.1, 0.9, 16, tuple(rule.schedule()), 0.05, 0.10)
        _, _, dis = plan(*prior, 0.1, 0.9, 16, rule.schedule(), 1e9)  # lam huge: only certain stops
        assert dis == pytest.approx(0.0, abs=1e-9)
        for n, s in stops:
            pk = p_keep_predictive(s, n, *prior, 0.1, 0.9, 16)
            assert min(pk, 1 - pk) <= 0.10 + 1e-12
            assert rule.decide(s, n, prior) == (KEEP if pk >= 0.5 else DROP)
    # curtailment holds for the optimal rule too: 2 of 4 and 2 failures is a certain keep
    assert rule.decide(2, 4, (0.3, 0.3)) == KEEP


@pytest.mark.parametrize("rule", ["optimal", "predictive"])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_simulated_disagreement_is_below_the_bound(rule, confidence):
    # The documented bound: expected disagreement with the fixed-budget decision <= 1 - confidence
    # when the prior describes the pool. Here the prior is fitted from the first round, as in
    # `ponder curate`, on a U-shaped pool (Beta(0.3, 0.3), mass near 0 and 1). The predictive rule
    # bounds every stop, so it sits well inside; the optimal rule spends the budget, so its pool
    # of 4000 lands within sampling noise (sd 0.35 points) of it.
    rng = random.Random(1)
    ps = [rng.betavariate(0.3, 0.3) for _ in range(4000)]
    m = simulate(StopRule(confidence=confidence, rule=rule), ps, seed=2)
    assert m["agree_fixed"] >= confidence - (0.01 if rule == "optimal" else 0.0)
    assert m["sample_fraction"] < (0.55 if rule == "optimal" else 0.65)  # saves a third or more of the budget
    # against the true window the adaptive rule is about as good as spending all 16 samples
    assert m["agree_true"] >= m["fixed_agree_true"] - (0.04 if rule == "optimal" else 0.03)


def test_optimal_is_cheaper_than_predictive_within_the_budget():
    rng = random.Random(3)
    ps = [rng.betavariate(0.3, 0.3) for _ in range(4000)]
    opt = simulate(StopRule(rule="optimal"), ps, seed=4)
    pred = simulate(StopRule(rule="predictive"), ps, seed=4)
    assert opt["sample_fraction"] < pred["sample_fraction"] - 0.05  # measured: 47% vs 55% of the budget
    assert opt["agree_fixed"] >= 0.94


def _levels_pool(rng: random.Random, means: list[float], kappa: float, per_level: int) -> list[tuple[int, float]]:
    """(level, pass rate) for problems whose pass rates are Beta(mean * kappa, (1 - mean) * kappa) per level."""
    return [(lv, rng.betavariate(m * kappa, (1 - m) * kappa)) for lv, m in enumerate(means, 1) for _ in range(per_level)]


def test_fit_prior_shared_pools_the_concentration_and_keeps_each_mean():
    # five levels of 20 problems x 4 first samples, one true concentration (12) and five means:
    # the shared fit gives every level the same a + b and recovers the means' order, where
    # independent fits of 20 problems each scatter over the grid (up to its edge at a = 20)
    rng = random.Random(5)
    means = [0.97, 0.9, 0.8, 0.6, 0.3]
    pool = _levels_pool(rng, means, 12.0, 20)
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for lv, p in pool:
        groups.setdefault(lv, ([], []))[0].append(sum(rng.random() < p for _ in range(4)))
        groups[lv][1].append(4)
    shared = fit_prior_shared(groups)
    conc = {round(a + b, 9) for a, b in shared.values()}
    assert len(conc) == 1 and 3.0 < conc.pop() < 60.0
    fitted = [shared[lv][0] / sum(shared[lv]) for lv in range(1, 6)]
    assert fitted == sorted(fitted, reverse=True)
    assert all(abs(f - m) < 0.12 for f, m in zip(fitted, means))
    independent = [sum(fit_prior(*groups[lv])) for lv in range(1, 6)]
    assert max(independent) / min(independent) > 2  # the scatter the pooling removes
    # a level without data gets the flat prior; bad lengths are refused
    assert fit_prior_shared({**groups, 9: ([], [])})[9] == (1.0, 1.0)
    with pytest.raises(ValueError):
        fit_prior_shared({1: ([1, 2], [4])})


def test_shared_prior_keeps_the_disagreement_bound_by_simulation():
    # the documented bound with the shared fit: each level's plan holds its expected disagreement
    # with fixed-16 within 1 - confidence under that level's prior; on a pool drawn from the
    # model (4000 problems) the measured disagreement is within sampling noise of 5% or below
    rng = random.Random(7)
    rule = StopRule()
    pool = _levels_pool(rng, [0.95, 0.85, 0.7, 0.5, 0.2], 3.0, 800)
    streams = [[rng.random() < p for _ in range(16)] for _, p in pool]
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for (lv, _), st in zip(pool, streams):
        groups.setdefault(lv, ([], []))[0].append(sum(st[:4]))
        groups[lv][1].append(4)
    priors = fit_prior_shared(groups)
    agree = used = 0
    for (lv, _), st in zip(pool, streams):
        d, n, _ = run_rule(rule, st, priors[lv])
        agree += d == rule.fixed_decision(sum(st), 16)
        used += n
    assert agree / len(pool) >= 0.95 - 0.01
    assert used / (16 * len(pool)) < 0.75


def test_plan_with_any_prior_matches_beta_and_a_point_mass():
    sched = list(range(4, 17))
    # a prior certain that p = 1: 4 of 4 decides drop with no error, so the plan stops at once
    stops, used, dis = plan_with(discrete_predict([0.0, 0.5, 1.0], [0.0, 0.0, 1.0]), 0.1, 0.9, 16, sched, 50.0)
    assert (4, 4) in stops and used == pytest.approx(4.0) and dis == pytest.approx(0.0, abs=1e-12)
    # Beta(2, 3) written as weights on a fine grid: the same plan as the closed form
    ps = [(i + 0.5) / 400 for i in range(400)]
    ws = [p * (1 - p) ** 2 for p in ps]
    ws = [w / sum(ws) for w in ws]
    s1, u1, d1 = plan_with(discrete_predict(ps, ws), 0.1, 0.9, 16, sched, 40.0)
    s2, u2, d2 = plan(2.0, 3.0, 0.1, 0.9, 16, sched, 40.0)
    assert s1 == s2 and u1 == pytest.approx(u2, rel=1e-4) and d1 == pytest.approx(d2, rel=1e-3, abs=1e-6)


def test_fit_discrete_prior_finds_a_point_mass_beside_a_bump():
    # half the problems always solved, half at 0.7: a shape no Beta has, which the
    # nonparametric fit recovers from 16 samples each
    rng = random.Random(11)
    ps = [1.0 if i % 2 else 0.7 for i in range(400)]
    s = [sum(rng.random() < p for _ in range(16)) for p in ps]
    grid, w = fit_discrete_prior(s, [16] * len(s))
    assert w[-1] == pytest.approx(0.5, abs=0.08)
    assert sum(wi for p, wi in zip(grid, w) if 0.6 <= p <= 0.8) == pytest.approx(0.5, abs=0.1)
    assert sum(w) == pytest.approx(1.0)


def _bench_curate():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_curate", Path(__file__).resolve().parents[1] / "bench" / "curate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _covariate_pool(rng: random.Random, slope: float, informative: bool, per_level: int = 100):
    """Pass rates logit-linear in a covariate z within each of 3 levels (mean pass rate 0.95, 0.85,
    0.7), the rule's own model; x is z itself, or noise independent of the pass rate."""
    import math

    rows = []
    for lv, mean in enumerate([0.95, 0.85, 0.7]):
        for _ in range(per_level):
            z = rng.gauss(0.0, 1.0)
            p = 1 / (1 + math.exp(-(math.log(mean / (1 - mean)) + slope * z)))
            rows.append((lv, z if informative else rng.gauss(0.0, 1.0), rng.betavariate(40 * p, 40 * (1 - p))))
    return rows


@pytest.mark.parametrize("informative", [True, False])
def test_covariate_prior_keeps_the_bound_and_degrades_to_the_level_prior(informative):
    # bench/curate.py part (c): a prior per problem from its level and a covariate (docs/curate.md:
    # measured on the tiny warm start, it does not reach the floor). On a pool drawn from the model
    # it must (1) hold the agreement bound with the covariate informative or not, (2) be cheaper than
    # the same fit without the covariate when the covariate is informative, and (3) cost no more
    # than that level-only fit (within noise) when it is not: the fitted slope falls to ~0
    bench = _bench_curate()
    rng = random.Random(3)
    pool = _covariate_pool(rng, 1.5, informative)
    streams = [[rng.random() < p for _ in range(16)] for _, _, p in pool]
    levels, x = [lv for lv, _, _ in pool], [x for _, x, _ in pool]
    first = [sum(st[:2]) for st in streams]
    ref = bench.fixed(streams, 0.1, 0.9)
    out = {}
    for name, xs in (("covariate", x), ("level", [0.0] * len(x))):
        priors, fit = bench.fit_prior_covariate(first, [2] * len(first), xs, levels)
        dec, used = bench.covariate_rule(streams, priors, 2, 0.1, 0.9)
        out[name] = (used / (16 * len(pool)), sum(a == b for a, b in zip(dec, ref)) / len(pool), fit["slope"])
    assert out["covariate"][1] >= 0.95 - 0.015 and out["level"][1] >= 0.95 - 0.015
    if informative:
        assert out["covariate"][2] >= 0.8
        assert out["covariate"][0] < out["level"][0] - 0.03
    else:
        assert out["covariate"][2] <= 0.4
        assert out["covariate"][0] <= out["level"][0] + 0.02


# -- the curriculum ------------------------------------------------------------------------------
def test_curriculum_promotes_and_retires_by_hand():
    cur = Curriculum(levels=(1, 2, 3), promote_at=0.6, retire_at=0.95, ema=0.5, patience=2)
    assert cur.levels() == [1]
    assert cur.update({1: 0.7}) == [1]  # rate 0.7 but only one update since the start (patience 2)
    assert cur.update({1: 0.7}) == [1, 2]  # ema 0.7 >= 0.6 -> level 2 joins
    assert cur.update({1: 1.0, 2: 0.2}) == [1, 2]  # r1 = .5*.7 + .5*1 = .85 < .95; r2 = .2
    assert cur.update({1: 1.0, 2: 0.3}) == [1, 2]  # r1 = .925; r2 = .25
    assert cur.update({1: 1.0, 2: 0.3}) == [2]  # r1 = .9625 >= .95 -> level 1 retires
    assert cur.rates[2] == pytest.approx(0.275)
    assert [h["event"] for h in cur.history] == ["promote", "retire"]


def test_curriculum_state_round_trips_through_json():
    a = Curriculum(levels=(1, 2, 3, 4, 5))
    for r in (0.7, 0.8, 0.9):
        a.update({lvl: r for lvl in a.levels()})
    b = Curriculum()
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert b.state_dict() == a.state_dict() and b.levels() == a.levels() != [1]
    for step in range(4):
        assert a.update({lvl: 0.97 for lvl in a.levels()}) == b.update({lvl: 0.97 for lvl in b.levels()})
    # a state written before the curriculum stopped drawing problems itself still resumes
    old = {**a.state_dict(), "newest_weight": 2.0, "drawn": 5}
    c = Curriculum()
    c.load_state_dict(old)
    assert c.state_dict() == a.state_dict()


def test_curriculum_rejects_bad_input():
    cur = Curriculum(levels=(1, 2))
    assert cur.update({7: 0.5}) == [1] and 7 not in cur.rates  # levels it does not manage are ignored
    with pytest.raises(PonderError):
        cur.update({1: 1.5})
    with pytest.raises(PonderError, match="malformed curriculum state"):
        Curriculum().load_state_dict({"version": 1, "levels": [1]})
    with pytest.raises(PonderError):
        Curriculum(levels=(1, 2), start=4)


# -- export --------------------------------------------------------------------------------------
def _curated_rows():
    from ponder.tasks import get_task

    rows = []
    for i, task in enumerate(["arith", "countdown"]):
        for p in get_task(task).sample(2, difficulty=2, seed=5):
            rows.append({**p.to_dict(), "pass_rate": 0.25 * (i + 1), "samples": 8, "successes": 2 * (i + 1), "kept": True})
    rows.append({**get_task("arith").generate(5, 99, 1).to_dict(), "pass_rate": 1.0, "samples": 6, "kept": False})
    return rows


def test_export_verl_layout_and_its_reward_adapter(tmp_path):
    import pyarrow.parquet as pq

    from ponder.curate.export import export_verl, read_curated
    from ponder.rewards.adapters import compute_score
    from ponder.runs import write_parquet
    from ponder.tasks import get_task
    from ponder.types import Problem

    src = write_parquet(tmp_path / "curated.parquet", _curated_rows())
    rows = read_curated(tmp_path)  # a run directory resolves to curated.parquet; kept rows only
    assert len(rows) == 4
    path = export_verl(rows, tmp_path / "verl")
    table = pq.read_table(path)
    assert table.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    back = table.to_pylist()
    first = back[0]
    assert first["data_source"] == "ponder/arith" and first["ability"] == "math"
    assert back[2]["ability"] == "countdown"  # an expression answer, not a number
    assert first["prompt"][-1] == {"role": "user", "content": rows[0]["prompt"]}
    assert first["prompt"][0]["role"] == "system"
    assert first["reward_model"] == {"style": "rule", "ground_truth": rows[0]["answer"]}
    info = first["extra_info"]
    assert (info["index"], info["id"], info["difficulty"], info["pass_rate"]) == (0, rows[0]["id"], 2, 0.25)
    assert json.loads(info["meta"]) == json.loads(rows[0]["meta"])
    # verl calls compute_score(data_source=, solution_str=, ground_truth=, extra_info=, **reward_kwargs) per sample
    for r, orig in zip(back, rows):
        good = get_task(orig["task"]).oracle(Problem.from_dict(orig))
        call = dict(data_source=r["data_source"], ground_truth=r["reward_model"]["ground_truth"], extra_info=r["extra_info"])
        assert compute_score(solution_str=good, **call) == 1.0
        assert compute_score(solution_str="<answer>nope</answer>", **call) == 0.0
        assert compute_score(solution_str=good, **call, reward="correct:1,format:0.5") == 1.5
    assert src.exists()


def test_export_trl_columns_feed_its_reward_adapter(tmp_path):
    import pyarrow.parquet as pq

    from ponder.curate.export import export_trl
    from ponder.rewards.adapters import trl_reward
    from ponder.tasks import get_task
    from ponder.types import Problem

    rows = [r for r in _curated_rows() if r["kept"]]
    path = export_trl(rows, tmp_path / "trl")
    table = pq.read_table(path)
    for col in ("prompt", "id", "problem_id", "task", "answer", "difficulty", "meta", "pass_rate", "samples"):
        assert col in table.column_names
    back = table.to_pylist()
    assert back[0]["prompt"][-1]["content"] == rows[0]["prompt"]
    # TRL hands every non-prompt column to the reward functions as keyword lists
    columns = {k: [r[k] for r in back] for k in table.column_names if k != "prompt"}
    oracles = [get_task(r["task"]).oracle(Problem.from_dict(r)) for r in rows]
    assert trl_reward("correct:1")([r["prompt"] for r in back], oracles, **columns) == [1.0] * len(rows)
    # plain prompts end with the separator ponder's own plain prompts use (what the tiny model is trained on)
    from ponder.policy import PLAIN_SEP, render_prompt

    plain = pq.read_table(export_trl(rows, tmp_path / "plain", conversational=False)).to_pylist()
    assert plain[1]["prompt"] == rows[1]["prompt"] + PLAIN_SEP == render_prompt(None, Problem.from_dict(rows[1]))
    assert PLAIN_SEP == "\n"
    try:
        import datasets
    except ImportError:
        return
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert ds.column_names == table.column_names and len(ds) == len(rows)


@pytest.mark.slow
def test_trl_export_loads_in_datasets_and_is_conversational_for_trl(tmp_path):
    """Against the real libraries in the optional TRL venv (.venv-trl; skipped without it)."""
    import subprocess
    from pathlib import Path

    from ponder.curate.export import export_trl, export_verl

    py = Path(__file__).resolve().parents[1] / ".venv-trl" / "bin" / "python"
    if not py.exists():
        pytest.skip("no .venv-trl (see docs/train.md)")
    rows = [r for r in _curated_rows() if r["kept"]]
    trl_path, verl_path = export_trl(rows, tmp_path / "trl"), export_verl(rows, tmp_path / "verl")
    code = (
        "import sys, datasets\n"
        "from trl.data_utils import is_conversational\n"
        "ds = datasets.load_dataset('parquet', data_files=sys.argv[1], split='train')\n"
        "assert len(ds) == 4 and is_conversational(ds[0]), ds\n"
        "v = datasets.load_dataset('parquet', data_files=sys.argv[2], split='train')\n"
        "assert v[0]['reward_model']['style'] == 'rule' and v[0]['prompt'][-1]['role'] == 'user'\n"
        "print('ok')\n")
    out = subprocess.run([str(py), "-c", code, str(trl_path), str(verl_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_export_rejects_bad_input(tmp_path):
    from ponder.curate.export import export_verl, read_curated
    from ponder.runs import write_jsonl

    with pytest.raises(PonderError, match="no such file"):
        read_curated(tmp_path / "missing")
    write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "task": "arith", "prompt": "1+1"}])
    with pytest.raises(PonderError, match="lacks answer, difficulty"):
        read_curated(tmp_path / "bad.jsonl")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(PonderError, match="cannot read"):
        read_curated(tmp_path / "junk.parquet")
    with pytest.raises(PonderError, match="nothing to export"):
        export_verl([], tmp_path / "out")


# -- the commands ----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,message", [
    (["--model", "m", "--window", "0.9,0.1"], "window must satisfy 0 <= LOW < HIGH <= 1"),
    (["--model", "m", "--window", "0.5"], "window must be LOW,HIGH"),
    (["--model", "m", "--tasks", "arithh"], "unknown task 'arithh'"),
    (["--model", "m", "--difficulties", "0-2"], "difficulty levels 1..5"),
    (["--model", "m", "--levels", "1", "--base-url", "http://127.0.0.1:1/v1"], "--base-url is for --backend openai"),
    (["--model", "m", "--resume"], "--resume: "),
    (["--model", "m", "--confidence", "1.5"], "confidence must be in (0.5, 1)"),
    (["--model", "m", "--prior", "x"], "prior must be group, pool or A,B"),
    (["--model", "m", "--rule", "vibes"], "unknown stopping rule 'vibes'"),
    (["--model", "/no/such/model"], "model directory not found"),
    (["--model", "m", "--backend", "tpu"], "unknown backend 'tpu'"),
])
def test_curate_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    from ponder.cli import main

    out = tmp_path / "run"
    assert main(["curate", *argv, "--pool", "4", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ponder: error: ") and message in err and err.count("\n") == 1
    assert not out.exists()  # nothing half-written


def test_export_command_writes_both_layouts(tmp_path, capsys):
    import pyarrow.parquet as pq

    from ponder.cli import main
    from ponder.runs import write_jsonl, write_parquet

    rows = _curated_rows()
    write_parquet(tmp_path / "run" / "curated.parquet", rows)
    assert main(["export", "--format", "verl", "--input", str(tmp_path / "run"), "--out", str(tmp_path / "v")]) == 0
    assert pq.read_table(tmp_path / "v" / "train.parquet").num_rows == 4  # the kept=False row is skipped
    write_jsonl(tmp_path / "c.jsonl", rows)
    assert main(["export", "--format", "trl", "--input", str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "t"),
                 "--split", "test", "--plain"]) == 0
    assert pq.read_table(tmp_path / "t" / "test.parquet").column("prompt").to_pylist()[0] == rows[0]["prompt"] + "\n"
    capsys.readouterr()
    assert main(["export", "--format", "verl", "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_curate_end_to_end_on_the_warm_tiny_model(warm_model, tmp_path):
    """Essential end-to-end check (real model, real verifier pool): a small mixed-difficulty
    arith pool is curated, every output file is consistent with the samples, and the kept
    problems load through `ponder.runs.read_problems` and export."""
    import pyarrow.parquet as pq

    from ponder.cli import main
    from ponder.runs import read_jsonl, read_problems

    run = tmp_path / "curate"
    argv = ["curate", "--model", str(warm_model), "--tasks", "arith", "--levels", "1,2", "--pool", "8",
            "--max-samples", "8", "--max-new-tokens", "96", "--min-batch", "12", "--out", str(run)]
    assert main(argv) == 0
    est = pq.read_table(run / "estimates.parquet").to_pylist()
    samples = pq.read_table(run / "samples.parquet").to_pylist()
    assert len(est) == 8 and sum(e["samples"] for e in est) == len(samples)
    for e in est:
        mine = [s for s in samples if s["problem_id"] == e["id"]]
        assert 4 <= e["samples"] <= 8 and len(mine) == e["samples"]
        assert e["successes"] == sum(s["success"] for s in mine)
        assert e["pass_rate"] == pytest.approx(e["successes"] / e["samples"])
        if e["samples"] == 8:  # budget spent: exactly the fixed-budget decision (c/8 in [0.1, 0.9])
            assert e["kept"] == (1 <= e["successes"] <= 7)
        if e["kept"]:  # kept early only when the evidence says so
            assert e["p_keep"] >= 0.95 or e["samples"] == 8
    kept = [e for e in est if e["kept"]]
    assert [p.id for p in read_problems(run / "curated.parquet")] == [e["id"] for e in kept]
    assert [p.id for p in read_problems(run / "curated.jsonl")] == [e["id"] for e in kept]
    rounds = read_jsonl(run / "metrics.jsonl")
    assert rounds[0]["active"] == 8 and rounds[0]["samples_per_problem"] == 4
    assert rounds[-1]["samples_so_far"] == len(samples)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["samples"] == len(samples) and summary["fixed_budget_samples"] == 64
    html = (run / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2  # the histogram and the samples-spent bars
    # each round sampled exactly the problems still undecided after the previous one
    done = 4
    for prev, cur in zip(rounds, rounds[1:]):
        assert cur["active"] == prev["active"] - prev["decided"]
        # --min-batch 12: a round of `active` problems draws ceil(12 / active) each, within the budget
        assert cur["samples_per_problem"] == min(max(1, -(-12 // cur["active"])), 8 - done)
        done += cur["samples_per_problem"]
    assert sum(r["decided"] for r in rounds) == 8
    code = main(["export", "--format", "verl", "--input", str(run), "--out", str(tmp_path / "verl")])
    assert code == (0 if kept else 2)

    assert not (run / "parts").exists()  # every round's part file is in samples.parquet now


def test_curation_samples_like_every_scoring_stage():
    from ponder.curate import CurateConfig, build_pool, curate
    from ponder.types import Sampling

    cfg = CurateConfig(levels=(1,), pool=4, seed=2, temperature=0.8, top_p=0.95, max_new_tokens=24, max_samples=6)
    policy = RecordingPolicy()
    result = curate(policy, build_pool(cfg), cfg, progress=False)
    assert policy.samplings == [Sampling.to_answer(temperature=0.8, top_p=0.95, max_new_tokens=24, seed=2 * 1_000_003 + r)
                                for r in range(result.stats["rounds"])]


class _Interrupted(Exception):
    pass


class _DiesAfter:
    """Wraps a policy; its `calls`-th generate call raises, as a killed process would stop there."""

    def __init__(self, policy, calls: int):
        self.policy, self.left = policy, calls

    def render(self, problem, suffix=""):
        return self.policy.render(problem, suffix)

    def generate(self, prompts, n, sampling):
        self.left -= 1
        if self.left < 0:
            raise _Interrupted
        return self.policy.generate(prompts, n, sampling)


def test_curate_resume_replays_finished_rounds_and_ends_like_an_uninterrupted_run(warm_model, tmp_path, capsys):
    from ponder import curate
    from ponder.cli import main
    from ponder.runs import RunDir, read_jsonl, read_parquet

    cfg = curate.CurateConfig(model=str(warm_model), tasks=("arith",), levels=(1, 2, 3), pool=6, max_samples=8,
                              confidence=0.99, max_new_tokens=64, out=str(tmp_path / "killed"))
    curate.check(cfg)
    run_dir = RunDir.open("curate", cfg.out, cfg)
    with pytest.raises(_Interrupted):
        curate.run(cfg, run_dir, policy=_DiesAfter(curate.load(cfg), calls=1), progress=False)
    assert sorted(f.name for f in (run_dir / "parts").iterdir()) == ["round-00000.parquet"]
    assert not (run_dir / "curated.parquet").exists()
    assert main(["curate", "--out", cfg.out, "--resume"]) == 0
    clean = tmp_path / "clean"
    assert main(["curate", "--model", str(warm_model), "--tasks", "arith", "--levels", "1-3", "--pool", "6",
                 "--max-samples", "8", "--confidence", "0.99", "--max-new-tokens", "64", "--out", str(clean)]) == 0
    capsys.readouterr()
    for name in ("estimates.parquet", "samples.parquet", "curated.parquet"):
        assert read_parquet(run_dir / name) == read_parquet(clean / name), name
    rounds = [r["round"] for r in read_jsonl(clean / "metrics.jsonl")]
    assert len(rounds) > 1  # the resumed session sampled rounds of its own
    assert [r["round"] for r in read_jsonl(run_dir / "metrics.jsonl")] == rounds
    assert not (run_dir / "parts").exists()
