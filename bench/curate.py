"""Benchmark: adaptive pass-rate estimation vs a fixed 16 samples per problem.

    nice -n 10 .venv/bin/python bench/curate.py                      # synthetic pools only (seconds)
    nice -n 10 .venv/bin/python bench/curate.py --model DIR          # + the tiny model on arith
    nice -n 10 .venv/bin/python bench/curate.py --model DIR --pool 100 --difficulties 1-5
    ... --window 0.05,1.0        # the demo's window; --seed S for another pool / population draw
    ... --model DIR --no-synthetic --streams s.json   # save the real outcomes; rerun reads them back
    ... --model DIR --no-synthetic --streams s.json --covariate --truth-samples 128   # part (c)

(a) Synthetic: problems with known pass rates (U-shaped Beta pools, as real pools are, and a pool
    with exact 0s and 1s), Bernoulli samples. Each problem gets one stream of 16 outcomes; the
    fixed-16 decision uses all of it, the adaptive rule a prefix (paired comparison: "would the
    adaptive rule have decided what 16 samples decide?"). Also shown: agreement with the true
    window, and the agreement of two *independent* fixed-16 runs (the noise floor of the metric).
    For Beta pools the Bayes-optimal bound is computed exactly: the stopping rule minimising
    samples + lambda * disagreements (`plan`: dynamic programming over (n, s), true prior,
    one-sample rounds from the first sample), i.e. no rule that sees only the problem's own
    samples can beat it. The default rule ("optimal") is the same `plan` with the *fitted*
    prior, the first round of 4, and a per-stop error cap.
(b) Real: the policy at DIR on arith at mixed difficulties: 16 samples per problem are drawn and
    verified once; the fixed-16 and the adaptive decisions are read off the same samples. Also
    measured there: a prior with one concentration shared by all levels (`fit_prior_shared`,
    first rounds of 4 and 2) and the priors refitted after every round (`refit_every_round`).
    The bounds are estimated: each level's prior fitted on all 16 samples (a Beta, or of any
    shape: `fit_discrete_prior`), one common lam.
(c) Beyond the correctness bit (`--covariate`, hf): each problem's gold answer's likelihood under the
    policy (one teacher-forced pass, priced in samples by tokens) as a covariate of its prior
    (`fit_prior_covariate`, `covariate_rule`); `--truth-samples M` adds the bound of a rule that knew
    every pass rate (read off 16 + M samples), the ceiling of any covariate. Measured: no (docs/curate.md).

Floor: <= 40% of the fixed-budget samples at >= 95% agreement with the fixed-16 decisions.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ponder.curate.estimate import (KEEP, STOP_CAP, StopRule, beta_predict, discrete_predict,  # noqa: E402
                                    fit_discrete_prior, fit_prior, fit_prior_shared, keep_counts, optimal_stops,
                                    p_keep_predictive, plan, plan_with, run_rule)

N = 16
WINDOW = (0.1, 0.9)  # `ponder curate`'s default; --window changes it
FLOOR_FRACTION, FLOOR_AGREE = 0.40, 0.95


def variants(low: float, high: float) -> list[tuple[str, StopRule]]:
    w = dict(low=low, high=high)
    return [
        ("optimal (default: conf .95, 4+1)", StopRule(**w)),
        ("optimal conf .95, 4+2", StopRule(round_size=2, **w)),
        ("optimal conf .90, 4+1", StopRule(confidence=0.90, **w)),
        ("predictive conf .95, 4+1 (old default)", StopRule(rule="predictive", **w)),
        ("predictive conf .90, 4+1", StopRule(rule="predictive", confidence=0.90, **w)),
        ("credible conf .95, 4+1", StopRule(rule="credible", **w)),
    ]


def populations(rng: random.Random, n: int) -> dict[str, tuple[list[float], tuple[float, float] | None]]:
    def beta(a):
        return [rng.betavariate(a, a) for _ in range(n)]

    def mixture():  # exact zeros and ones (never / always solved) plus a spread in between
        out = []
        for _ in range(n):
            u = rng.random()
            out.append(0.0 if u < 0.35 else 1.0 if u < 0.55 else rng.betavariate(1.0, 1.0))
        return out

    return {"Beta(0.3,0.3)": (beta(0.3), (0.3, 0.3)), "Beta(0.1,0.1)": (beta(0.1), (0.1, 0.1)),
            "35% p=0, 20% p=1, 45% U(0,1)": (mixture(), None)}


def decisions(rule: StopRule, streams: list[list[bool]], prior) -> tuple[list[str], int]:
    used, out = 0, []
    for st in streams:
        d, n, _ = run_rule(rule, st, prior)
        out.append(d)
        used += n
    return out, used


def fixed(streams: list[list[bool]], low: float, high: float) -> list[str]:
    keep = set(keep_counts(N, low, high))
    return [KEEP if sum(st) in keep else "drop" for st in streams]


def bayes_bound(a: float, b: float, low: float, high: float, target: float = FLOOR_AGREE) -> tuple[float, float]:
    """Fewest samples (fraction of N) any stopping rule needs for `target` expected agreement.

    `plan` (the optimal rule's backward induction) with the TRUE Beta(a, b) prior and one-sample
    rounds from the first sample on, scanned over lam; interpolates between the two plans that
    bracket the target (a randomised mix of them achieves the interpolated point).
    """
    return bayes_bound_mix([(a, b, 1.0)], low, high, target)


def bayes_bound_mix(components: list[tuple[float, float, float]], low: float, high: float,
                    target: float = FLOOR_AGREE, first: int = 1) -> tuple[float, float]:
    """`bayes_bound` for a pool that mixes Beta(a, b) priors with weights w ((a, b, w) each, e.g.
    one per difficulty level, whose labels a rule may use): one lam for all components, as the
    optimum of a pooled target is a common price of disagreement."""
    return bound_predictive([(beta_predict(a, b), w) for a, b, w in components], low, high, target, first)


def bound_predictive(components: list, low: float, high: float, target: float = FLOOR_AGREE,
                     first: int = 1) -> tuple[float, float]:
    """`bayes_bound_mix` for priors of any shape, each given by its predictive ((predict, w) each);
    `first`: the first round (1: one-sample rounds throughout)."""
    total = sum(w for _, w in components)
    pts = set()
    for lam in [2 ** (i / 4) for i in range(8, 48)]:
        used = dis = 0.0
        for predict, w in components:
            _, u, d = plan_with(predict, low, high, N, list(range(first, N + 1)), lam)
            used, dis = used + w * u / total, dis + w * d / total
        pts.add((used / N, 1 - dis))
    best = 1.0
    for (f1, g1) in pts:
        for (f2, g2) in pts:
            if g1 < target <= g2 and f2 > f1:  # mix the two rules to hit the target exactly
                best = min(best, f1 + (f2 - f1) * (target - g1) / (g2 - g1))
            elif g1 >= target:
                best = min(best, f1)
    return best, target


def refit_every_round(rule: StopRule, streams: list[list[bool]], levels: list[int]) -> tuple[list[str], int]:
    """The optimal rule in lockstep rounds, with the levels' priors refitted after EVERY round on all
    samples drawn so far (`fit_prior_shared`; the stopped problems' counts included, which the
    likelihood allows: stopping depends only on samples already seen) and the plan solved again
    for the new priors. A variant measured here, not a `ponder curate` option (docs/curate.md)."""
    budget = round(1.0 - rule.confidence, 12)
    n, out = [0] * len(streams), [None] * len(streams)
    active = list(range(len(streams)))
    while active:
        k = rule.next_round(n[active[0]])
        for i in active:
            n[i] += k
        by_level: dict[int, tuple[list[int], list[int]]] = {}
        for i, st in enumerate(streams):
            s_, n_ = by_level.setdefault(levels[i], ([], []))
            s_.append(sum(st[:n[i]]))
            n_.append(n[i])
        priors = fit_prior_shared(by_level)
        still = []
        for i in active:
            s, (a, b) = sum(streams[i][:n[i]]), priors[levels[i]]
            if n[i] < N and (n[i], s) not in optimal_stops(a, b, rule.low, rule.high, N, tuple(rule.schedule()),
                                                           budget, 2 * budget):
                still.append(i)
            elif n[i] >= N:
                out[i] = KEEP if s in keep_counts(N, rule.low, rule.high) else "drop"
            else:
                out[i] = KEEP if p_keep_predictive(s, n[i], a, b, rule.low, rule.high, N) >= 0.5 else "drop"
        active = still
    return out, sum(n)


def synthetic(n: int, seed: int, low: float, high: float) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for name, (ps, true_prior) in populations(rng, n).items():
        streams = [[rng.random() < p for _ in range(N)] for p in ps]
        rerun = [[rng.random() < p for _ in range(N)] for p in ps]  # an independent fixed-16 run
        truth = [KEEP if low <= p <= high else "drop" for p in ps]
        ref = fixed(streams, low, high)
        agree = lambda x, y: sum(u == v for u, v in zip(x, y)) / len(x)  # noqa: E731
        print(f"\n== {name}: {n} problems, window [{low}, {high}], fixed budget {N}/problem ==")
        print(f"{'method':<40} {'samples':>8} {'of fixed':>8} {'agree fixed-16':>14} {'agree truth':>11}")
        print(f"{'fixed 16':<40} {N * n:>8} {1.0:>8.1%} {1.0:>14.1%} {agree(ref, truth):>11.1%}"
              f"   (an independent fixed-16 rerun agrees {agree(ref, fixed(rerun, low, high)):.1%})")
        for label, rule in variants(low, high):
            first = [sum(st[:rule.first_round]) for st in streams]
            prior = fit_prior(first, [rule.first_round] * n)  # as `ponder curate --prior pool` does
            dec, used = decisions(rule, streams, prior)
            frac, agr = used / (N * n), agree(dec, ref)
            ok = "  <- floor met" if frac <= FLOOR_FRACTION and agr >= FLOOR_AGREE else ""
            print(f"{label:<40} {used:>8} {frac:>8.1%} {agr:>14.1%} {agree(dec, truth):>11.1%}{ok}")
            rows.append({"population": name, "method": label, "fraction": frac, "agree_fixed": agr,
                         "agree_truth": agree(dec, truth), "prior": prior})
        if true_prior:
            frac, _ = bayes_bound(*true_prior, low, high)
            print(f"{'Bayes-optimal bound (true prior)':<40} {'':>8} {frac:>8.1%} {FLOOR_AGREE:>14.1%}"
                  f"   (fewest samples ANY rule needs for {FLOOR_AGREE:.0%} agreement)")
    return rows


def real(model: str, backend: str, pool: int, difficulties: tuple[int, ...], seed: int, max_new_tokens: int,
         low: float, high: float, streams_file: str | None = None, covariate: bool = False,
         truth_samples: int = 0) -> None:
    from ponder.curate.runner import CurateConfig, build_pool
    from ponder.policy import load_policy
    from ponder.types import Sampling
    from ponder.verify import verify_batch

    cfg = CurateConfig(model=model, backend=backend, tasks=("arith",), levels=difficulties, pool=pool, seed=seed)
    problems = build_pool(cfg)
    t0 = time.time()
    saved: dict = {}
    if streams_file and Path(streams_file).exists():  # re-read earlier samples: rule variants compared offline
        saved = json.loads(Path(streams_file).read_text())
        if saved["ids"] != [p.id for p in problems]:
            raise SystemExit(f"{streams_file} holds another pool (model/pool/difficulties/seed differ)")
        streams = [[bool(x) for x in st] for st in saved["streams"]]
    else:
        policy = load_policy(model, backend=backend)
        outs = policy.generate([policy.render(p) for p in problems], n=N,
                               sampling=Sampling(temperature=1.0, max_new_tokens=max_new_tokens, stop=("</answer>",), seed=seed))
        scores = verify_batch([p for p in problems for _ in range(N)], [c.text for cs in outs for c in cs])
        streams = [[s >= 1.0 for s in scores[i * N:(i + 1) * N]] for i in range(len(problems))]
        # tokens a sample reads and writes (its prompt + its completion): the unit part (c) prices its forward pass in
        saved = {"model": model, "ids": [p.id for p in problems], "streams": [[int(x) for x in st] for st in streams],
                 "sample_tokens": sum(c.prompt_tokens + c.num_tokens for cs in outs for c in cs) / (N * len(problems))}
        if streams_file:
            Path(streams_file).write_text(json.dumps(saved))
    wall = time.time() - t0
    if covariate and "gold_logp" not in saved:  # deterministic, no sampling: added to a streams file drawn earlier
        gold, tokens = gold_logp(model, backend, problems)
        saved.update(gold_logp=gold, gold_tokens=tokens)
        if streams_file:
            Path(streams_file).write_text(json.dumps(saved))
    if truth_samples and saved.get("truth_samples") != truth_samples:  # more samples, another seed: pass rates
        policy = load_policy(model, backend=backend)
        outs = policy.generate([policy.render(p) for p in problems], n=truth_samples,
                               sampling=Sampling(temperature=1.0, max_new_tokens=max_new_tokens, stop=("</answer>",), seed=seed + 777))
        scores = verify_batch([p for p in problems for _ in range(truth_samples)], [c.text for cs in outs for c in cs])
        saved.update(truth_samples=truth_samples, truth_successes=[
            sum(s >= 1.0 for s in scores[i * truth_samples:(i + 1) * truth_samples]) for i in range(len(problems))])
        if streams_file:
            Path(streams_file).write_text(json.dumps(saved))
    ref = fixed(streams, low, high)
    keep = set(keep_counts(N, low, high))
    print(f"\n== {model} on arith d{','.join(map(str, difficulties))}, window [{low}, {high}]: {len(problems)} problems x {N} samples "
          f"(drawn once in {wall:.0f}s; decisions read off the same samples) ==")
    by_d: dict[int, list[int]] = {}
    for p, st in zip(problems, streams):
        by_d.setdefault(p.difficulty, []).append(sum(st))
    print("pass-rate histogram (successes of 16) per difficulty:")
    for d, cs in sorted(by_d.items()):
        print(f"  d{d}: mean {sum(cs) / (N * len(cs)):.2f}; all-fail {sum(c == 0 for c in cs)}, all-pass {sum(c == N for c in cs)}, "
              f"kept by fixed-16 {sum(c in keep for c in cs)} of {len(cs)}")
    print(f"{'method':<40} {'samples':>8} {'of fixed':>8} {'agree fixed-16':>14} {'kept':>5}")
    print(f"{'fixed 16':<40} {N * len(problems):>8} {1.0:>8.1%} {1.0:>14.1%} {ref.count(KEEP):>5}")
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(problems):
        groups.setdefault(p.difficulty, []).append(i)
    levels = [p.difficulty for p in problems]
    by_prior = [(label, rule, "group") for label, rule in variants(low, high)]
    by_prior += [("optimal, shared concentration, 4+1", StopRule(low=low, high=high), "shared"),
                 ("optimal, shared concentration, 2+1", StopRule(low=low, high=high, first_round=2), "shared"),
                 ("optimal, shared, refit every round, 2+1", StopRule(low=low, high=high, first_round=2), "refit")]
    for label, rule, how in by_prior:
        k = rule.first_round
        first = {d: ([sum(streams[i][:k]) for i in idx], [k] * len(idx)) for d, idx in groups.items()}
        if how == "refit":
            dec, used = refit_every_round(rule, streams, levels)
        else:  # --prior group: one fit per (task, difficulty); "shared": one concentration for all levels
            priors = fit_prior_shared(first) if how == "shared" else {d: fit_prior(*sk) for d, sk in first.items()}
            used, dec = 0, []
            for p, st in zip(problems, streams):
                d, n, _ = run_rule(rule, st, priors[p.difficulty])
                dec.append(d)
                used += n
        frac = used / (N * len(problems))
        agr = sum(a == b for a, b in zip(dec, ref)) / len(ref)
        ok = "  <- floor met" if frac <= FLOOR_FRACTION and agr >= FLOOR_AGREE else ""
        print(f"{label:<40} {used:>8} {frac:>8.1%} {agr:>14.1%} {dec.count(KEEP):>5}{ok}")
    # the pool's pass rates are unknown: fit each level's Beta prior on all 16 samples (an estimate,
    # not a proof) and ask what any rule that knew those priors would need
    fitted = [(*fit_prior([sum(streams[i]) for i in idx], [N] * len(idx)), len(idx)) for idx in groups.values()]
    frac, _ = bayes_bound_mix(fitted, low, high)
    print(f"{'Bayes-optimal bound (fitted priors)':<40} {'':>8} {frac:>8.1%} {FLOOR_AGREE:>14.1%}"
          f"   (fewest samples any rule needs, Beta priors fitted per level on all {N} samples)")
    # the same with a prior of any shape per level (nonparametric, fitted on all 16 samples): what a
    # rule that knew each level's pass-rate distribution would need, from one sample and from four
    free = [(discrete_predict(*fit_discrete_prior([sum(streams[i]) for i in idx], [N] * len(idx))), len(idx))
            for idx in groups.values()]
    for first in (1, 4):
        frac, _ = bound_predictive(free, low, high, first=first)
        print(f"{f'bound, any-shape priors, first round {first}':<40} {'':>8} {frac:>8.1%} {FLOOR_AGREE:>14.1%}")
    if covariate:
        covariate_rows(streams, levels, saved, low, high)
    if truth_samples:
        known_rate_bounds(streams, saved["truth_successes"], truth_samples, low, high)


# -- (c) beyond the correctness bit: the gold answer's likelihood as a covariate of the pass rate ----
def gold_logp(model: str, backend: str, problems) -> tuple[list[float], list[int]]:
    """Teacher-forced log pi(<answer>GOLD</answer> | prompt) per problem (the gold answered at once, no
    <think>), and the tokens each forward pass reads (prompt + gold): one pass per problem, no sampling."""
    import torch

    from ponder.format import format_completion
    from ponder.policy import load_policy
    from ponder.policy.prompts import encode_prompt

    if backend != "hf":
        raise SystemExit("--covariate needs the model's logits: --backend hf")
    policy = load_policy(model, backend=backend)
    out, tokens = [], []
    with torch.inference_mode():
        for p in problems:
            prompt = encode_prompt(policy.tokenizer, policy.render(p))
            gold = policy.tokenizer.encode(format_completion(p.answer), add_special_tokens=False)
            logits = policy.model(torch.tensor([prompt + gold], device=policy.device)).logits[0, len(prompt) - 1:-1]
            lp = torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(gold, device=policy.device)[:, None])
            out.append(float(lp.sum()))
            tokens.append(len(prompt) + len(gold))
    return out, tokens


_KAPPAS = [math.exp(math.log(1000.0) * i / 24) for i in range(25)]  # a + b: 1 .. 1000, log-spaced
_SLOPES = [i / 5 for i in range(16)]  # 0 .. 3 per standard deviation of the covariate
_INTERCEPTS = [-3 + i / 8 for i in range(81)]  # logit of the mean: -3 .. 7


def fit_prior_covariate(successes: list[int], trials: list[int], x: list[float],
                        groups: list[int]) -> tuple[list[tuple[float, float]], dict]:
    """One Beta prior per problem: logit(mean) = intercept[group] + slope * z(x), one concentration a + b
    for all (z: x standardised over the pool). Maximum beta-binomial likelihood on a grid; slope >= 0
    (x oriented so that larger means easier); slope 0 is `fit_prior_shared`'s model (the level alone).
    Returns the priors and the fit {kappa, slope, intercepts}."""
    import torch

    s, n = torch.tensor(successes, dtype=torch.float64), torch.tensor(trials, dtype=torch.float64)
    xs = torch.tensor(x, dtype=torch.float64)
    z = (xs - xs.mean()) / (xs.std(unbiased=False) if xs.std(unbiased=False) > 0 else 1.0)
    g = torch.tensor(groups)
    keys = sorted(set(groups))
    icpt = torch.tensor(_INTERCEPTS, dtype=torch.float64)[:, None]
    best = (-math.inf, 0.0, 0.0, {})
    for k in _KAPPAS:
        for b in _SLOPES:
            mu = torch.sigmoid(icpt + b * z[None, :]).clamp(1e-4, 1 - 1e-4)
            a_, b_ = mu * k, (1 - mu) * k
            ll = (torch.lgamma(a_ + s) + torch.lgamma(b_ + n - s) - torch.lgamma(a_ + b_ + n)
                  - torch.lgamma(a_) - torch.lgamma(b_) + torch.lgamma(a_ + b_))
            total, best_icpt = 0.0, {}
            for key in keys:
                col = ll[:, g == key].sum(1)
                j = int(col.argmax())
                total, best_icpt[key] = total + float(col[j]), _INTERCEPTS[j]
            if total > best[0]:
                best = (total, k, b, best_icpt)
    _, k, b, icpts = best
    mus = torch.sigmoid(torch.tensor([icpts[key] for key in groups], dtype=torch.float64) + b * z)
    return [(float(m) * k, (1 - float(m)) * k) for m in mus], {"kappa": k, "slope": b, "intercepts": icpts}


def _rounded(prior: tuple[float, float]) -> tuple[float, float]:
    """A per-problem prior on a grid (mean to 0.001, a + b to 1/8 in log), so plans are shared and cached."""
    k = math.exp(round(math.log(prior[0] + prior[1]) * 8) / 8)
    m = min(max(round(prior[0] / (prior[0] + prior[1]), 3), 0.001), 0.999)
    return (m * k, (1 - m) * k)


def covariate_rule(streams: list[list[bool]], priors: list[tuple[float, float]], first: int, low: float, high: float,
                   confidence: float = 0.95, one_lam: bool = False) -> tuple[list[str], int]:
    """The optimal rule with a prior per problem: a first round of `first`, then one sample at a time.
    Each problem's plan keeps its own expected disagreement <= 1 - confidence (each stop capped at
    STOP_CAP times that), or with `one_lam` one price of disagreement for the pool, bisected so that
    the pool's mean expected disagreement is <= 1 - confidence."""
    budget, schedule = round(1.0 - confidence, 12), tuple(range(first, N + 1))
    priors = [_rounded(p) for p in priors]
    if not one_lam:
        stops = [optimal_stops(a, b, low, high, N, schedule, budget, STOP_CAP * budget) for a, b in priors]
    else:
        count = {p: priors.count(p) for p in set(priors)}

        def at(lam):
            plans = {p: plan(*p, low, high, N, list(schedule), lam, STOP_CAP * budget) for p in count}
            return plans, sum(c * plans[p][2] for p, c in count.items()) / len(priors)

        plans, dis = at(1.0)
        if dis > budget:
            lo, hi = 0.0, 30.0
            plans = at(2.0 ** hi)[0]
            for _ in range(30):
                mid = (lo + hi) / 2
                trial, dis = at(2.0 ** mid)
                lo, hi, plans = (lo, mid, trial) if dis <= budget else (mid, hi, plans)
        stops = [plans[p][0] for p in priors]
    keep, used, out = set(keep_counts(N, low, high)), 0, []
    for st, (a, b), stop in zip(streams, priors, stops):
        n = first
        while n < N and (n, sum(st[:n])) not in stop:
            n += 1
        s = sum(st[:n])
        out.append((KEEP if s in keep else "drop") if n >= N
                   else KEEP if p_keep_predictive(s, n, a, b, low, high, N) >= 0.5 else "drop")
        used += n
    return out, used


def known_rate_bounds(streams: list[list[bool]], truth: list[int], m: int, low: float, high: float) -> None:
    """What a rule that knew every problem's pass rate exactly would need (each problem's rate read off
    its 16 + m samples): the ceiling of any covariate, since given its pass rate a problem's further
    samples are independent of anything known about it. From no sample, and from first rounds of 1 and 4."""
    rates: dict[float, int] = {}
    for st, t in zip(streams, truth):
        r = (sum(st) + t) / (N + m)
        rates[r] = rates.get(r, 0) + 1
    def known(r: float):  # the predictive of a known pass rate: Binomial(m, r), whatever was seen
        return lambda s, n, m: [math.comb(m, x) * r ** x * (1 - r) ** (m - x) for x in range(m + 1)]

    point = [(known(r), k) for r, k in rates.items()]
    for first in (0, 1, 4):
        frac, _ = bound_predictive(point, low, high, first=first)
        print(f"{f'bound, pass rates known ({N + m} samples), first {first}':<52} {frac:>8.1%} {'':>6} {FLOOR_AGREE:>14.1%}")


def _rank_corr(u: list[float], v: list[float]) -> float:
    import numpy as np

    ru, rv = np.argsort(np.argsort(u)), np.argsort(np.argsort(v))
    return float(np.corrcoef(ru, rv)[0, 1]) if ru.std() > 0 and rv.std() > 0 else float("nan")


def covariate_rows(streams: list[list[bool]], levels: list[int], saved: dict, low: float, high: float) -> None:
    """Part (c): rules whose prior also sees each problem's gold likelihood (`fit_prior_covariate` on
    x = pi(gold answered at once)), on the same samples as part (b); the forward passes priced in samples."""
    gold = saved["gold_logp"]
    x = [math.exp(v) for v in gold]
    per_sample = saved.get("sample_tokens")
    ref = fixed(streams, low, high)
    counts = [sum(st) for st in streams]
    print("\n-- (c) the gold answer's likelihood as a covariate (teacher-forced, one pass per problem) --")
    print("rank correlation of log pi(gold) with the 16-sample successes, per difficulty: "
          + ", ".join(f"d{d} {_rank_corr([gold[i] for i in idx], [counts[i] for i in idx]):+.2f}"
                      for d in sorted(set(levels)) for idx in [[i for i, lv in enumerate(levels) if lv == d]]))
    cost = 0.0
    if per_sample:  # FLOPs ~ 2 x params x tokens read: a pass over prompt + gold vs a sample's prompt + completion
        cost = sum(saved["gold_tokens"]) / len(gold) / per_sample / N
        print(f"its cost: {sum(saved['gold_tokens']) / len(gold):.1f} tokens per problem against {per_sample:.1f} per sample "
              f"(prompt + completion) = {cost * N:.2f} samples = {cost:.1%} of the fixed budget, added in '+gold'")
    else:
        print("its cost: unknown (this streams file holds no token counts: draw it again to price the gold pass)")
    print(f"{'method':<52} {'samples':>8} {'+gold':>6} {'agree fixed-16':>14} {'kept':>5}")
    rows = [("gold prior, first round 2", 2, 0.95, False, False, True),
            ("gold prior, first round 2, conf .97", 2, 0.97, False, False, True),
            ("gold prior, first round 2, conf .97, one lam", 2, 0.97, True, False, True),
            ("gold prior, first round 4", 4, 0.95, False, False, True),
            ("same fit, slope 0 (level only), first round 2", 2, 0.95, False, False, False),
            ("gold prior fitted on all 16 (optimistic), first 1", 1, 0.95, False, True, True),
            ("the same, one lam", 1, 0.95, True, True, True)]
    for label, first, conf, one_lam, on_all, use_x in rows:
        k = N if on_all else first
        priors, _ = fit_prior_covariate([sum(st[:k]) for st in streams], [k] * len(streams),
                                        x if use_x else [0.0] * len(x), levels)
        dec, used = covariate_rule(streams, priors, first, low, high, conf, one_lam)
        frac, agr = used / (N * len(streams)), sum(a == b for a, b in zip(dec, ref)) / len(ref)
        with_gold = frac + (cost if use_x else 0.0)
        ok = "  <- floor met" if with_gold <= FLOOR_FRACTION and agr >= FLOOR_AGREE else ""
        print(f"{label:<52} {frac:>8.1%} {with_gold:>6.1%} {agr:>14.1%} {dec.count(KEEP):>5}{ok}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=20000, help="synthetic pool size per population")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", help="model directory for part (b); omitted: synthetic only")
    ap.add_argument("--backend", default="hf")
    ap.add_argument("--pool", type=int, default=60, help="real problems (spread over the difficulties)")
    ap.add_argument("--difficulties", default="1-5")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--streams", help="JSON file of the real samples' outcomes: written after sampling, "
                                      "read instead of sampling when it exists (same model, pool, seed)")
    ap.add_argument("--window", default=",".join(map(str, WINDOW)), metavar="LOW,HIGH",
                    help="keep window (the demo curates with 0.05,1.0)")
    ap.add_argument("--no-synthetic", action="store_true", help="skip part (a)")
    ap.add_argument("--covariate", action="store_true",
                    help="part (c): rules whose prior also sees each problem's gold likelihood (hf; added to --streams)")
    ap.add_argument("--truth-samples", type=int, default=0, metavar="M",
                    help="M more samples per problem (another seed) to estimate each pass rate: the bound of a rule "
                         "that knew them (any covariate's ceiling; added to --streams)")
    args = ap.parse_args()
    from ponder.config import parse_int_list

    low, high = (float(x) for x in args.window.split(","))
    t0 = time.time()
    if not args.no_synthetic:
        synthetic(args.problems, args.seed, low, high)
        print(f"\n(synthetic part: {time.time() - t0:.1f}s)")
    if args.model:
        real(args.model, args.backend, args.pool, parse_int_list(args.difficulties), args.seed, args.max_new_tokens,
             low, high, args.streams, args.covariate, args.truth_samples)


if __name__ == "__main__":
    main()
