"""`curate(policy, problems, cfg)`: estimate every problem's pass rate adaptively, keep the learnable.

    from ponder.curate import CurateConfig, build_pool, curate
    cfg = CurateConfig(window=(0.1, 0.9))
    result = curate(policy, build_pool(cfg), cfg)
    result.kept            # the problems whose pass rate lies in the window
    result.estimates       # one row per problem: successes, samples, pass_rate, p_keep, kept
    result.samples         # one row per sampled completion

The loop runs in lockstep rounds. Every problem still undecided gets its next round of samples
in ONE `Policy.generate` call (so a GPU backend sees one large batch per round), the completions
are scored with `ponder.verify.verify_batch` (the verifier worker pool, so model text never runs
in this process), and `StopRule.decide` retires the problems whose decision is already clear.
After the first round the empirical-Bayes prior is fitted per (task, difficulty) group
(`prior="group"`), over the whole pool (`"pool"`), or given ("A,B"); see estimate.py for the rule.
Every round samples with `Sampling.to_answer` (the sampling every scoring stage uses) and its own
seed (per chunk of `batch_problems` problems when set: `round_units`; with `--ray` Ray actors
generate the chunks, with the same samples), so a round's samples depend only on which problems are still active: a resumed run replays
its finished rounds from disk (`done_rounds`) and ends where an uninterrupted one would.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ponder.curate.config import CurateConfig
from ponder.curate.estimate import KEEP, StopRule, fit_prior
from ponder.errors import PonderError
from ponder.types import Problem, Sampling

MIN_GROUP = 8  # a (task, difficulty) group smaller than this borrows the whole pool's prior


def build_pool(cfg: CurateConfig) -> list[Problem]:
    """`cfg.pool` problems, dealt round-robin over (task, difficulty) cells; PonderError on unknown tasks."""
    from ponder.tasks import get_task

    tasks = [get_task(t) for t in cfg.tasks]
    cells = [(t, d) for t in tasks for d in cfg.levels]
    for t, d in cells:
        t.check_difficulty(d)
    return [cells[i % len(cells)][0].generate(cfg.seed, i // len(cells), cells[i % len(cells)][1]) for i in range(cfg.pool)]


@dataclass
class CurateResult:
    estimates: list[dict]  # one per problem: Problem fields + successes, samples, pass_rate, p_keep, kept, ...
    samples: list[dict]  # one per completion
    priors: dict[str, list[float]]  # "task/dN" -> [a, b]
    stats: dict[str, Any]

    @property
    def kept(self) -> list[dict]:
        return [e for e in self.estimates if e["kept"]]


def _group(p: Problem) -> str:
    return f"{p.task}/d{p.difficulty}"


def _fit_priors(problems: Sequence[Problem], s: list[int], n: list[int], mode: str) -> dict[str, tuple[float, float]]:
    whole = fit_prior(s, n)
    if mode == "pool":
        return {_group(p): whole for p in problems}
    idx: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(problems):
        idx[_group(p)].append(i)
    return {g: (fit_prior([s[i] for i in ii], [n[i] for i in ii]) if len(ii) >= MIN_GROUP else whole)
            for g, ii in idx.items()}


def _verify(problems: list[Problem], texts: list[str], timeout_s: float) -> list[float]:
    from ponder.verify import verify_batch

    return verify_batch(problems, texts, timeout_s=timeout_s)


def round_size(rule: StopRule, n: int, active: int, min_batch: int = 0) -> int:
    """Samples per active problem this round: the rule's round, raised to fill `min_batch`.

    Why: each round costs one generate call that waits for its longest completion, so a round
    of a few problems x 1 sample wastes the backend. Any n is valid for `StopRule.decide`.
    """
    k = rule.next_round(n)
    if n > 0 and min_batch > 0:
        k = max(k, -(-min_batch // max(1, active)))
    return min(k, rule.max_samples - n)


def chunk_seed(cfg: CurateConfig, rnd: int, chunk: int) -> int:
    """The sampling seed of chunk `chunk` of round `rnd` (chunk 0: the round's seed as always, so
    batch_problems=0, one chunk per round, samples as before)."""
    return cfg.seed * 1_000_003 + rnd + chunk * 2**32


def round_units(problems: list[Problem], active: list[int], k: int, rnd: int, cfg: CurateConfig) -> list[tuple]:
    """One round's generate calls as (problems, n, sampling) units: the active problems in chunks of
    cfg.batch_problems (all of them when 0), each with its own seed. Why chunks with their own seeds:
    the hf backend draws noise for a whole call at once, so a prompt's samples depend on the other
    prompts of its call; fixed chunks make a round's samples the same on one process or many actors."""
    size = cfg.batch_problems or max(1, len(active))
    units = []
    for c, i in enumerate(range(0, len(active), size)):
        sampling = Sampling.to_answer(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                                      seed=chunk_seed(cfg, rnd, c))  # fresh samples each round
        units.append(([problems[j] for j in active[i:i + size]], k, sampling))
    return units


def _sample_round(generate_units, problems: list[Problem], active: list[int], n: list[int], k: int,
                  rnd: int, cfg: CurateConfig) -> tuple[list[dict], float, float]:
    """One round: k fresh samples of every active problem, scored in the verifier pool.
    `generate_units`: `ponder.raytools.local_map` bound to the policy, or a `Fleet`'s map.
    Returns (sample rows in active order, generation seconds, verification seconds)."""
    tg = time.time()
    outs = [cs for chunk in generate_units(round_units(problems, active, k, rnd, cfg)) for cs in chunk]
    gen_s = time.time() - tg
    flat_p = [problems[i] for i in active for _ in range(k)]
    flat_c = [c for cs in outs for c in cs]
    tv = time.time()
    scores = _verify(flat_p, [c.text for c in flat_c], cfg.verify_timeout)
    ver_s = time.time() - tv
    rows = [{"problem_id": p.id, "task": p.task, "difficulty": p.difficulty, "round": rnd,
             "sample": n[active[j // k]] + j % k, "text": c.text, "score": float(sc),
             "success": float(sc) >= cfg.success_at, "num_tokens": c.num_tokens, "finish_reason": c.finish_reason}
            for j, (p, c, sc) in enumerate(zip(flat_p, flat_c, scores))]
    return rows, gen_s, ver_s


def _check_replay(rows: list[dict], active_ids: list[str], k: int, rnd: int) -> None:
    """PonderError unless a stored round holds k samples of exactly the problems active now."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r["problem_id"]] += 1
    if set(counts) != set(active_ids) or any(c != k for c in counts.values()):
        raise PonderError(f"--resume: the stored round {rnd} does not match this pool and config "
                          f"({len(rows)} samples of {len(counts)} problems, expected {k} each of {len(active_ids)}); "
                          "use a new --out")


def curate(policy, problems: Sequence[Problem], cfg: CurateConfig, *, progress: bool = True,
           on_round: Callable[[dict], None] | None = None,
           on_samples: Callable[[int, list[dict]], None] | None = None,
           done_rounds: Sequence[Sequence[dict]] = (), elapsed_s: float = 0.0, fleet=None) -> CurateResult:
    """Adaptive pass-rate estimation of `problems` under `policy` (see the module docstring).

    After each sampled round, `on_round(metrics row)` then `on_samples(round, sample rows)` are
    called (`ponder.curate.run` logs the first and writes the second to a part file).
    `done_rounds`: the sample rows of rounds an earlier session finished, replayed in place of
    sampling them again; `elapsed_s`: that session's wall time, so `stats["wall_s"]` counts both.
    `fleet` (a `ponder.raytools.Fleet`): each round's chunks are generated by its actors instead of
    `policy` (which may then be None); the samples are the same (`round_units`).
    """
    from functools import partial

    from tqdm import tqdm

    from ponder.raytools import local_map

    rule = cfg.stop_rule()
    fixed = cfg.fixed_prior()
    problems = list(problems)
    index = {p.id: i for i, p in enumerate(problems)}
    if len(index) != len(problems):
        raise PonderError("problem ids must be unique within a pool")
    generate_units = fleet.map if fleet is not None else partial(local_map, policy)
    N = len(problems)
    s, n, tokens = [0] * N, [0] * N, [0] * N
    decision: list[str | None] = [None] * N
    p_keep: list[float] = [float("nan")] * N
    rounds_of: list[int] = [0] * N
    priors: dict[str, tuple[float, float]] = {}
    samples: list[dict] = []
    active = list(range(N))
    bar = tqdm(total=N, desc="curate", unit="problem", disable=not progress, leave=False)
    t0, rnd = time.time(), 0
    while active:
        k = round_size(rule, n[active[0]], len(active), cfg.min_batch)  # lockstep: every active problem has the same n
        replayed = rnd < len(done_rounds)
        if replayed:
            rows = list(done_rounds[rnd])
            _check_replay(rows, [problems[i].id for i in active], k, rnd)
            gen_s = ver_s = 0.0
        else:
            rows, gen_s, ver_s = _sample_round(generate_units, problems, active, n, k, rnd, cfg)
        for r in rows:
            i = index[r["problem_id"]]
            s[i] += bool(r["success"])
            tokens[i] += int(r["num_tokens"])
        samples.extend(rows)
        for i in active:
            n[i] += k
            rounds_of[i] = rnd + 1
        if rnd == 0:
            priors = ({_group(p): fixed for p in problems} if fixed
                      else _fit_priors(problems, s, n, cfg.prior))
        still = []
        for i in active:
            prior = priors[_group(problems[i])]
            decision[i] = rule.decide(s[i], n[i], prior)
            p_keep[i] = rule.p_keep(s[i], n[i], prior) if n[i] < rule.max_samples else float(decision[i] == KEEP)
            if decision[i] is None:
                still.append(i)
        bar.update(len(active) - len(still))
        if not replayed:
            row = {"round": rnd, "active": len(active), "samples_per_problem": k, "decided": len(active) - len(still),
                   "kept_so_far": sum(d == KEEP for d in decision), "samples_so_far": sum(n),
                   "generate_s": round(gen_s, 3), "verify_s": round(ver_s, 3),
                   "elapsed_s": round(elapsed_s + time.time() - t0, 3)}
            if on_round:
                on_round(row)
            if on_samples:
                on_samples(rnd, rows)
        active, rnd = still, rnd + 1
    bar.close()
    estimates = []
    for i, p in enumerate(problems):
        prior = priors.get(_group(p), (1.0, 1.0))
        estimates.append({
            **p.to_dict(),
            "successes": s[i],
            "samples": n[i],
            "pass_rate": s[i] / n[i],
            "posterior_mean": (prior[0] + s[i]) / (prior[0] + prior[1] + n[i]),
            "p_keep": p_keep[i],
            "kept": decision[i] == KEEP,
            "rounds": rounds_of[i],
            "tokens": tokens[i],
        })
    total = sum(n)
    stats = {
        "problems": N,
        "kept": sum(e["kept"] for e in estimates),
        "samples": total,
        "fixed_budget_samples": rule.max_samples * N,
        "sample_fraction": total / max(1, rule.max_samples * N),
        "tokens": sum(tokens),
        "rounds": rnd,
        "wall_s": round(elapsed_s + time.time() - t0, 3),
    }
    return CurateResult(estimates, samples, {g: [round(a, 4), round(b, 4)] for g, (a, b) in sorted(priors.items())}, stats)
