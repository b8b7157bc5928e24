"""Skills: can the model solve the problems? Accuracy with intervals, pass@k, maj@k, best-of-N.

Pure functions over plain Python values; the evaluation runner feeds them per-sample rows.

- `wilson_interval`: the Wilson score interval for a binomial proportion (Wilson 1927,
  "Probable inference, the law of succession, and statistical inference", JASA 22).
- `pass_at_k`: the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models
  Trained on Code", eq. 1): 1 - C(n-c, k) / C(n, k), computed as the product
  1 - prod_{i=n-c+1}^{n} (1 - k / i), which never forms a large binomial coefficient.
- `majority_vote` / `maj_at_k`: self-consistency (Wang et al. 2022, "Self-Consistency Improves
  Chain of Thought Reasoning") over extracted answers. Departure: the paper does not fix
  tie-breaking; here the tied answer whose first vote comes earliest in sample order wins, and
  samples without an extracted answer do not vote. maj@k is the mean over all size-k subsets
  (kept in sample order) when there are at most `max_subsets` of them, else over that many
  seeded random subsets.
- `best_of_n_index`: the sample a verifier picks (highest score, earliest on ties). With the
  task's own verifier as the picker, best-of-N accuracy equals pass@N.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence

from ponder.stats import mean

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (lo, hi) for `successes` out of `n`; (0, 1) when n == 0."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) is correct."""
    if not 0 <= c <= n or k < 1 or n < 1:
        raise ValueError(f"pass_at_k needs 0 <= c <= n, n >= 1, k >= 1; got n={n}, c={c}, k={k}")
    if k > n:
        raise ValueError(f"pass_at_k needs k <= n; got n={n}, k={k}")
    if n - c < k:  # every size-k subset holds a correct sample
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def normalize_answer(answer: str | None) -> str | None:
    """Votes compare answers with all whitespace removed; None (no answer) stays None."""
    return None if answer is None else "".join(answer.split())


def majority_vote(answers: Sequence[str | None]) -> int | None:
    """Index of the sample whose answer wins the vote (its first occurrence), or None if none voted.

    Ties go to the answer whose first vote comes earliest.
    """
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, a in enumerate(answers):
        key = normalize_answer(a)
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, i)
    if not counts:
        return None
    best = max(counts, key=lambda a: (counts[a], -first[a]))
    return first[best]


def _subsets(n: int, k: int, max_subsets: int, seed: int) -> list[tuple[int, ...]]:
    if math.comb(n, k) <= max_subsets:
        return list(itertools.combinations(range(n), k))
    rng = random.Random(seed)
    return [tuple(sorted(rng.sample(range(n), k))) for _ in range(max_subsets)]


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int,
             max_subsets: int = 256, seed: int = 0) -> float:
    """Expected accuracy of the majority answer of k of these samples (see module docstring).

    `correct[i]` says whether sample i's answer is right; a vote nobody casts counts as wrong.
    """
    n = len(answers)
    if len(correct) != n or not 1 <= k <= n:
        raise ValueError(f"maj_at_k needs 1 <= k <= n and one flag per answer; got n={n}, k={k}")
    subsets = _subsets(n, k, max_subsets, seed)
    hits = 0
    for s in subsets:
        w = majority_vote([answers[i] for i in s])
        hits += w is not None and bool(correct[s[w]])
    return hits / len(subsets)


def best_of_n_index(scores: Sequence[float]) -> int:
    """Index of the highest-scoring sample (earliest on ties): the verifier's pick."""
    if not scores:
        raise ValueError("best_of_n_index needs at least one score")
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def accuracy_table(rows: Sequence[dict], keys: Sequence[str] = ("task", "difficulty")) -> list[dict]:
    """Accuracy with a 95% Wilson interval per group of `keys`; rows need `correct` (bool).

    Each sample counts once (samples of one problem are not independent, so the interval is
    somewhat too narrow when n > 1 samples per problem; it is exact for n = 1).
    """
    groups: dict[tuple, list[bool]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(bool(r["correct"]))
    out = []
    for key in sorted(groups):
        flags = groups[key]
        lo, hi = wilson_interval(sum(flags), len(flags))
        out.append({**dict(zip(keys, key)), "n": len(flags), "accuracy": sum(flags) / len(flags), "lo": lo, "hi": hi})
    return out


def group_by_problem(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """Rows keyed by `problem_id`, each list in `sample` order."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["problem_id"], []).append(r)
    for g in groups.values():
        g.sort(key=lambda r: r.get("sample", 0))
    return groups


def pass_and_maj_curves(rows: Sequence[dict], ks: Sequence[int] | None = None) -> dict[str, dict[int, float]]:
    """Mean pass@k and maj@k over problems, for k = 1, 2, 4, ... up to the smallest group size."""
    groups = list(group_by_problem(rows).values())
    if not groups:
        return {"pass": {}, "maj": {}}
    n_min = min(len(g) for g in groups)
    if ks is None:
        ks = sorted({1, n_min} | {2**i for i in range(1, 16) if 2**i <= n_min})
    ks = [k for k in ks if 1 <= k <= n_min]
    curves: dict[str, dict[int, float]] = {"pass": {}, "maj": {}}
    for k in ks:
        curves["pass"][k] = mean([pass_at_k(len(g), sum(bool(r["correct"]) for r in g), k) for g in groups])
        curves["maj"][k] = mean(
            [maj_at_k([r.get("pred") for r in g], [bool(r["correct"]) for r in g], k) for g in groups])
    return curves
