"""The same rewards, with the signatures of the big engines (TRL, verl).

TRL (`GRPOTrainer(reward_funcs=[...])`): a reward function is called as
`f(prompts=..., completions=..., completion_ids=..., **dataset_columns) -> list[float]`; the
dataset's columns arrive as lists aligned with the completions (TRL adds a few keywords of its
own, such as `trainer_state`, which are ignored here). ponder's problem columns (`id`, `task`,
`answer`, `difficulty`, `meta`; see `ponder export --format trl`/`Problem.to_dict`) rebuild each
`Problem`. Every built-in reward is a ready-made module-level function, so TRL's script can
import it by its dotted path; `trl_reward(spec)` builds one for any spec (weights, your own
registered rewards):

    trl grpo ... --reward_funcs ponder.rewards.adapters.correct ponder.rewards.adapters.nothink

    from ponder.rewards.adapters import correct, trl_reward
    trainer = GRPOTrainer(model, reward_funcs=[correct, trl_reward("kimi_length:0.5")], ...)

Completions may be strings or TRL's conversational form (a list of messages; the last
assistant content is used). TRL passes `completion_ids` too: their lengths become the token
counts, so length rewards count tokens exactly.

verl (`custom_reward_function.path=pkg://ponder.rewards.adapters`, `.name=compute_score`):
`compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)` scores ONE
sample. The spec comes from `custom_reward_function.reward_kwargs.reward` (default `correct:1`);
any other keyword verl passes is ignored. One sample at a time, group rewards (kimi_length) see a
group of one and give 0; `compute_score_batch` (`.name=compute_score_batch` with verl's `batch`
reward manager) scores a whole batch at once, so the samples of one prompt form their group.
The task is `extra_info["task"]` or else `data_source` (a leading "ponder/" is dropped); a whole
problem may ride in `extra_info["problem"]` (its dict).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ponder.rewards import Combined, combine
from ponder.types import Completion, Problem

DEFAULT_SPEC = "correct:1"  # correctness alone: what verl's own rule-based rewards score


def _text(c: Any) -> str:
    if isinstance(c, list):  # conversational: [{"role": "assistant", "content": ...}]
        return str(c[-1]["content"]) if c else ""
    return str(c)


def _meta(m: Any) -> dict:
    if isinstance(m, str):
        return json.loads(m) if m else {}
    return dict(m or {})


# -- TRL -------------------------------------------------------------------------------------------
def trl_reward(spec: str = DEFAULT_SPEC, params: dict[str, dict] | None = None):
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


# Ready-made TRL reward functions, one per built-in reward (ponder.rewards.BUILTIN_REWARDS; a test
# checks the two lists agree), each with its paper's default parameters.
correct = trl_reward("correct")
format = trl_reward("format")  # noqa: A001 - named after the reward; shadows the builtin in this module only
kimi_length = trl_reward("kimi_length")
l1_exact = trl_reward("l1_exact")
l1_max = trl_reward("l1_max")
overlong = trl_reward("overlong")
nothink = trl_reward("nothink")
trace = trl_reward("trace")
plan_format = trl_reward("plan_format")
plan_validity = trl_reward("plan_validity")
plan_progress = trl_reward("plan_progress")
plan_adherence = trl_reward("plan_adherence")
decomposition = trl_reward("decomposition")
nospawn = trl_reward("nospawn")


# -- verl ------------------------------------------------------------------------------------------
def _verl_problem(data_source: Any, ground_truth: Any, extra_info: Any) -> Problem:
    extra = dict(extra_info or {})
    if extra.get("problem"):
        return Problem.from_dict(extra["problem"])
    task = str(extra.get("task") or data_source).removeprefix("ponder/")
    return Problem(id=str(extra.get("id", f"verl/{extra.get('index', 0)}")), task=task,
                   prompt=str(extra.get("prompt", "")), answer=str(ground_truth),
                   difficulty=int(extra.get("difficulty", 1)), meta=_meta(extra.get("meta")))


def _verl_scores(reward: Combined, data_sources: Sequence, solution_strs: Sequence[str],
                 ground_truths: Sequence, extra_infos: Sequence | None) -> list[float]:
    extras = extra_infos if extra_infos is not None else [None] * len(solution_strs)
    problems = [_verl_problem(d, g, e) for d, g, e in zip(data_sources, ground_truths, extras)]
    # verl hands over decoded text only: a completion's length is counted in characters
    comps = [Completion(text=str(s), num_tokens=len(str(s))) for s in solution_strs]
    return [float(x) for x in reward(problems, comps)[0]]


def verl_compute_score(spec: str = DEFAULT_SPEC, params: dict[str, dict] | None = None):
    """A verl `compute_score` for the reward spec (keyword arguments verl adds are ignored)."""
    reward = combine(spec, params)

    def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> float:
        return _verl_scores(reward, [data_source], [solution_str], [ground_truth], [extra_info])[0]

    return compute_score


@lru_cache(maxsize=32)
def _combined(spec: str) -> Combined:
    return combine(spec)


def compute_score(data_source, solution_str, ground_truth, extra_info=None, *, reward: str = DEFAULT_SPEC,
                  **kwargs) -> float:
    """verl's per-sample entry point; `reward` (a spec) arrives from `custom_reward_function.reward_kwargs`."""
    return _verl_scores(_combined(reward), [data_source], [solution_str], [ground_truth], [extra_info])[0]


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, *, reward: str = DEFAULT_SPEC,
                        **kwargs) -> list[float]:
    """verl's `batch` reward manager entry point: one score per sample, groups intact."""
    return _verl_scores(_combined(reward), list(data_sources), list(solution_strs), list(ground_truths),
                        list(extra_infos) if extra_infos is not None else None)
