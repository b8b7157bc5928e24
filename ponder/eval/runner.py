"""The evaluation loop: batched generation through a Policy, verification in the worker pool.

    from ponder.eval import EvalConfig, evaluate, make_problems
    rows, metrics = evaluate(policy, make_problems(cfg), cfg)

Batching: problems go to `policy.generate` `cfg.batch_problems` at a time, with all `cfg.n`
samples of a problem in the same call. Each batch's completions are submitted to a
`ponder.verify.VerifierPool` (task.verify in worker processes, with a time limit) and the next
batch is generated while they are verified, so generation and verification overlap. With
`--ray`, Ray actors generate the batches (`fleet`; each batch keeps its own seed, so the rows are
the same) and this process only verifies and merges.
Plans, decompositions and trace positions are *parsed* here (no model text is executed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence

from ponder.eval.aggregate import compute_metrics
from ponder.eval.config import EvalConfig
from ponder.format import parse
from ponder.metrics.calibration import needed_tokens
from ponder.raytools import local_map
from ponder.tasks import get_task
from ponder.types import Completion, Problem, Sampling


def make_problems(cfg: EvalConfig) -> list[Problem]:
    """cfg.per_level problems per (task, difficulty), from cfg.data_seed; PonderError on bad names/levels."""
    tasks = [get_task(t) for t in cfg.tasks]
    for task in tasks:
        for d in cfg.levels:
            task.check_difficulty(d)
    return [p for task in tasks for d in cfg.levels for p in task.sample(cfg.per_level, d, seed=cfg.data_seed)]


def sampling_for(cfg: EvalConfig, batch: int) -> Sampling:
    """The sampling of batch `b`: every scoring stage's (`Sampling.to_answer`, stops at </answer>).

    A per-batch seed keeps a resumed run's batches identical to an uninterrupted run's.
    """
    return Sampling.to_answer(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                              seed=cfg.seed * 1000003 + batch)


def make_row(problem: Problem, c: Completion, sample: int, score: float, *, batch: int,
             gen_s: float, verify_s: float, scored_text: str | None = None, extracted_by: str | None = None,
             think_budget: int | None = None) -> dict:
    """One samples.parquet row: the problem, the completion, its tokens, score, plan and timings.

    `scored_text`: what the verifier read when it differs from `c.text` (lenient extraction appends
    the answer it found in ponder's tags); `pred` is taken from it, `well_formed` from the text."""
    task = get_task(problem.task)
    parsed = parse(c.text, math=task.math)
    trace = task.trace_values(problem) if hasattr(task, "trace_values") else None
    from ponder.tools import tool_fields

    row = {
        "problem_id": problem.id, "task": problem.task, "difficulty": problem.difficulty,
        "prompt": problem.prompt, "answer": problem.answer, "meta": json.dumps(problem.meta, sort_keys=True),
        "sample": sample, "batch": batch, "text": c.text,
        "pred": task.extract(c.text if scored_text is None else scored_text), "extracted_by": extracted_by,
        "think_budget": think_budget,
        "score": float(score), "correct": float(score) >= 1.0, "well_formed": parsed.well_formed,
        "finish_reason": c.finish_reason, "num_tokens": c.num_tokens, "think_tokens": c.think_tokens,
        "answer_tokens": c.answer_tokens, "prompt_tokens": c.prompt_tokens, "has_think": parsed.has_think,
        "has_plan": parsed.plan is not None, "plan": parsed.plan,
        "needed_tokens": needed_tokens(c.text, problem.answer, c.num_tokens, c.think_tokens, trace),
        "gen_s": gen_s, "verify_s": verify_s,
        "plannable": task.plannable, "decomposable": task.decomposable,
        "plan_parsed": None, "plan_valid": None, "plan_goal": None, "plan_adherence": None, "decomposition": None,
        **tool_fields(c),  # calls, errors, latency, injected tokens (zeros for a single-turn sample)
    }
    if task.plannable:
        check = task.check_plan(parsed.plan, problem)
        row.update(plan_parsed=check.parsed, plan_valid=check.valid, plan_goal=check.goal_reached,
                   plan_adherence=task.plan_adherence(c.text, problem) if check.parsed else None)
    if task.decomposable:
        row["decomposition"] = float(task.check_decomposition(parsed.plan, problem))
    return row


def _batches(problems: Sequence[Problem], size: int) -> list[tuple[int, list[Problem]]]:
    return [(b, list(problems[i:i + size])) for b, i in enumerate(range(0, len(problems), size))]


def effort_map(policy, units: Iterable[tuple], cfg: EvalConfig, budget: int | None) -> Iterable[list]:
    """`local_map` with cfg's thinking mode, think `budget` and instruction (ponder.policy.budget)."""
    from ponder.policy.budget import sample_with_effort

    if cfg.mode == "auto" and budget is None and not cfg.instruction:
        yield from local_map(policy, units)
        return
    for problems, n, sampling in units:
        yield sample_with_effort(policy, problems, n, sampling, cfg.mode, budget, cfg.instruction or None)


def run_batches(policy, problems: Sequence[Problem], cfg: EvalConfig, pool, *, skip: Iterable[str] = (),
                on_batch: Callable[[int, list[dict]], None] | None = None, progress: bool = True,
                fleet=None, budget: int | None = None, batch_offset: int = 0) -> list[dict]:
    """Sample and score every batch not wholly in `skip` (problem ids); rows in problem order.

    `on_batch(b, rows)` is called once per finished batch (`ponder.eval.run` writes a part file there).
    Verification of batch b runs in the pool while batch b+1 is generated. `fleet` (a
    `ponder.raytools.Fleet`): the batches are generated by its actors instead of `policy`, several
    at once; a batch is one unit with its own seed, so the rows are the same either way.
    `budget`: the think budget of every sample (rows carry it); `batch_offset` is added to the
    batch numbers `on_batch` sees, so each budget of a sweep writes its own part files while its
    batches keep the seeds of batch 0, 1, ... (every budget sees the same draws: a paired curve).
    """
    from tqdm import tqdm

    from ponder.format import EXTRACTIONS

    extraction = EXTRACTIONS[cfg.extract]
    skip = set(skip)
    todo = [(b, ps) for b, ps in _batches(problems, cfg.batch_problems) if not all(p.id in skip for p in ps)]
    desc = "eval" if budget is None else f"eval (think budget {budget})"
    bar = tqdm(total=sum(len(ps) for _, ps in todo) * cfg.n, desc=desc, unit="sample", disable=not progress,
               dynamic_ncols=True)
    rows: list[dict] = []
    pending = None

    def finish(item) -> None:
        b, ps, outs, scored, fut, gen_s, t_submit, done = item
        scores = fut.result()
        verify_s = (done.get("t", time.perf_counter()) - t_submit) / max(1, len(scores))
        batch_rows = []
        for i, (p, cs) in enumerate(zip(ps, outs)):
            for j, c in enumerate(cs):
                text, rule = scored[i * cfg.n + j]
                batch_rows.append(make_row(p, c, j, scores[i * cfg.n + j], batch=b + batch_offset, gen_s=gen_s,
                                           verify_s=verify_s, scored_text=text if text != c.text else None,
                                           extracted_by=rule, think_budget=budget))
        if on_batch is not None:
            on_batch(b + batch_offset, batch_rows)
        rows.extend(batch_rows)

    units = ((ps, cfg.n, sampling_for(cfg, b)) for b, ps in todo)
    outs_of = fleet.map(units) if fleet is not None else effort_map(policy, units, cfg, budget)
    try:
        t0 = time.perf_counter()
        for (b, ps), outs in zip(todo, outs_of):
            gen_s = (time.perf_counter() - t0) / max(1, len(ps) * cfg.n)  # with a fleet: wall time per sample
            flat_p = [p for p, cs in zip(ps, outs) for _ in cs]
            scored = [extraction(c.text, math=get_task(p.task).math) for p, cs in zip(ps, outs) for c in cs]
            flat_t = [text for text, _ in scored]
            done: dict = {}
            t_submit = time.perf_counter()
            fut = pool.submit(flat_p, flat_t)
            fut.add_done_callback(lambda _f, done=done: done.setdefault("t", time.perf_counter()))
            if pending is not None:
                finish(pending)
            pending = (b, ps, outs, scored, fut, gen_s, t_submit, done)
            bar.update(len(flat_t))
            t0 = time.perf_counter()
        if pending is not None:
            finish(pending)
    finally:
        bar.close()
    return rows


class _TimedPool:
    """A pool whose submit applies the eval's per-item verification time limit."""

    def __init__(self, pool, timeout_s: float):
        self.pool, self.timeout_s = pool, timeout_s

    def submit(self, problems, completions):
        return self.pool.submit(problems, completions, timeout_s=self.timeout_s)


def with_tools(policy, spec: str):
    """`policy` whose samples are tool rollouts with the tools `spec` names (`ponder.tools.ToolPolicy`),
    in the call format its tokenizer's chat template writes (the plain tag format without one)."""
    from ponder.tools import ToolPolicy, Tools, format_for

    return ToolPolicy(policy, Tools.from_spec(spec, fmt=format_for(getattr(policy, "tokenizer", None))))


def needs_driver_policy(cfg: EvalConfig) -> bool:
    """Whether the driver itself samples: always without --ray; with it, only for the orchestrator's
    multi-turn rollouts of decomposable tasks (they are not sharded over the actors)."""
    return not cfg.ray_enabled or (cfg.orchestrate and any(get_task(t).decomposable for t in cfg.tasks))


def policy_params(policy, cfg: EvalConfig) -> int | None:
    """The backend's parameter count, else --params (None when neither knows)."""
    return getattr(policy, "num_params", None) or cfg.params


def evaluate(policy, problems: Sequence[Problem], cfg: EvalConfig, *, pool=None, progress: bool = True,
             skip: Iterable[str] = (), on_batch: Callable[[int, list[dict]], None] | None = None,
             orchestration: bool | None = None, fleet=None) -> tuple[list[dict], dict]:
    """Evaluate an already loaded `policy` on `problems`: (per-sample rows, metrics dict).

    `ponder.eval.run` calls this inside a run directory. Each of cfg.budgets is evaluated in turn
    (one pass without a budget when none is set); `skip` holds problem ids (skipped at every
    budget) or (problem id, think budget) pairs (skipped at that budget). `pool` (a `ponder.verify.VerifierPool`)
    defaults to the process-wide `shared_pool`, so repeated calls do not respawn workers.
    Decomposable tasks also go through the orchestrator when cfg.orchestrate (or
    `orchestration`) is on; its records land in metrics["abstraction"] and in
    metrics["orchestration_records"]. `skip` / `on_batch` / `fleet`: see `run_batches` (with a
    fleet, `policy` may be None unless the orchestrator needs it: `needs_driver_policy`).
    """
    from ponder.eval.orchestrator import orchestrate
    from ponder.verify import shared_pool

    t0 = time.perf_counter()
    pool = _TimedPool(shared_pool(cfg.verify_workers) if pool is None else pool, cfg.verify_timeout)
    skip = set(skip)
    n_batches = -(-len(problems) // cfg.batch_problems)
    rows = []
    sampler = with_tools(policy, cfg.tools) if cfg.tools else policy
    for k, budget in enumerate(cfg.budgets):
        done = {s for s in skip if isinstance(s, str)} | {s[0] for s in skip if isinstance(s, tuple) and s[1] == budget}
        rows += run_batches(sampler, problems, cfg, pool, skip=done, on_batch=on_batch, progress=progress, fleet=fleet,
                            budget=budget, batch_offset=k * n_batches)
    records: list[dict] = []
    if cfg.orchestrate if orchestration is None else orchestration:
        dec = [p for p in problems if get_task(p.task).decomposable]
        if dec:
            records = orchestrate(policy, dec, pool, max_new_tokens=cfg.max_new_tokens)
    wall_s = time.perf_counter() - t0
    params = (fleet.num_params() if fleet is not None else None) or policy_params(policy, cfg)
    metrics = compute_metrics(rows, orchestration=records, params=params,
                              wall_s=wall_s, max_new_tokens=cfg.max_new_tokens, strategy=cfg.strategy)
    metrics["orchestration_records"] = records
    return rows, metrics
