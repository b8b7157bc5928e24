"""`curate(policy, problems, cfg)`: estimate every problem's pass rate adaptively, keep the learnable.

    from ponder.curate.runner import CurateConfig, curate
    result = curate(policy, problems, CurateConfig(window=(0.1, 0.9)))
    result.kept            # the problems whose pass rate lies in the window
    result.estimates       # one row per problem: successes, samples, pass_rate, p_keep, kept
    result.samples         # one row per sampled completion

The loop runs in lockstep rounds. Every problem still undecided gets its next round of samples
in ONE `Policy.generate` call (so a GPU backend sees one large batch per round), the completions
are scored with `ponder.verify.verify_batch` (the verifier worker pool, so model text never runs
in this process), and `StopRule.decide` retires the problems whose decision is already clear.
After the first round the empirical-Bayes prior is fitted per (task, difficulty) group
(`prior="group"`), over the whole pool (`"pool"`), or given ("A,B"); see estimate.py for the rule.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.curate.estimate import KEEP, RULES, StopRule, fit_prior
from ponder.errors import PonderError
from ponder.types import Problem, Sampling

MIN_GROUP = 8  # a (task, difficulty) group smaller than this borrows the whole pool's prior


@dataclass
class CurateConfig:
    """`ponder curate` options (also usable from Python)."""

    model: str | None = field(default=None, metadata={"help": "model directory (or served model name for --backend openai)"})
    backend: str = field(default="hf", metadata={"help": "policy backend: hf, vllm or openai"})
    base_url: str = field(default="", metadata={"help": "--backend openai: the server's base URL (default: $PONDER_OPENAI_BASE_URL, else $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1)"})
    tasks: tuple[str, ...] = field(default=("arith",), metadata={"help": "tasks to draw the pool from (comma-separated)"})
    difficulties: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={"help": "difficulty levels, e.g. 1-5 or 2,4"})
    pool: int = field(default=200, metadata={"help": "pool size: problems generated, spread evenly over tasks x difficulties"})
    seed: int = field(default=0, metadata={"help": "seed for problem generation and sampling"})
    window: tuple[float, ...] = field(default=(0.1, 0.9), metadata={"help": "keep problems whose pass rate lies in LOW,HIGH", "metavar": "LOW,HIGH"})
    max_samples: int = field(default=16, metadata={"help": "sample budget per problem: the fixed budget the rule approximates"})
    confidence: float = field(default=0.95, metadata={"help": "1-confidence bounds the expected disagreement with the max-samples decision"})
    first_round: int = field(default=4, metadata={"help": "samples in every problem's first round (the prior is fitted on these)"})
    round_size: int = field(default=1, metadata={"help": "samples per later round"})
    min_batch: int = field(default=0, metadata={"help": "when few problems remain, raise the round size so a round "
                                                        "generates at least this many samples (0 = off; trades samples for fewer, fuller calls)"})
    rule: str = field(default="optimal", metadata={"help": f"stopping rule: {', '.join(RULES)} (optimal: fewest samples "
                                                      "for an expected disagreement <= 1-confidence; predictive: every stop within it)"})
    prior: str = field(default="group", metadata={"help": "Beta prior: group (fit per task+difficulty), pool (one fit) or A,B"})
    success_at: float = field(default=1.0, metadata={"help": "a sample counts as a success when its score >= this"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (pass rates are measured at the training temperature)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold"})
    max_new_tokens: int = field(default=256, metadata={"help": "generation length limit"})
    verify_timeout: float = field(default=5.0, metadata={"help": "seconds per verification before it scores 0"})
    out: str | None = field(default=None, metadata={"help": "run directory (default runs/curate-<time>)"})

    def __post_init__(self) -> None:
        if len(self.window) != 2:
            raise PonderError(f"window must be LOW,HIGH (two numbers), got {','.join(map(str, self.window))}")
        if self.min_batch < 0:
            raise PonderError(f"min_batch must be >= 0, got {self.min_batch}")
        if self.pool < 1:
            raise PonderError(f"pool must be >= 1, got {self.pool}")
        if not self.tasks or not self.difficulties:
            raise PonderError("need at least one task and one difficulty level")
        if self.temperature < 0 or self.max_new_tokens < 1:
            raise PonderError("temperature must be >= 0 and max_new_tokens >= 1")
        self.stop_rule()  # validates window, confidence, rounds and rule name
        self.fixed_prior()  # validates prior

    def stop_rule(self) -> StopRule:
        return StopRule(low=float(self.window[0]), high=float(self.window[1]), confidence=self.confidence,
                        max_samples=self.max_samples, first_round=self.first_round, round_size=self.round_size,
                        rule=self.rule)

    def fixed_prior(self) -> tuple[float, float] | None:
        """The prior given as "A,B", or None for the fitted ones."""
        if self.prior in ("group", "pool"):
            return None
        try:
            a, b = (float(x) for x in self.prior.split(","))
        except ValueError:
            raise PonderError(f"prior must be group, pool or A,B (two positive numbers), got {self.prior!r}") from None
        if a <= 0 or b <= 0:
            raise PonderError(f"prior Beta(A,B) needs A, B > 0, got {self.prior!r}")
        return (a, b)


def build_pool(cfg: CurateConfig) -> list[Problem]:
    """`cfg.pool` problems, dealt round-robin over (task, difficulty) cells; PonderError on unknown tasks."""
    from ponder.tasks import get_task

    tasks = [get_task(t) for t in cfg.tasks]
    cells = [(t, d) for t in tasks for d in cfg.difficulties]
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


def curate(policy, problems: Sequence[Problem], cfg: CurateConfig, *, progress: bool = True,
           on_round: Callable[[dict], None] | None = None) -> CurateResult:
    """Adaptive pass-rate estimation of `problems` under `policy` (see the module docstring)."""
    from tqdm import tqdm

    rule = cfg.stop_rule()
    fixed = cfg.fixed_prior()
    problems = list(problems)
    if len({p.id for p in problems}) != len(problems):
        raise PonderError("problem ids must be unique within a pool")
    prompts = [policy.render(p) for p in problems]
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
        sampling = Sampling(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                            stop=("</answer>",), seed=cfg.seed * 1_000_003 + rnd)  # fresh samples each round
        tg = time.time()
        outs = policy.generate([prompts[i] for i in active], n=k, sampling=sampling)
        gen_s = time.time() - tg
        flat_p = [problems[i] for i in active for _ in range(k)]
        flat_c = [c for i, cs in zip(active, outs) for c in cs]
        tv = time.time()
        scores = _verify(flat_p, [c.text for c in flat_c], cfg.verify_timeout)
        ver_s = time.time() - tv
        for j, (p, c, sc) in enumerate(zip(flat_p, flat_c, scores)):
            i = active[j // k]
            ok = float(sc) >= cfg.success_at
            s[i] += ok
            tokens[i] += c.num_tokens
            samples.append({"problem_id": p.id, "task": p.task, "difficulty": p.difficulty, "round": rnd,
                            "sample": n[i] + j % k, "text": c.text, "score": float(sc), "success": ok,
                            "num_tokens": c.num_tokens, "finish_reason": c.finish_reason})
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
        row = {"round": rnd, "active": len(active), "samples_per_problem": k, "decided": len(active) - len(still),
               "kept_so_far": sum(d == KEEP for d in decision), "samples_so_far": sum(n),
               "generate_s": round(gen_s, 3), "verify_s": round(ver_s, 3)}
        if on_round:
            on_round(row)
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
        "wall_s": round(time.time() - t0, 3),
    }
    return CurateResult(estimates, samples, {g: [round(a, 4), round(b, 4)] for g, (a, b) in sorted(priors.items())}, stats)
