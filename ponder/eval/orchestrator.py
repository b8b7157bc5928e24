"""The orchestrator: the model decides whether and how to decompose; its sub-calls run in parallel.

    records = orchestrate(policy, problems, pool, max_new_tokens=256)

Each problem is solved twice by the same model, greedily, one problem at a time (so the wall time
is the latency a user of that one problem waits):
- orchestrated: a multi-turn rollout (`ponder.rollout.run_multiturn` with `SubCalls`): whatever
  the model writes between `<spawn>` tags runs as sub-calls, all of one join in one batched
  generate, their answers are pasted back and the model continues to its answer;
- serial: the model forced to solve without sub-calls (its completion started with `serial_suffix`,
  `<think>`, the first token of a linear trace, and no environment).

Nothing the task knows drives execution. The task's gold structure only *scores*: the spawned
sub-problems against `task.check_decomposition` (decomposition score), and each child's answer
against the gold part with the same prompt, when the task has `subproblems` (sub-call accuracy);
without them those scores are empty and everything else still runs.

Measured, never extrapolated: generated tokens (root + every sub-call), critical-path tokens (the
root's own plus the longest child at each join: `Rollout.critical_path_tokens`), serial tokens, and
the wall time of each run. On the tiny model on CPU a batched generate of k children costs about
one child, so the wall-time ratio follows the critical path; with a served backend it is the
concurrency of the server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ponder.format import extract_answer
from ponder.rollout import Limits, SubCalls, run_multiturn, spawns
from ponder.tasks import get_task
from ponder.types import Problem, Sampling

SERIAL_SUFFIX = "<think>"  # a linear trace's first token: the serial run is forced to start with it


def _norm(prompt: str) -> str:
    return "".join(prompt.split())


def gold_parts(task, problem: Problem) -> dict[str, str] | None:
    """{normalised sub-problem prompt: gold answer}, or None when the task has no gold structure."""
    sub = getattr(task, "subproblems", None)
    return None if sub is None else {_norm(s.prompt): s.answer for s in sub(problem)}


def orchestrate(policy, problems: Sequence[Problem], pool, *, max_new_tokens: int = 256, max_turns: int = 4,
                serial_suffix: str = SERIAL_SUFFIX) -> list[dict]:
    """One record per problem (see `ponder.metrics.abstraction.orchestration_metrics` for the fields)."""
    if not problems:
        return []
    greedy = Sampling.to_answer(temperature=0.0, max_new_tokens=max_new_tokens, seed=0)
    limits = Limits(max_turns=max_turns, max_tokens=max_new_tokens)
    env = SubCalls()
    trees, serials, walls, serial_walls = [], [], [], []
    for p in problems:
        t0 = time.perf_counter()
        trees.append(run_multiturn(policy, [policy.render(p)], env, greedy, limits)[0])
        walls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        serials.append(run_multiturn(policy, [policy.render(p, serial_suffix)], None, greedy, limits)[0])
        serial_walls.append(time.perf_counter() - t0)
    final = pool.submit(list(problems), [r.text for r in trees])
    serial = pool.submit(list(problems), [serial_suffix + r.text for r in serials]).result()
    final = final.result()
    records = []
    for p, r, s, w, sw, score, sscore in zip(problems, trees, serials, walls, serial_walls, final, serial):
        task = get_task(p.task)
        asked = [sp for seg in r.segments if seg.source == "policy" for sp in spawns(seg.text)]
        gold = gold_parts(task, p)
        check = getattr(task, "check_decomposition", None)
        sub_correct = [] if gold is None else [
            _norm(q) in gold and extract_answer(c.text) == gold[_norm(q)] for q, c in zip(asked, r.children)]
        records.append({
            "task": p.task, "problem_id": p.id, "difficulty": p.difficulty,
            "decomposed": bool(r.children), "sub_calls": len(r.children),
            "decomposition": check(";".join(q.rstrip("?") for q in asked), p) if check and asked else None,
            "sub_correct": sub_correct, "correct": score >= 1.0, "serial_correct": sscore >= 1.0,
            "tokens": r.generated_tokens, "critical_path_tokens": r.critical_path_tokens,
            "serial_tokens": s.generated_tokens, "wall_s": w, "serial_wall_s": sw,
            "text": r.text, "sub_texts": [c.text for c in r.children], "serial_text": serial_suffix + s.text,
        })
    return records
