"""Effort control at inference: a thinking mode and a think budget, enforced by budget forcing.

    from ponder.policy.budget import generate_with_think_budget, sample_with_effort
    outs = generate_with_think_budget(policy, prompts, n=4, sampling=Sampling(max_new_tokens=256), budget=32)
    outs = sample_with_effort(policy, problems, 4, sampling, mode="think", budget=32)   # renders too

Modes (`MODE_SUFFIX`): `auto` lets the model choose, `think` starts every completion with `<think>`,
`answer` with `<answer>` (no thought), `plan` with `<plan>` (a plan first: the forced-mode probe of
plannable tasks, forced `plan` against forced `answer`). The suffix is sampled as part of the prompt and then counted
as the completion's first token(s), as mode-balanced RL does with its forced first token, so the
completion parses (and its thought is counted) as the model's own turn.

Budget: phase 1 samples at most `budget` tokens, stopping early at `</think>` or `</answer>`. A
sample whose <think> is still open when the budget runs out gets `</think><answer>` appended (s1's
budget forcing, Muennighoff et al. 2025, in its "end thinking now" direction); a sample that
closed its thought continues normally. Phase 2 then generates the answer with what is left of
`max_new_tokens` after the tokens that sample actually used (its thought and the forced tags), so a
budget near the generation limit still leaves a thought that stopped early its full answer room.
The budget counts every token before the answer (plan and tags included). State the budget in the
prompt too with `ponder.rewards.budget_suffix(B, "think")` if the model was trained with budgets
(L1); the tiny default was not, so forcing alone applies there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from ponder.errors import PonderError
from ponder.format import ANSWER_CLOSE, ANSWER_OPEN, PLAN_OPEN, THINK_CLOSE, THINK_OPEN
from ponder.types import Completion, Problem, Sampling

FORCE = THINK_CLOSE + ANSWER_OPEN
# --mode -> the text every completion is started with (Policy.render's suffix)
MODE_SUFFIX = {"auto": "", "think": THINK_OPEN, "answer": ANSWER_OPEN, "plan": PLAN_OPEN}


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


def _encode(policy, text: str) -> list[int]:
    tok = getattr(policy, "tokenizer", None)
    return tok.encode(text, add_special_tokens=False) if text and tok is not None else []


def _truncate(policy, c: Completion, limit: int) -> Completion:
    """`c` cut to its first `limit` tokens (a sample that went past its own room in a shared call).

    Exact: the first `limit` tokens are drawn as they would have been with `limit` as the cap, and
    a sample longer than `limit` met no stop within them, so the cut one ends by "length"."""
    if c.num_tokens <= limit or getattr(policy, "tokenizer", None) is None:
        return c
    ids = list(c.token_ids[:limit])
    return replace(c, token_ids=ids, text=policy.tokenizer.decode(ids, skip_special_tokens=True),
                   logprobs=list(c.logprobs[:limit]) if c.logprobs is not None else None,
                   num_tokens=limit, finish_reason="length")


def generate_with_think_budget(policy, prompts: list[str], n: int, sampling: Sampling, budget: int) -> list[list[Completion]]:
    if budget < 1:
        raise ValueError(f"think budget must be >= 1, got {budget}")
    first = replace(sampling, max_new_tokens=min(budget, sampling.max_new_tokens),
                    stop=tuple(sampling.stop) + (THINK_CLOSE, ANSWER_CLOSE))
    outs = policy.generate(prompts, n, first)
    todo = []  # (prompt index, sample index, text to continue from, forced ids, tokens left)
    for i, group in enumerate(outs):
        for j, c in enumerate(group):
            prefix = _needs_answer(c, prompts[i])
            if prefix is None:
                continue
            forced_ids = _encode(policy, prefix[len(c.text):])
            left = sampling.max_new_tokens - c.num_tokens - len(forced_ids)
            if left >= 1:
                todo.append((i, j, prefix, forced_ids, left))
    if not todo:
        return outs
    from ponder.policy import segment_token_counts

    count = getattr(policy, "count_tokens", len)
    # one batched call at the largest room, each continuation cut to its own room afterwards; a
    # backend that cannot re-decode a cut (no tokenizer) gets one call per distinct room instead
    rooms = [left for *_, left in todo]
    calls = {max(rooms): list(range(len(todo)))} if getattr(policy, "tokenizer", None) is not None else defaultdict(list)
    if not calls:
        for k, left in enumerate(rooms):
            calls[left].append(k)
    conts: dict[int, Completion] = {}
    for room, ks in calls.items():
        got = policy.generate([prompts[todo[k][0]] + todo[k][2] for k in ks], 1, replace(sampling, max_new_tokens=room))
        conts.update({k: _truncate(policy, cont, rooms[k]) for k, (cont,) in zip(ks, got)})
    for k, (i, j, prefix, forced_ids, _) in enumerate(todo):
        c, cont = outs[i][j], conts[k]
        text = prefix + cont.text
        think, answer = segment_token_counts(text, count)
        outs[i][j] = Completion(text=text, token_ids=list(c.token_ids) + forced_ids + list(cont.token_ids),
                                finish_reason=cont.finish_reason, num_tokens=c.num_tokens + len(forced_ids) + cont.num_tokens,
                                think_tokens=think, answer_tokens=answer, prompt_tokens=c.prompt_tokens,
                                time_s=c.time_s + cont.time_s)
    return outs


def render(policy, problem: Problem, suffix: str = "", instruction: str | None = None) -> str:
    """`policy.render(problem, suffix)`, with the system instruction replaced when `instruction` is
    given for the problem's task (`ponder.policy.prompts.instruction_for`: one for every task, or
    `TASK=...;*=...`); PonderError for a backend that renders no prompt itself."""
    from ponder.policy.prompts import instruction_for

    instruction = instruction_for(instruction, problem.task)
    if not instruction:
        return policy.render(problem, suffix)
    if not hasattr(policy, "tokenizer"):  # every built-in backend renders with render_prompt(policy.tokenizer, ...)
        raise PonderError(f"--instruction needs a backend that renders its prompts with ponder's render_prompt "
                          f"({type(policy).__name__} does not)")
    from ponder.policy.prompts import render_prompt

    return render_prompt(policy.tokenizer, problem, suffix, instruction=instruction)


def sample_with_effort(policy, problems: list[Problem], n: int, sampling: Sampling, mode: str = "auto",
                       budget: int | None = None, instruction: str | None = None) -> list[list[Completion]]:
    """`n` completions per problem in thinking `mode` (MODE_SUFFIX), with an optional think budget."""
    if mode not in MODE_SUFFIX:
        raise PonderError(f"unknown mode {mode!r} (choose from {', '.join(MODE_SUFFIX)})")
    suffix = MODE_SUFFIX[mode]
    prompts = [render(policy, p, suffix, instruction) for p in problems]
    if budget:
        outs = generate_with_think_budget(policy, prompts, n, sampling, budget)
    else:
        outs = policy.generate(prompts, n, sampling)
    return [[with_prefix(policy, c, suffix) for c in group] for group in outs] if suffix else outs


def with_prefix(policy, c: Completion, prefix: str) -> Completion:
    """`c` with the forced `prefix` counted as its first tokens (text, ids, token counts)."""
    from ponder.policy import segment_token_counts

    ids = _encode(policy, prefix)
    text = prefix + c.text
    think, answer = segment_token_counts(text, getattr(policy, "count_tokens", len))
    return replace(c, text=text, token_ids=ids + list(c.token_ids), num_tokens=c.num_tokens + len(ids),
                   logprobs=None if c.logprobs is None else [0.0] * len(ids) + list(c.logprobs),
                   think_tokens=think, answer_tokens=answer)
