"""Adaptive pass-rate estimation: sample a problem in small rounds, stop once the decision is clear.

The question curation asks of each problem is binary: is its pass rate inside the learnability
window [low, high] (keep) or outside it (drop)? The usual answer spends a fixed budget of N
samples per problem (N = 16 here) and keeps the problem when c/N lies in the window. Most of that
budget is wasted: a problem that fails its first 6 samples, in a pool where most problems are
either always or never solved, almost surely fails (nearly) all 16.

Both rules below share the model:

    prior      p ~ Beta(a, b)          fitted to the pool by empirical Bayes (`fit_prior`) or given
    after s successes in n samples:    p | data ~ Beta(a + s, b + n - s)
    P(keep)  = P( (s + X) / N in [low, high] ),   X ~ BetaBinomial(N - n, a + s, b + n - s)
    a stop decides keep when P(keep) >= 1/2, else drop; at n = N the decision is c/N in [low, high].

P(keep) is the posterior-predictive probability that spending the rest of the fixed budget would
put the estimate in the window, so stopping at (n, s) disagrees with the fixed-N decision with
probability err(n, s) = min(P(keep), 1 - P(keep)) *when the prior describes the pool*.

rule="optimal" (the default) spends that error where it is cheapest. `plan` solves, by backward
induction over (n, s), the stopping rule with the fewest expected samples per problem for a
given expected disagreement (a Lagrangian: minimise E[samples] + lam * E[err]); `optimal_stops`
picks lam so that the expected disagreement under the prior is <= 1 - confidence, with no single
stop allowed an err above STOP_CAP x (1 - confidence). Its guarantee is pool-wide: the expected
disagreement with fixed-N is <= 1 - confidence under the prior.

rule="predictive" stops as soon as err(n, s) <= 1 - confidence (P(keep) >= confidence or
<= 1 - confidence): every single stop is within the budget, a stronger guarantee that costs more
samples, and whose cost jumps when the fitted prior moves a threshold by one sample (bench).

`plan_with` is `plan` for a prior of any shape, given by its posterior predictive (`beta_predict`,
`discrete_predict` for the nonparametric `fit_discrete_prior`); `fit_prior_shared` fits one Beta
per level with a concentration shared across levels. bench/curate.py uses both to measure what
the level can buy on a real pool (docs/curate.md: on the tiny warm start, nothing the default lacks).

The bounds are measured, not just argued: `simulate` draws a population, samples it, and counts
disagreements (tests/test_curate.py, bench/curate.py, docs/curate.md).

rule="credible" is the textbook alternative: stop when the posterior mass of the window itself,
P(low <= p <= high | data), is >= confidence or <= 1 - confidence. It targets the true pass rate
rather than the N-sample estimate, and needs more samples for the same agreement (bench/curate.py).

Departures from the usual description of "dynamic sampling" (DAPO): DAPO filters groups after
the fact (all-correct / all-wrong groups of the training batch are dropped); here the filter runs
ahead of training and stops sampling early, and the empirical-Bayes prior is what makes early
stopping pay off (with a flat prior, 0/4 still leaves a 49% chance of landing in the window).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from ponder.errors import PonderError
from ponder.stats import lbeta, beta_cdf

KEEP, DROP = "keep", "drop"
# The optimal rule never makes a single stop whose own chance of disagreeing exceeds this many
# times the budget 1 - confidence. Why: the pool-wide optimum happily accepts a 40% error in a
# state the fitted prior calls rare, and rare states are where a prior fitted on 20 problems is
# least trustworthy (the measurements: docs/curate.md, "Why the optimal rule, and why the cap").
STOP_CAP = 2.0


def betabinom_logpmf(x: int, m: int, a: float, b: float) -> float:
    """log P(X = x) for X ~ BetaBinomial(m, a, b)."""
    return math.lgamma(m + 1) - math.lgamma(x + 1) - math.lgamma(m - x + 1) + lbeta(a + x, b + m - x) - lbeta(a, b)


# -- the two stopping criteria: P(keep | s successes in n samples) ----------------------------
def keep_counts(max_samples: int, low: float, high: float) -> tuple[int, ...]:
    """Success counts c whose fixed-budget estimate c/N lies in the window (e.g. 2..14 for N=16)."""
    eps = 1e-12  # so that c/N == low exactly counts as inside despite float rounding
    return tuple(c for c in range(max_samples + 1) if low - eps <= c / max_samples <= high + eps)


def p_keep_predictive(s: int, n: int, a: float, b: float, low: float, high: float, max_samples: int) -> float:
    """P(the N-sample estimate lands in the window | s of n so far), under the Beta(a, b) prior."""
    m = max_samples - n
    a_post, b_post = a + s, b + n - s
    return min(1.0, sum(math.exp(betabinom_logpmf(c - s, m, a_post, b_post))
                        for c in keep_counts(max_samples, low, high) if 0 <= c - s <= m))


def p_keep_credible(s: int, n: int, a: float, b: float, low: float, high: float, max_samples: int) -> float:
    """Posterior mass of the window: P(low <= p <= high | s of n), under the Beta(a, b) prior."""
    a_post, b_post = a + s, b + n - s
    return max(0.0, beta_cdf(high, a_post, b_post) - beta_cdf(low, a_post, b_post))


# -- the optimal rule: fewest expected samples within a disagreement budget --------------------
Predict = Callable[[int, int, int], list[float]]  # (s, n, m) -> P(x successes in the next m), x = 0..m


def beta_predict(a: float, b: float) -> Predict:
    """The posterior predictive of a Beta(a, b) prior: BetaBinomial(m, a + s, b + n - s)."""
    return lambda s, n, m: [math.exp(betabinom_logpmf(x, m, a + s, b + n - s)) for x in range(m + 1)]


def plan(a: float, b: float, low: float, high: float, max_samples: int, schedule: Sequence[int],
         lam: float, cap: float = 1.0) -> tuple[frozenset[tuple[int, int]], float, float]:
    """Bayes-optimal stopping for one Beta(a, b) prior: minimise E[samples] + lam * E[disagreement].

    Backward induction over the states (n, s), n from schedule[0] to max_samples; from n the next
    check is the first schedule point above n (so states off the schedule, reached when a round
    is enlarged, still have a decision). Stopping at (n, s) costs lam * min(P(keep), 1 - P(keep))
    (the chance the decision differs from the fixed-budget one); going on costs the round's
    samples plus the expected value of the next state. Returns (the stopping states, expected
    samples per problem, expected disagreement), both expectations under the prior, following
    the schedule from its first round.
    """
    return plan_with(beta_predict(a, b), low, high, max_samples, schedule, lam, cap)


def plan_with(predict: Predict, low: float, high: float, max_samples: int, schedule: Sequence[int],
              lam: float, cap: float = 1.0) -> tuple[frozenset[tuple[int, int]], float, float]:
    """`plan` for any prior over the pass rate, given by its posterior predictive `predict`
    ((s, n) is sufficient for every prior: the samples of one problem are exchangeable)."""
    N, first = max_samples, schedule[0]
    keep = keep_counts(N, low, high)
    nxt = {n: min([m for m in schedule if m > n] or [N]) for n in range(first, N)}

    def p_keep(n: int, s: int) -> float:
        rest = predict(s, n, N - n)
        return min(1.0, sum(rest[c - s] for c in keep if 0 <= c - s <= N - n))

    err = {(n, s): min(pk, 1.0 - pk) for n in range(first, N + 1) for s in range(n + 1) for pk in [p_keep(n, s)]}
    value, stops = {}, set()
    for n in range(N, first - 1, -1):
        for s in range(n + 1):
            if n == N:
                value[n, s] = 0.0
                stops.add((n, s))
                continue
            m = nxt[n] - n
            go = m + sum(q * value[n + m, s + x] for x, q in enumerate(predict(s, n, m)))
            stop = lam * err[n, s] if err[n, s] <= cap else math.inf
            value[n, s] = min(go, stop)
            if stop <= go:
                stops.add((n, s))
    reach = dict(zip([(first, s) for s in range(first + 1)], predict(0, 0, first)))
    used = dis = 0.0
    for n in sorted({first, *schedule}):
        for s in range(n + 1):
            q = reach.pop((n, s), 0.0)
            if not q:
                continue
            if (n, s) in stops:
                used, dis = used + q * n, dis + q * err[n, s]
                continue
            m = nxt[n] - n
            for x, r in enumerate(predict(s, n, m)):
                reach[n + m, s + x] = reach.get((n + m, s + x), 0.0) + q * r
    return frozenset(stops), used, dis


@lru_cache(maxsize=1024)
def optimal_stops(a: float, b: float, low: float, high: float, max_samples: int, schedule: tuple[int, ...],
                  budget: float, cap: float = 1.0) -> frozenset[tuple[int, int]]:
    """The cheapest `plan` whose expected disagreement under Beta(a, b) is <= budget.

    Bisection on log2(lam) (disagreement falls as lam grows); lam = 2^30 only stops where the
    decision is already certain, which always meets the budget.
    """
    lo, hi = 0.0, 30.0
    cheapest = plan(a, b, low, high, max_samples, schedule, 1.0, cap)
    if cheapest[2] <= budget:
        return cheapest[0]
    best = plan(a, b, low, high, max_samples, schedule, 2.0 ** hi, cap)[0]
    for _ in range(40):
        mid = (lo + hi) / 2
        stops, _, dis = plan(a, b, low, high, max_samples, schedule, 2.0 ** mid, cap)
        if dis <= budget:
            hi, best = mid, stops
        else:
            lo = mid
    return best


# -- the rule table: how P(keep) is computed, and when to stop ----------------------------------
class Rule(NamedTuple):
    p_keep: Callable[..., float]  # (s, n, a, b, low, high, max_samples) -> P(keep)
    stop: Callable[["StopRule", int, int, tuple[float, float], float], bool]  # (rule, s, n, prior, P(keep))


def _stop_at_threshold(rule: "StopRule", s: int, n: int, prior: tuple[float, float], pk: float) -> bool:
    return pk >= rule.confidence or pk <= 1.0 - rule.confidence


def _stop_optimal(rule: "StopRule", s: int, n: int, prior: tuple[float, float], pk: float) -> bool:
    budget = round(1.0 - rule.confidence, 12)
    stops = optimal_stops(float(prior[0]), float(prior[1]), rule.low, rule.high, rule.max_samples,
                          tuple(rule.schedule()), budget, STOP_CAP * budget)
    return (n, s) in stops


RULES: dict[str, Rule] = {
    "optimal": Rule(p_keep_predictive, _stop_optimal),
    "predictive": Rule(p_keep_predictive, _stop_at_threshold),
    "credible": Rule(p_keep_credible, _stop_at_threshold),
}


@dataclass(frozen=True)
class StopRule:
    """When to stop sampling a problem, and what to decide.

    `first_round` samples for every problem, then `round_size` more per round, up to
    `max_samples`; after each round `decide` returns "keep", "drop" or None (sample more).
    """

    low: float = 0.1
    high: float = 0.9
    confidence: float = 0.95
    max_samples: int = 16
    first_round: int = 4
    round_size: int = 1
    rule: str = "optimal"

    def __post_init__(self) -> None:
        if not (0.0 <= self.low < self.high <= 1.0):
            raise PonderError(f"window must satisfy 0 <= LOW < HIGH <= 1, got {self.low},{self.high}")
        if not (0.5 < self.confidence < 1.0):
            raise PonderError(f"confidence must be in (0.5, 1), got {self.confidence}")
        if self.max_samples < 1 or self.first_round < 1 or self.round_size < 1:
            raise PonderError("max_samples, first_round and round_size must be >= 1")
        if self.rule not in RULES:
            raise PonderError(f"unknown stopping rule {self.rule!r} (available: {', '.join(RULES)})")

    def schedule(self) -> list[int]:
        """Cumulative sample counts at which the rule is checked, e.g. [4, 6, 8, ..., 16]."""
        ns = [min(self.first_round, self.max_samples)]
        while ns[-1] < self.max_samples:
            ns.append(min(ns[-1] + self.round_size, self.max_samples))
        return ns

    def next_round(self, n: int) -> int:
        """How many samples to draw next for a problem that has `n` so far."""
        if n == 0:
            return min(self.first_round, self.max_samples)
        return min(self.round_size, self.max_samples - n)

    def p_keep(self, s: int, n: int, prior: tuple[float, float] = (1.0, 1.0)) -> float:
        return _p_keep_cached(self.rule, s, n, float(prior[0]), float(prior[1]), self.low, self.high, self.max_samples)

    def decide(self, s: int, n: int, prior: tuple[float, float] = (1.0, 1.0)) -> str | None:
        if not 0 <= s <= n <= self.max_samples:
            raise ValueError(f"need 0 <= successes <= samples <= {self.max_samples}, got {s}/{n}")
        if n >= self.max_samples:  # the budget is spent: the fixed-budget decision, exactly
            return KEEP if s in keep_counts(self.max_samples, self.low, self.high) else DROP
        if n == 0:
            return None
        pk = self.p_keep(s, n, prior)
        if not RULES[self.rule].stop(self, s, n, prior, pk):
            return None
        return KEEP if pk >= 0.5 else DROP

    def fixed_decision(self, s: int, n: int) -> str:
        """The fixed-budget decision: keep when s/n lies in the window."""
        return KEEP if self.low - 1e-12 <= s / n <= self.high + 1e-12 else DROP


@lru_cache(maxsize=65536)
def _p_keep_cached(rule: str, s: int, n: int, a: float, b: float, low: float, high: float, max_samples: int) -> float:
    return RULES[rule].p_keep(s, n, a, b, low, high, max_samples)


# -- empirical-Bayes prior ---------------------------------------------------------------------
_GRID = [0.05 * (20.0 / 0.05) ** (i / 47) for i in range(48)]  # 0.05 .. 20, log-spaced


def fit_prior(successes: Sequence[int], trials: Sequence[int]) -> tuple[float, float]:
    """Beta(a, b) maximising the beta-binomial marginal likelihood of (successes, trials).

    A log-spaced grid over [0.05, 20]^2: robust where gradient fits fail (a pool whose first
    rounds are all 0/4 pushes the maximum to the boundary), and the bounds keep the prior from
    becoming certain. With no data the prior is Beta(1, 1).
    """
    if len(successes) != len(trials):
        raise ValueError("successes and trials differ in length")
    if not successes:
        return (1.0, 1.0)
    counts: dict[tuple[int, int], int] = {}
    for s, n in zip(successes, trials):
        counts[(int(s), int(n))] = counts.get((int(s), int(n)), 0) + 1
    best, best_ll = (1.0, 1.0), -math.inf
    for a in _GRID:
        for b in _GRID:
            ll = sum(k * betabinom_logpmf(s, n, a, b) for (s, n), k in counts.items())
            if ll > best_ll:
                best, best_ll = (a, b), ll
    return best


_KAPPA = [0.1 * 2000.0 ** (i / 59) for i in range(60)]  # a + b: 0.1 .. 200, log-spaced
_MEAN = [i / 100 for i in range(1, 100)]  # a / (a + b): 0.01 .. 0.99


def fit_prior_shared(groups: Mapping[Hashable, tuple[Sequence[int], Sequence[int]]]) -> dict[Hashable, tuple[float, float]]:
    """One Beta per group, sharing its concentration a + b across the groups, with a mean of its own.

    Groups: {key: (successes, trials)}, e.g. one per difficulty level of a task. Partial pooling:
    the spread of pass rates within a level is estimated from all levels' first rounds at once
    (100 problems instead of 20), while each level keeps its own mean. Maximum joint beta-binomial
    likelihood on a grid (concentration log-spaced over [0.1, 200], means 0.01 .. 0.99). Measured
    on the tiny warm start it is no cheaper than independent fits (docs/curate.md).
    """
    counts = {}
    for g, (succ, trials) in groups.items():
        if len(succ) != len(trials):
            raise ValueError("successes and trials differ in length")
        c: dict[tuple[int, int], int] = {}
        for s, n in zip(succ, trials):
            c[(int(s), int(n))] = c.get((int(s), int(n)), 0) + 1
        counts[g] = c
    best: dict[Hashable, tuple[float, float]] = {g: (1.0, 1.0) for g, c in counts.items() if not c}  # no data: flat
    counts = {g: c for g, c in counts.items() if c}
    best_ll = -math.inf
    for k in _KAPPA:
        ll, means = 0.0, {}
        for g, c in counts.items():
            m_ll, m = max((sum(w * betabinom_logpmf(s, n, mu * k, (1 - mu) * k) for (s, n), w in c.items()), mu)
                          for mu in _MEAN)
            ll, means[g] = ll + m_ll, m
        if ll > best_ll:
            best_ll = ll
            best.update({g: (means[g] * k, (1 - means[g]) * k) for g in counts})
    return best


def fit_discrete_prior(successes: Sequence[int], trials: Sequence[int], points: int = 51,
                       iters: int = 500) -> tuple[list[float], list[float]]:
    """The nonparametric maximum-likelihood prior: weights on the pass rates 0, 1/(points-1), .., 1
    (EM from uniform weights). Any shape (a point mass at 1 beside a bump at 0.8, which no Beta
    fits); bench/curate.py's bound uses it to ask what any rule that knew each level's pass-rate
    distribution would need."""
    ps = [i / (points - 1) for i in range(points)]
    pairs: dict[tuple[int, int], int] = {}
    for s, n in zip(successes, trials):
        pairs[(int(s), int(n))] = pairs.get((int(s), int(n)), 0) + 1
    lik = {sn: [p ** sn[0] * (1 - p) ** (sn[1] - sn[0]) for p in ps] for sn in pairs}
    w = [1.0 / points] * points
    total = sum(pairs.values()) or 1
    for _ in range(iters):
        new = [0.0] * points
        for sn, k in pairs.items():
            post = [wi * li for wi, li in zip(w, lik[sn])]
            z = sum(post) or 1.0
            new = [x + k * q / z for x, q in zip(new, post)]
        w = [x / total for x in new] if pairs else w
    return ps, w


def discrete_predict(ps: Sequence[float], weights: Sequence[float]) -> Predict:
    """The posterior predictive of a prior with `weights` on the pass rates `ps` (for `plan_with`).
    A state the prior calls impossible (3 of 4 under a point mass at p = 1) is read under equal
    weights on `ps`, so that every state has a decision."""
    def predict(s: int, n: int, m: int) -> list[float]:
        post = [w * p ** s * (1 - p) ** (n - s) for p, w in zip(ps, weights)]
        if sum(post) <= 0.0:
            post = [p ** s * (1 - p) ** (n - s) for p in ps]
        z = sum(post)
        return [math.comb(m, x) * sum(q * p ** x * (1 - p) ** (m - x) for p, q in zip(ps, post)) / z
                for x in range(m + 1)]
    return predict


# -- simulation: the rule's measured cost and error --------------------------------------------
def run_rule(rule: StopRule, outcomes: Sequence[Sequence[bool]], prior: tuple[float, float]) -> tuple[str, int, int]:
    """Apply `rule` to one problem's stream of outcomes (at least max_samples long).

    Returns (decision, samples used, successes among them). Samples are a prefix of the stream,
    so the comparison with the fixed-budget decision on the same stream is paired.
    """
    s = n = 0
    while True:
        k = rule.next_round(n)
        s += sum(bool(x) for x in outcomes[n:n + k])
        n += k
        d = rule.decide(s, n, prior)
        if d is not None:
            return d, n, s


def simulate(rule: StopRule, pass_rates: Sequence[float], seed: int = 0, prior: tuple[float, float] | None = None) -> dict:
    """Simulate Bernoulli sampling of problems with known pass rates; measure the rule.

    `prior=None` fits the prior from everyone's first round, as `ponder curate` does. Returns
    sample use relative to the fixed budget and the decision agreement with (a) the fixed-N
    decision on the same sample stream, (b) the true window membership, and fixed-N's own
    agreement with the truth for reference.
    """
    import random

    rng = random.Random(seed)
    streams = [[rng.random() < p for _ in range(rule.max_samples)] for p in pass_rates]
    if prior is None:
        k = rule.next_round(0)
        prior = fit_prior([sum(st[:k]) for st in streams], [k] * len(streams))
    used = agree_fixed = agree_true = fixed_true = 0
    for p, st in zip(pass_rates, streams):
        d, n, _ = run_rule(rule, st, prior)
        fixed = rule.fixed_decision(sum(st), rule.max_samples)
        truth = KEEP if rule.low <= p <= rule.high else DROP
        used += n
        agree_fixed += d == fixed
        agree_true += d == truth
        fixed_true += fixed == truth
    total = max(1, len(pass_rates))
    return {
        "problems": len(pass_rates),
        "prior": [round(prior[0], 4), round(prior[1], 4)],
        "samples": used,
        "fixed_samples": rule.max_samples * len(pass_rates),
        "sample_fraction": used / (rule.max_samples * total),
        "agree_fixed": agree_fixed / total,
        "agree_true": agree_true / total,
        "fixed_agree_true": fixed_true / total,
    }
