"""The same rewards, with the signatures of the big engines.

TRL (`GRPOTrainer(reward_funcs=[...])`): a reward function is called as
`f(prompts=..., completions=..., **dataset_columns) -> list[float]`; the dataset's columns
arrive as lists aligned with the completions. ponder's problem columns (`id`, `task`,
`answer`, `difficulty`, `meta`; see `ponder export`/`Problem.to_dict`) rebuild each `Problem`:

    from ponder.rewards.adapters import trl_reward
    trainer = GRPOTrainer(model, reward_funcs=[trl_reward("correct:1,kimi_length:0.5")], ...)

Completions may be strings or TRL's conversational form (a list of messages; the last
assistant content is used). TRL passes `completion_ids` too: their lengths become the token
counts, so length rewards count tokens exactly.

verl (`custom_reward_function.path=ponder/rewards/adapters.py`, `.name=compute_score`):
`compute_score(data_source, solution_str, ground_truth, extra_info)` scores ONE sample, so group
rewards (kimi_length) see a group of one and give 0 there; use them in TRL or ponder. The task
is `extra_info["task"]` or else `data_source` (a leading "ponder/" is dropped); a whole problem
may ride in `extra_info["problem"]` (its dict).
"""

from __future__ import annotations

import json
from typing import Any

from ponder.rewards import combine
from ponder.types import Completion, Problem


def _text(c: Any) -> str:
    if isinstance(c, list):  # conversational: [{"role": "assistant", "content": ...}]
        return str(c[-1]["content"]) if c else ""
    return str(c)


def _meta(m: Any) -> dict:
    if isinstance(m, str):
        return json.loads(m) if m else {}
    return dict(m or {})


def trl_reward(spec: str = "correct:1", params: dict[str, dict] | None = None):
    """A TRL GRPO reward function for the reward spec (returns the weighted total)."""
    reward = combine(spec, params)

    def reward_fn(prompts, completions, **columns) -> list[float]:
        n = len(completions)

        def col(name, default=None):
            values = columns.get(name)
            return values if values is not None else [default] * n

        ids, tasks, answers = col("id"), col("task"), col("answer")
        diffs, metas, comp_ids = col("difficulty", 1), col("meta", {}), col("completion_ids")
        problems, comps = [], []
        for i in range(n):
            prompt = _text(prompts[i]) if prompts is not None else ""
            problems.append(Problem(id=str(ids[i] if ids[i] is not None else prompt), task=str(tasks[i]),
                                    prompt=prompt, answer=str(answers[i]), difficulty=int(diffs[i] or 1),
                                    meta=_meta(metas[i])))
            text = _text(completions[i])
            ntok = len(comp_ids[i]) if comp_ids[i] is not None else len(text)
            comps.append(Completion(text=text, num_tokens=ntok))
        return reward(problems, comps)[0]

    reward_fn.__name__ = "ponder_" + "_".join(name for name, _ in reward.terms)  # TRL logs rewards by __name__
    return reward_fn


def verl_compute_score(spec: str = "correct:1", params: dict[str, dict] | None = None):
    """A verl `compute_score` for the reward spec."""
    reward = combine(spec, params)

    def compute_score(data_source, solution_str, ground_truth, extra_info=None) -> float:
        extra = dict(extra_info or {})
        if extra.get("problem"):
            problem = Problem.from_dict(extra["problem"])
        else:
            task = str(extra.get("task") or data_source).removeprefix("ponder/")
            problem = Problem(id=str(extra.get("id", f"verl/{extra.get('index', 0)}")), task=task,
                              prompt=str(extra.get("prompt", "")), answer=str(ground_truth),
                              difficulty=int(extra.get("difficulty", 1)), meta=_meta(extra.get("meta")))
        return float(reward([problem], [Completion(text=solution_str, num_tokens=len(solution_str))])[0][0])

    return compute_score


compute_score = verl_compute_score("correct:1")  # the default verl entry point: correctness alone
