"""Supervised warm start on the tasks' oracle traces (`ponder sft`).

    ponder sft --model models/tiny --tasks arith --out runs/sft-a     # -> runs/sft-a/model

Each training example is `render(problem) + oracle(problem, think=mode) + EOS`, with the loss on
the completion tokens only. The mode is drawn per example -- a `<think>` trace then the answer
with probability `think_prob`, else the answer alone -- independently of difficulty, so the
warm-started model is deliberately *uncalibrated*: it thinks as often on `2+3` as on an
eight-term chain (by default on 3 examples in 4, overthinking easy requests the way reasoning
models do). That is the starting point the effort-aware RL stages improve on.

Data is a pure function of (seed, step): step k's batch is drawn from `random.Random(f"sft/{seed}/{k}")`,
so `--resume` from a checkpoint at step k sees exactly the batches an uninterrupted run would.
Problems are generated with task seed `seed + DATA_SEED_OFFSET`, away from evaluation's default
seed 0 (the two easiest arith levels hold only a few hundred distinct problems, so overlap there
is unavoidable and harmless: they are meant to be memorisable).

Batches are length-bucketed: a pool of `batch_size * BUCKET_POOL` examples is sorted by length
and cut into batches, so padding stays small without cross-example attention from packing.
The loss is the mean over each batch's completion tokens, except for the first completion token,
the choice of mode, which weighs the same in every batch (`sft_loss`). With length-bucketed
batches a plain per-batch mean weighs a token of a batch of short completions (direct answers)
several times more than one of a batch of long traces, so the mode was learnt with
length-dependent weights: measured, think_prob 0.75 gave a warm start that thought on 81% of
level-1 and 41% of level-5 prompts -- anti-calibrated, not the uncalibrated start the RL stage is
meant to improve on. Weighing every completion token the same instead (one normaliser per pool)
fixed the mode but, under AdamW, starved the short batches: accuracy at levels 3-5 fell by 15-25
points.
Compute: 6 x params x tokens (all non-pad tokens seen) is added to the model's ponder.json
ledger under flops.sft.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from ponder.errors import PonderError

DATA_SEED_OFFSET = 1000
BUCKET_POOL = 8  # batches per length-sorted pool
DEFAULT_LEVEL_WEIGHT = {1: 1.0, 2: 5.0}  # without --difficulty-weights; other levels weigh 1


@dataclass
class SFTConfig:
    model: str = field(default="", metadata={"help": "model directory to warm-start (e.g. from `ponder model init`)"})
    tasks: tuple[str, ...] = field(default=("arith",), metadata={"help": "tasks whose oracle traces to train on"})
    out: str | None = field(default=None, metadata={"help": "run directory (default runs/sft-<time>)"})
    difficulties: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={"help": "difficulty levels to draw"})
    difficulty_weights: tuple[float, ...] = field(
        default=(), metadata={"help": "relative weight per level in --difficulties (default: 1 for level 1, 5 for level 2, "
                                      "1 above: level 2's three-term answer-only sums need the most examples)"})
    think_prob: float = field(default=0.75, metadata={"help": "chance an example carries a <think> trace, drawn "
                                                      "independently of difficulty (default 0.75: the model overthinks, "
                                                      "like a reasoning model on easy requests, and sees enough traces "
                                                      "to learn the long ones)"})
    steps: int = field(default=1500, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=32, metadata={"help": "sequences per step (small batches: more updates per CPU second)"})
    lr: float = field(default=2e-3, metadata={"help": "peak learning rate (AdamW); tiny models like it high"})
    warmup: int = field(default=50, metadata={"help": "linear warmup steps, then cosine decay to lr/10"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    grad_clip: float = field(default=1.0, metadata={"help": "max gradient norm (0 = off)"})
    seed: int = field(default=0, metadata={"help": "seed for init order, data and mode draws"})
    checkpoint_every: int = field(default=250, metadata={"help": "steps between atomic checkpoints (0 = only at the end)"})
    log_every: int = field(default=10, metadata={"help": "steps between metrics.jsonl rows"})
    resume: bool = field(default=False, metadata={"help": "continue --out RUN from its last checkpoint"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0 = torch's default)"})
    device: str = field(default="auto", metadata={"help": "cpu, cuda or auto"})

    def __post_init__(self):
        if not self.tasks:
            raise PonderError("--tasks needs at least one task")
        if self.difficulty_weights and len(self.difficulty_weights) != len(self.difficulties):
            raise PonderError(f"--difficulty-weights has {len(self.difficulty_weights)} values for "
                              f"{len(self.difficulties)} difficulties")
        if any(w < 0 for w in self.difficulty_weights) or (self.difficulty_weights and sum(self.difficulty_weights) <= 0):
            raise PonderError("--difficulty-weights must be non-negative with a positive sum")
        if not 0.0 <= self.think_prob <= 1.0:
            raise PonderError(f"--think-prob must be in [0, 1], got {self.think_prob}")
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise PonderError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise PonderError(f"--lr must be > 0, got {self.lr}")


# -- data ----------------------------------------------------------------------------------
def example_text(task, problem, think: bool, tokenizer) -> tuple[str, str]:
    """(prompt, completion) strings of one training example."""
    from ponder.policy import render_prompt

    return render_prompt(tokenizer, problem), task.oracle(problem, think=think)


def pool_examples(cfg: SFTConfig, pool_index: int, tokenizer, tasks) -> list[tuple[list[int], int]]:
    """One length-sorted pool of (token ids, prompt length) examples; pure in (cfg.seed, pool_index)."""
    rng = random.Random(f"sft/{cfg.seed}/{pool_index}")
    weights = list(cfg.difficulty_weights) or [DEFAULT_LEVEL_WEIGHT.get(d, 1.0) for d in cfg.difficulties]
    eos = tokenizer.eos_token_id
    out = []
    for _ in range(cfg.batch_size * BUCKET_POOL):
        task = rng.choice(tasks)
        levels = [d for d in cfg.difficulties if d in task.levels] or list(task.levels)
        lw = [weights[cfg.difficulties.index(d)] if d in cfg.difficulties else 1.0 for d in levels]
        d = rng.choices(levels, weights=lw)[0]
        problem = task.generate(cfg.seed + DATA_SEED_OFFSET, rng.randrange(10**9), d)
        prompt, completion = example_text(task, problem, rng.random() < cfg.think_prob, tokenizer)
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


def sft_loss(logits, labels, mean_tokens: float):
    """Next-token cross-entropy over the completion tokens (labels != -100), averaged over the
    batch's tokens, with each example's first completion token (the choice of mode) weighted by
    batch tokens / `mean_tokens`, so it weighs 1 / mean_tokens in every batch, short or long."""
    import torch

    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    keep = labels != -100
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none")
    n = keep.sum().clamp(min=1)
    weight = keep.float()
    rows = keep.any(1)
    first = keep.float().argmax(1)
    weight[rows, first[rows]] = n / mean_tokens
    return (ce * weight).sum() / n


def lr_at(step: int, cfg: SFTConfig) -> float:
    """Linear warmup to cfg.lr, cosine decay to cfg.lr / 10 at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


# -- checkpoints -----------------------------------------------------------------------------
def save_checkpoint(path: Path, model, tokenizer, meta: dict, opt, step: int, tokens: int) -> None:
    """HF model + optimizer state in one directory, replaced atomically (temp dir, then rename)."""
    import torch

    from ponder.policy.checkpoint import save_model

    save_model(model, tokenizer, path, meta,
               extra=lambda d: torch.save({"optimizer": opt.state_dict(), "step": step, "tokens": tokens},
                                          d / "trainer_state.pt"))


def plot_loss(run_dir, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ponder.runs import atomic_write_bytes
    import io

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows])
    ax.set_xlabel("step")
    ax.set_ylabel("completion loss (nats/token)")
    ax.set_yscale("log")
    ax.set_title("SFT warm start")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(run_dir / "loss.png", buf.getvalue())


# -- training --------------------------------------------------------------------------------
def train(cfg: SFTConfig, run_dir, progress: bool = True) -> Path:
    """Run the warm start in `run_dir` (a RunDir); returns the final model directory RUN/model."""
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.policy import check_model_dir
    from ponder.policy.hf import _resolve_device
    from ponder.ledger import read_meta
    from ponder.policy.checkpoint import save_model
    from ponder.runs import write_jsonl
    from ponder.tasks import get_task

    tasks = [get_task(t) for t in cfg.tasks]
    for d in cfg.difficulties:
        if not any(d in t.levels for t in tasks):
            raise PonderError(f"difficulty {d} is not a level of any of {', '.join(cfg.tasks)}")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    ckpt = Path(run_dir.path) / "checkpoints" / "last"
    start = 0
    tokens_seen = 0
    if cfg.resume:
        if not (ckpt / "trainer_state.pt").exists():
            raise PonderError(f"--resume: no checkpoint in {ckpt}")
        src = ckpt
    else:
        src = check_model_dir(cfg.model)
    base_meta = read_meta(src)
    device = _resolve_device(cfg.device)
    tok = AutoTokenizer.from_pretrained(src)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).to(device)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    if cfg.resume:
        state = torch.load(ckpt / "trainer_state.pt", map_location=device, weights_only=False)
        opt.load_state_dict(state["optimizer"])
        start, tokens_seen = int(state["step"]), int(state["tokens"])
        base_meta = dict(base_meta)
        base_meta.setdefault("flops", {})
        # the checkpoint's ledger already counts its own SFT tokens; restart from the pre-SFT value
        base_meta["flops"]["sft"] = base_meta["flops"].get("sft", 0) - 6 * params * tokens_seen
        # metrics past the checkpoint were logged by the killed process; drop them
        write_jsonl(run_dir / "metrics.jsonl", [r for r in run_dir.metrics() if r.get("step", 0) <= start])
    max_len = getattr(model.config, "max_position_embeddings", 2048)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def meta_now() -> dict:
        meta = dict(base_meta)
        flops = dict(meta.get("flops") or {})
        flops["sft"] = flops.get("sft", 0) + 6 * params * tokens_seen
        meta.update(params=params, flops=flops)
        return meta

    per_pool = BUCKET_POOL
    pool_cache: dict[int, tuple[list, float]] = {}
    t0 = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=start, desc="sft", unit="step", disable=not progress, dynamic_ncols=True)
    loss_acc, n_acc = 0.0, 0
    for step in range(start, cfg.steps):
        pool_i, k = divmod(step, per_pool)
        if pool_i not in pool_cache:  # (batches, mean loss tokens per batch) of the current pool only
            batches = pool_examples(cfg, pool_i, tok, tasks)
            pool_cache = {pool_i: (batches, pool_mean_tokens(batches, max_len))}
        batches, mean_tokens = pool_cache[pool_i]
        ids, mask, labels = (x.to(device) for x in collate(batches[k], pad, max_len))
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        loss = sft_loss(model(input_ids=ids, attention_mask=mask).logits, labels, mean_tokens)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        tokens_seen += int(mask.sum())
        loss_acc += float(loss.detach())
        n_acc += 1
        bar.update(1)
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            row = {"step": done, "loss": loss_acc / n_acc, "lr": lr_at(step, cfg), "tokens": tokens_seen,
                   "elapsed_s": round(time.perf_counter() - t0, 2)}
            run_dir.log(row)
            bar.set_postfix(loss=f"{row['loss']:.3f}")
            loss_acc, n_acc = 0.0, 0
        if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or done == cfg.steps:
            # the last step too, so `--resume --steps MORE` extends a finished run
            save_checkpoint(ckpt, model, tok, meta_now(), opt, done, tokens_seen)
    bar.close()
    model.eval()
    final = save_model(model, tok, Path(run_dir.path) / "model", meta_now())
    rows = run_dir.metrics()
    if rows:
        plot_loss(Path(run_dir.path), rows)
    return final
