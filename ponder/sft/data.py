"""The warm start's data: length-bucketed pools of (prompt + oracle completion) examples.

Data is a pure function of (seed, pool index): pool k is drawn from `random.Random(f"sft/{seed}/{k}")`,
so `--resume` from a checkpoint sees exactly the batches an uninterrupted run would. Problems are
generated with task seed `seed + DATA_SEED_OFFSET`, away from evaluation's seeds (the two easiest
arith levels hold only a few hundred distinct problems, so overlap there is unavoidable and
harmless: they are meant to be memorisable).
"""

from __future__ import annotations

import random
import re

from ponder.sft.config import BUCKET_POOL, DATA_SEED_OFFSET, DEFAULT_LEVEL_WEIGHT, SFTConfig


def example_text(task, problem, think: bool, tokenizer, careless_rng=None) -> tuple[str, str]:
    """(prompt, completion) strings of one training example; with `careless_rng` (a traced example
    of a task that has `careless`) the task's plausible-but-wrong planned completion."""
    from ponder.policy import render_prompt

    if think and careless_rng is not None:
        return render_prompt(tokenizer, problem), task.careless(problem, careless_rng)
    return render_prompt(tokenizer, problem), task.oracle(problem, think=think)


_PLAN_RE = re.compile(r"<plan>.*?</plan>", re.S)


def serial_completion(task, problem, think: bool) -> str:
    """The oracle without its plan: a linear trace that starts with <think> (or a direct answer)."""
    return _PLAN_RE.sub("", task.oracle(problem, think=think))


def subcall_example(task, problem, tokenizer) -> tuple[list[int], list[int]]:
    """(completion ids, loss mask) of a sub-call trace: spawn the task's parts, then `<join>`; the
    results a runtime would inject (`ponder.rollout.subcalls`), masked out of the loss; then the
    join step (`task.join_completion`, or the composed answer alone). EOS appended."""
    from ponder.format import JOIN, SPAWN_CLOSE, SPAWN_OPEN, format_completion
    from ponder.rollout.subcalls import result_text

    parts = task.subproblems(problem)
    answers = [p.answer for p in parts]
    join = getattr(task, "join_completion", None)
    pieces = [("".join(f"{SPAWN_OPEN}{p.prompt}{SPAWN_CLOSE}" for p in parts) + JOIN, 1), (result_text(answers), 0),
              (join(answers, problem) if join else format_completion(task.compose(answers, problem)), 1)]
    ids, mask = [], []
    for text, m in pieces:
        x = tokenizer.encode(text, add_special_tokens=False)
        ids += x
        mask += [m] * len(x)
    return ids + [tokenizer.eos_token_id], mask + [1]


def tool_example(task, problem, tokenizer, tool: str = "calc") -> tuple[list[int], list[int]]:
    """(completion ids, loss mask) of a tool trace in the plain tag format (`ponder.tools.env`):
    the call, the result a runtime would inject (masked out of the loss), then the answer. EOS appended."""
    from ponder.format import format_completion
    from ponder.tools.env import FORMATS

    fmt = FORMATS["tag"]
    pieces = [(fmt.write_call(tool, task.tool_input(problem)), 1), (fmt.result([problem.answer]), 0),
              (format_completion(problem.answer), 1)]
    ids, mask = [], []
    for text, m in pieces:
        x = tokenizer.encode(text, add_special_tokens=False)
        ids += x
        mask += [m] * len(x)
    return ids + [tokenizer.eos_token_id], mask + [1]


def careless_draw(cfg: SFTConfig, task, think: bool, rng: random.Random) -> random.Random | None:
    """`rng` when this traced example takes a careless plan, else None. Draws from `rng` only when
    careless plans are on, so runs without them see exactly the data they always did."""
    if not think or cfg.careless_prob <= 0 or not hasattr(task, "careless"):
        return None
    return rng if rng.random() < cfg.careless_prob else None


def draw_example(cfg: SFTConfig, task, problem, rng, tokenizer) -> tuple[str, list[int], list[int] | None]:
    """(prompt, completion ids with EOS, loss mask or None) of one example. Decomposable tasks with
    cfg.subcall_prob > 0 draw a sub-call trace (prob p), one of its parts as a child's example
    (prob p) or a serial trace; tasks with a calculator input draw a tool trace at cfg.tool_prob;
    others draw the oracle, with a trace at cfg.think_prob."""
    from ponder.policy import render_prompt

    eos = tokenizer.eos_token_id
    if cfg.tool_prob > 0 and hasattr(task, "tool_input") and rng.random() < cfg.tool_prob:
        return (render_prompt(tokenizer, problem), *tool_example(task, problem, tokenizer))
    think = rng.random() < cfg.think_prob
    if cfg.subcall_prob > 0 and getattr(task, "decomposable", False):
        r = rng.random()
        if r < cfg.subcall_prob:
            return (render_prompt(tokenizer, problem), *subcall_example(task, problem, tokenizer))
        if r < 2 * cfg.subcall_prob:
            problem = rng.choice(task.subproblems(problem))
        text = serial_completion(task, problem, think)
        return render_prompt(tokenizer, problem), tokenizer.encode(text, add_special_tokens=False) + [eos], None
    prompt, completion = example_text(task, problem, think, tokenizer, careless_draw(cfg, task, think, rng))
    return prompt, tokenizer.encode(completion, add_special_tokens=False) + [eos], None


def pool_examples(cfg: SFTConfig, pool_index: int, tokenizer, tasks) -> list[list[tuple]]:
    """One length-sorted pool, cut into shuffled batches of (token ids, prompt length[, completion
    loss mask]) examples; pure in (cfg.seed, pool_index)."""
    rng = random.Random(f"sft/{cfg.seed}/{pool_index}")
    weights = list(cfg.level_weights) or [DEFAULT_LEVEL_WEIGHT.get(d, 1.0) for d in cfg.levels]
    out = []
    for _ in range(cfg.batch_size * BUCKET_POOL):
        task = rng.choice(tasks)
        levels = [d for d in cfg.levels if d in task.levels] or list(task.levels)
        lw = [weights[cfg.levels.index(d)] if d in cfg.levels else 1.0 for d in levels]
        d = rng.choices(levels, weights=lw)[0]
        problem = task.generate(cfg.seed + DATA_SEED_OFFSET, rng.randrange(10**9), d)
        prompt, c_ids, c_mask = draw_example(cfg, task, problem, rng, tokenizer)
        p_ids = tokenizer.encode(prompt, add_special_tokens=False)
        out.append((p_ids + c_ids, len(p_ids)) if c_mask is None else (p_ids + c_ids, len(p_ids), c_mask))
    order = sorted(range(len(out)), key=lambda i: len(out[i][0]))
    batches = [[out[i] for i in order[k : k + cfg.batch_size]] for k in range(0, len(out), cfg.batch_size)]
    rng.shuffle(batches)
    return batches


def collate(batch: list[tuple], pad_id: int, max_len: int):
    """input_ids, attention_mask, labels [b, T]; labels are -100 on prompt and padding (right-padded),
    and on the completion positions an example's optional third element (a 0/1 mask over its
    completion) zeroes: text a runtime injects is context, not something to learn to write."""
    import torch

    T = min(max_len, max(len(ex[0]) for ex in batch))
    ids = torch.full((len(batch), T), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), T), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), T), dtype=torch.long)
    for r, (x, plen, *cmask) in enumerate(batch):
        x = x[:T]
        ids[r, : len(x)] = torch.tensor(x)
        mask[r, : len(x)] = 1
        labels[r, plen : len(x)] = torch.tensor(x[plen:])
        if cmask:
            keep = torch.tensor(cmask[0][: len(x) - plen], dtype=torch.bool)
            labels[r, plen : plen + len(keep)][~keep] = -100
    return ids, mask, labels


def pool_mean_tokens(batches: list, max_len: int) -> float:
    """Mean completion (loss) tokens per batch of one length-sorted pool."""
    return sum(int((collate(b, 0, max_len)[2] != -100).sum()) for b in batches) / max(1, len(batches))
