"""Calibration: does effort follow difficulty? Pure functions over per-sample rows.

A row is a dict with at least: `problem_id`, `difficulty`, `correct` (bool), `has_think` (bool),
`num_tokens`, `think_tokens`, `answer_tokens`; outcome efficiency also reads `needed_tokens`
(filled by the runner with `needed_tokens` below).

Definitions (docs/eval.md has the long form):
- Think-rate: fraction of samples whose completion holds a `<think>` block.
- `spearman`: Spearman's rank correlation (Spearman 1904), ties given their mean rank, i.e.
  Pearson's r over mid-ranks (the same convention as scipy.stats.spearmanr).
- Outcome efficiency (Chen et al. 2024, "Do NOT Think That Much for 2+3=? On the Overthinking of
  o1-like LLMs", eq. 1): xi_O = (1/N) sum_i sigma_i * T^_i / T_i, with sigma_i = 1 for a correct
  sample, T_i its tokens and T^_i the tokens needed to reach the first correct answer.
  We report that (`outcome_efficiency_paper`) and the mean of T^_i / T_i over correct samples
  only (`outcome_efficiency`), which does not mix accuracy into the efficiency. Departure: the paper splits a trace into solution
  rounds with an LLM; we locate the point where the answer is determined mechanically (see
  `determined_at`) and count every token after it inside `<think>` as redundant.
- Overthinking / underthinking: see `over_under_thinking`.
- AUC of overthinking-adjusted accuracy (Aggarwal et al. 2025, "OptimalThinkingBench", sec. 2):
  OAA_t = (1/n) sum_i correct_i * 1[tokens_i < t] and AUC = (1/t_max) * integral_0^t_max OAA_t dt.
  The integral of that step function is exact: AUC = (1/n) sum_i correct_i * max(0, 1 - tokens_i/t_max).
  OTB counts thinking tokens and uses a fixed t_max; we default t_max to the evaluation's
  max_new_tokens, so AUC is in [0, 1] and 1 means every sample right with zero thinking.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from ponder.format import THINK_CLOSE, THINK_OPEN
from ponder.stats import mean


# -- rank correlation ----------------------------------------------------------------------
def rankdata(xs: Sequence[float]) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    if n != len(ys) or n < 2:
        return float("nan")
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return float("nan")  # a constant variable has no rank order
    return sxy / math.sqrt(sxx * syy)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rho with mid-ranks for ties; nan if either side is constant or n < 2."""
    return pearson(rankdata(xs), rankdata(ys))


# -- effort per difficulty -------------------------------------------------------------------
def effort_by_difficulty(rows: Sequence[dict]) -> dict[int, dict]:
    """Per difficulty: n, accuracy, think_rate and mean think / answer / total tokens."""
    levels: dict[int, list[dict]] = {}
    for r in rows:
        levels.setdefault(int(r["difficulty"]), []).append(r)
    return {
        d: {
            "n": len(rs),
            "accuracy": mean([float(bool(r["correct"])) for r in rs]),
            "think_rate": mean([float(bool(r["has_think"])) for r in rs]),
            "mean_tokens": mean([r["num_tokens"] for r in rs]),
            "mean_think_tokens": mean([r["think_tokens"] for r in rs]),
            "mean_answer_tokens": mean([r["answer_tokens"] for r in rs]),
        }
        for d, rs in sorted(levels.items())
    }


def effort_correlations(rows: Sequence[dict]) -> dict[str, float]:
    """Spearman rho of tokens against difficulty (per sample) and against failure rate (per problem)."""
    by_problem: dict[str, list[dict]] = {}
    for r in rows:
        by_problem.setdefault(r["problem_id"], []).append(r)
    fail = [1 - mean([float(bool(r["correct"])) for r in g]) for g in by_problem.values()]
    toks = [mean([r["num_tokens"] for r in g]) for g in by_problem.values()]
    return {
        "difficulty_vs_tokens": spearman([r["difficulty"] for r in rows], [r["num_tokens"] for r in rows]),
        "failure_rate_vs_tokens": spearman(fail, toks),
    }


# -- outcome efficiency ----------------------------------------------------------------------
def _find_value(value: str, text: str, start: int = 0) -> int | None:
    """End offset of `value` in text[start:] as a step's result, else as any whole token; None if absent.

    Whole token: "5" does not match inside "15", "5.2" or "x5". As a step's result: right after
    an "=" (spaces allowed), so "9" in "0+9=9" is found at the end, not as the operand.
    """
    body = r"(?<![\w.])" + re.escape(value.strip()) + r"(?![\w]|\.\d)"
    for pattern in (r"=\s*" + body, body):
        m = re.compile(pattern).search(text, start)
        if m:
            return m.end()
    return None


def determined_at(think: str, gold: str, trace_values: Sequence[str] | None = None) -> int | None:
    """Character offset in `think` just after the point where the correct answer is determined.

    With the task's `trace_values` (the intermediate results of the worked solution, in order),
    it is the end of the last value when all of them appear in order, each searched after the
    previous one; this keeps an early, coincidental appearance of the gold number from counting.
    Otherwise (or if the chain breaks) it is the end of the first appearance of the gold answer.
    Values are looked for as a step's result first, then anywhere (see `_find_value`).
    None if neither is found.
    """
    if trace_values:
        pos: int | None = 0
        for v in trace_values:
            pos = _find_value(str(v), think, pos)
            if pos is None:
                break
        else:
            return pos
    return _find_value(gold, think)


def needed_tokens(text: str, gold: str, num_tokens: int, think_tokens: int,
                  trace_values: Sequence[str] | None = None) -> int:
    """T^: tokens of the completion minus the redundant tail of its <think> block.

    The redundant tail is the think text after `determined_at`. Characters map to tokens at the
    completion's own think rate, think_tokens / (len(think text) + 2), the 2 being the two tags:
    exact for the tiny model's character-level tokenizer (one token per character, one per tag),
    a proportional estimate for subword tokenizers. No think block, or no answer found in it:
    nothing is redundant and T^ = num_tokens.
    """
    start = text.find(THINK_OPEN)
    if start < 0 or think_tokens <= 0:
        return num_tokens
    body_start = start + len(THINK_OPEN)
    end = text.find(THINK_CLOSE, body_start)
    think = text[body_start:] if end < 0 else text[body_start:end]
    at = determined_at(think, gold, trace_values)
    if at is None:
        return num_tokens
    per_char = think_tokens / (len(think) + 2)
    redundant = round((len(think) - at) * per_char)
    return max(0, num_tokens - redundant)


def outcome_efficiency(rows: Sequence[dict]) -> dict[str, float]:
    """{'outcome_efficiency': mean T^/T over correct samples, 'outcome_efficiency_paper': xi_O}."""
    ratios = [min(1.0, r["needed_tokens"] / r["num_tokens"]) for r in rows
              if r["correct"] and r["num_tokens"] > 0]
    return {
        "outcome_efficiency": mean(ratios),  # NaN without a correct sample: no efficiency to speak of
        "outcome_efficiency_paper": sum(ratios) / len(rows) if rows else float("nan"),
    }


# -- overthinking / underthinking -------------------------------------------------------------
def over_under_thinking(rows: Sequence[dict], reliable: float = 1.0) -> dict:
    """Effort spent where it was not needed, and accuracy lost where it was.

    Per problem p, split its samples into those with a <think> block (T) and without (A):
    - p is *solved reliably without thinking* when A is non-empty and acc(A) >= `reliable`.
    - overthinking tokens of a sample s in T on such a p: max(0, tokens(s) - mean tokens(A)).
      `overthinking_tokens` is their sum over all problems divided by the number of samples
      (extra tokens per sample); `overthinking_share` divides the same sum by all generated tokens.
    - underthinking: on problems with both T and A non-empty and acc(T) > acc(A), the no-think
      samples lost acc(T) - acc(A) each: underthinking = sum_p |A_p| * max(0, acc(T_p) - acc(A_p)) / N,
      the overall accuracy the model would gain had it thought on those samples (as well as it
      thinks on them elsewhere). Problems seen in one mode only contribute to neither.
    Returns those three numbers, the counts behind them, and `examples`: the overthinking samples
    as (row index, extra tokens), largest first.
    """
    by_problem: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_problem.setdefault(r["problem_id"], []).append(i)
    extra_total, lost, examples, n_reliable, n_mixed = 0.0, 0.0, [], 0, 0
    for idx in by_problem.values():
        think = [i for i in idx if rows[i]["has_think"]]
        plain = [i for i in idx if not rows[i]["has_think"]]
        if not plain:
            continue
        acc_a = mean([float(bool(rows[i]["correct"])) for i in plain])
        if acc_a >= reliable:
            n_reliable += 1
            base = mean([rows[i]["num_tokens"] for i in plain])
            for i in think:
                extra = max(0.0, rows[i]["num_tokens"] - base)
                extra_total += extra
                if extra > 0:
                    examples.append((i, extra))
        if think:
            n_mixed += 1
            acc_t = mean([float(bool(rows[i]["correct"])) for i in think])
            lost += len(plain) * max(0.0, acc_t - acc_a)
    n = len(rows)
    all_tokens = sum(r["num_tokens"] for r in rows)
    examples.sort(key=lambda e: (-e[1], e[0]))
    return {
        "overthinking_tokens": extra_total / n if n else float("nan"),
        "overthinking_share": extra_total / all_tokens if all_tokens else float("nan"),
        "underthinking": lost / n if n else float("nan"),
        "problems_reliable_without_think": n_reliable,
        "problems_both_modes": n_mixed,
        "examples": examples,
    }


# -- accuracy under a token budget ------------------------------------------------------------
def auc_oaa(correct: Sequence[bool], tokens: Sequence[float], t_max: float) -> float:
    """Area under overthinking-adjusted accuracy over thresholds 0..t_max, normalised by t_max."""
    if len(correct) != len(tokens) or t_max <= 0:
        raise ValueError("auc_oaa needs one token count per flag and t_max > 0")
    if not correct:
        return float("nan")
    return sum(max(0.0, 1 - t / t_max) for c, t in zip(correct, tokens) if c) / len(correct)


def accuracy_under_budget(correct: Sequence[bool], tokens: Sequence[float], thresholds: Sequence[float]) -> list[float]:
    """OAA_t for each t: the fraction of samples that are correct with fewer than t tokens."""
    n = len(correct)
    return [sum(1 for c, x in zip(correct, tokens) if c and x < t) / n if n else float("nan") for t in thresholds]
