"""The warm start's data: length-bucketed pools of (prompt + oracle completion) examples.

Data is a pure function of (seed, pool index): pool k is drawn from `random.Random(f"sft/{seed}/{k}")`,
so `--resume` from a checkpoint sees exactly the batches an uninterrupted run would. Problems are
generated with task seed `seed + DATA_SEED_OFFSET`, away from evaluation's seeds (the two easiest
arith levels hold only a few hundred distinct problems, so overlap there is unavoidable and
harmless: they are meant to be memorisable).
"""

from __future__ import annotations

import random

from ponder.sft.config import BUCKET_POOL, DATA_SEED_OFFSET, DEFAULT_LEVEL_WEIGHT, SFTConfig


def example_text(task, problem, think: bool, tokenizer, careless_rng=None) -> tuple[str, str]:
    """(prompt, completion) strings of one training example; with `careless_rng` (a traced example
    of a task that has `careless`) the task's plausible-but-wrong planned completion."""
    from ponder.policy import render_prompt

    if think and careless_rng is not None:
        return render_prompt(tokenizer, problem), task.careless(problem, careless_rng)
    return render_prompt(tokenizer, problem), task.oracle(problem, think=think)


def careless_draw(cfg: SFTConfig, task, think: bool, rng: random.Random) -> random.Random | None:
    """`rng` when this traced example takes a careless plan, else None. Draws from `rng` only when
    careless plans are on, so runs without them see exactly the data they always did."""
    if not think or cfg.careless_prob <= 0 or not hasattr(task, "careless"):
        return None
    return rng if rng.random() < cfg.careless_prob else None


def pool_examples(cfg: SFTConfig, pool_index: int, tokenizer, tasks) -> list[list[tuple[list[int], int]]]:
    """One length-sorted pool, cut into shuffled batches of (token ids, prompt length) examples;
    pure in (cfg.seed, pool_index)."""
    rng = random.Random(f"sft/{cfg.seed}/{pool_index}")
    weights = list(cfg.level_weights) or [DEFAULT_LEVEL_WEIGHT.get(d, 1.0) for d in cfg.levels]
    eos = tokenizer.eos_token_id
    out = []
    for _ in range(cfg.batch_size * BUCKET_POOL):
        task = rng.choice(tasks)
        levels = [d for d in cfg.levels if d in task.levels] or list(task.levels)
        lw = [weights[cfg.levels.index(d)] if d in cfg.levels else 1.0 for d in levels]
        d = rng.choices(levels, weights=lw)[0]
        problem = task.generate(cfg.seed + DATA_SEED_OFFSET, rng.randrange(10**9), d)
        think = rng.random() < cfg.think_prob
        prompt, completion = example_text(task, problem, think, tokenizer, careless_draw(cfg, task, think, rng))
        p_ids = tokenizer.encode(prompt, add_special_tokens=False)
        c_ids = tokenizer.encode(completion, add_special_tokens=False) + [eos]
        out.append((p_ids + c_ids, len(p_ids)))
    order = sorted(range(len(out)), key=lambda i: len(out[i][0]))
    batches = [[out[i] for i in order[k : k + cfg.batch_size]] for k in range(0, len(out), cfg.batch_size)]
    rng.shuffle(batches)
    return batches


def collate(batch: list[tuple[list[int], int]], pad_id: int, max_len: int):
    """input_ids, attention_mask, labels [b, T]; labels are -100 on prompt and padding (right-padded)."""
    import torch

    T = min(max_len, max(len(x) for x, _ in batch))
    ids = torch.full((len(batch), T), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), T), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), T), dtype=torch.long)
    for r, (x, plen) in enumerate(batch):
        x = x[:T]
        ids[r, : len(x)] = torch.tensor(x)
        mask[r, : len(x)] = 1
        labels[r, plen : len(x)] = torch.tensor(x[plen:])
    return ids, mask, labels


def pool_mean_tokens(batches: list, max_len: int) -> float:
    """Mean completion (loss) tokens per batch of one length-sorted pool."""
    return sum(int((collate(b, 0, max_len)[2] != -100).sum()) for b in batches) / max(1, len(batches))
