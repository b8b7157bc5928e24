"""The orchestrator: solve a decomposable problem's parts in parallel sub-calls, then merge.

    records = orchestrate(policy, problems, pool)

For each problem, `task.subproblems(problem)` gives the parts. All parts of all problems go to
the policy in ONE batched `generate` call (the parallel sub-calls; greedy, one sample each, so
the result is a property of the model rather than of a draw), are verified against their own
gold answers in the pool, and each problem's part answers are merged with
`task.compose(answers, problem)` and the merged answer verified against the whole problem.

For the speedup, parts are then solved sequentially, one `generate` call per part, as a plain
loop would: speedup = sequential wall time / parallel wall time. To keep evaluation cheap only
the first `max_sequential` parts are timed one by one and the sequential time of all parts is
extrapolated from their mean. On the tiny model this measures batching on one device; with a
served backend it is the concurrency of the sub-calls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ponder.format import format_completion
from ponder.tasks import get_task
from ponder.types import Problem, Sampling


def orchestrate(policy, problems: Sequence[Problem], pool, *, max_new_tokens: int = 256,
                max_sequential: int = 8) -> list[dict]:
    """One record per problem: task, problem_id, difficulty, sub_correct, composed, composed_correct, timings."""
    if not problems:
        return []
    greedy = Sampling.to_answer(temperature=0.0, max_new_tokens=max_new_tokens, seed=0)
    parts = [get_task(p.task).subproblems(p) for p in problems]
    flat = [s for ss in parts for s in ss]
    prompts = [policy.render(s) for s in flat]
    t0 = time.perf_counter()
    outs = policy.generate(prompts, 1, greedy)
    parallel_s = time.perf_counter() - t0
    seq_times = []
    for prompt in prompts[:max_sequential]:
        t0 = time.perf_counter()
        policy.generate([prompt], 1, greedy)
        seq_times.append(time.perf_counter() - t0)
    per_part = sum(seq_times) / len(seq_times) if seq_times else float("nan")
    texts = [o[0].text for o in outs]
    sub_fut = pool.submit(flat, texts)
    composed, i = [], 0
    for p, ss in zip(problems, parts):
        task = get_task(p.task)
        answers = [get_task(s.task).extract(t) for s, t in zip(ss, texts[i:i + len(ss)])]
        composed.append(task.compose(answers, p))
        i += len(ss)
    whole_scores = pool.submit(list(problems), [format_completion(a) for a in composed]).result()
    sub_scores = sub_fut.result()
    records, i = [], 0
    for p, ss, answer, score in zip(problems, parts, composed, whole_scores):
        k = len(ss)
        records.append({
            "task": p.task, "problem_id": p.id, "difficulty": p.difficulty, "parts": k,
            "sub_correct": [s >= 1.0 for s in sub_scores[i:i + k]], "sub_texts": texts[i:i + k],
            "composed": answer, "composed_correct": score >= 1.0,
            # the batched call's time is shared out by number of parts; totals are exact
            "parallel_s": parallel_s * k / len(flat),
            "sequential_s": per_part * k,
            "sub_tokens": sum(o[0].num_tokens for o in outs[i:i + k]),
        })
        i += k
    return records
