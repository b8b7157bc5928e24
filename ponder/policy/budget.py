"""A think budget at inference: "think for at most B tokens", enforced by budget forcing.

    from ponder.policy.budget import generate_with_think_budget
    outs = generate_with_think_budget(policy, prompts, n=4, sampling=Sampling(max_new_tokens=256), budget=32)

Phase 1 samples at most `budget` tokens, stopping early at `</think>` or `</answer>`. A sample
whose <think> is still open when the budget runs out gets `</think><answer>` appended (s1's
budget forcing, Muennighoff et al. 2025, in its "end thinking now" direction); a sample that
closed its thought continues normally. Phase 2 then generates the answer with what is left of
`max_new_tokens`. The budget counts every token before the answer (plan and tags included).
State the budget in the prompt too with `ponder.rewards.budget_suffix(B, "think")` if the model
was trained with budgets (L1); the tiny default was not, so forcing alone applies there.
"""

from __future__ import annotations

from dataclasses import replace

from ponder.format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from ponder.types import Completion, Sampling

FORCE = THINK_CLOSE + ANSWER_OPEN


def _needs_answer(c: Completion, prompt: str) -> str | None:
    """The text to continue from, or None when the sample is already complete."""
    opened = THINK_OPEN in c.text or prompt.endswith(THINK_OPEN)  # a render suffix may open the thought
    if ANSWER_CLOSE in c.text or (c.finish_reason == "stop" and not c.text.endswith(THINK_CLOSE)):
        return None
    if c.text.endswith(THINK_CLOSE):
        return c.text
    if opened and THINK_CLOSE not in c.text:
        return c.text + FORCE
    return c.text


def generate_with_think_budget(policy, prompts: list[str], n: int, sampling: Sampling, budget: int) -> list[list[Completion]]:
    if budget < 1:
        raise ValueError(f"think budget must be >= 1, got {budget}")
    first = replace(sampling, max_new_tokens=min(budget, sampling.max_new_tokens),
                    stop=tuple(sampling.stop) + (THINK_CLOSE, ANSWER_CLOSE))
    outs = policy.generate(prompts, n, first)
    todo = [(i, j, prefix) for i, group in enumerate(outs) for j, c in enumerate(group)
            if (prefix := _needs_answer(c, prompts[i])) is not None and c.num_tokens < sampling.max_new_tokens]
    if not todo:
        return outs
    from ponder.policy import segment_token_counts

    count = getattr(policy, "count_tokens", len)
    # one batched call for every sample still owing an answer, with a common remaining length
    left = sampling.max_new_tokens - first.max_new_tokens - count(FORCE)
    if left < 1:
        return outs
    conts = policy.generate([prompts[i] + prefix for i, _, prefix in todo], 1, replace(sampling, max_new_tokens=left))
    for (i, j, prefix), (cont,) in zip(todo, conts):
        c = outs[i][j]
        forced = prefix[len(c.text):]
        forced_ids = policy.tokenizer.encode(forced, add_special_tokens=False) if forced and hasattr(policy, "tokenizer") else []
        text = prefix + cont.text
        think, answer = segment_token_counts(text, count)
        outs[i][j] = Completion(text=text, token_ids=list(c.token_ids) + forced_ids + list(cont.token_ids),
                                finish_reason=cont.finish_reason, num_tokens=c.num_tokens + len(forced_ids) + cont.num_tokens,
                                think_tokens=think, answer_tokens=answer, prompt_tokens=c.prompt_tokens,
                                time_s=c.time_s + cont.time_s)
    return outs
