"""The warm start's loop: next-token loss on the completion tokens, AdamW, atomic checkpoints.

    from ponder.sft import SFTConfig, check, run
    cfg = SFTConfig(model="models/tiny", tasks=("arith",), out="runs/sft-a")
    check(cfg)
    model_dir = run(cfg, RunDir.open("sft", cfg.out, cfg))        # -> runs/sft-a/model

Each training example is `render(problem) + oracle(problem, think=mode) + EOS`, with the loss on
the completion tokens only. The mode is drawn per example -- a `<think>` trace then the answer
with probability `think_prob`, else the answer alone -- independently of difficulty, so the
warm-started model is deliberately *uncalibrated*: it thinks as often on `2+3` as on an
eight-term chain (by default on 3 examples in 4, overthinking easy requests the way reasoning
models do). That is the starting point the effort-aware RL stages improve on.

Batches are length-bucketed (ponder/sft/data.py): a pool of `batch_size * BUCKET_POOL` examples
is sorted by length and cut into batches, so padding stays small without cross-example attention
from packing. The loss is the mean over each batch's completion tokens, except for the first
completion token, the choice of mode, which weighs the same in every batch (`sft_loss`; why, and
what the alternatives did, in docs/policy.md).

Compute: `ponder.ledger.train_flops` (6 x params x tokens, all non-pad tokens seen) is added to
the model's ponder.json ledger under flops.sft.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from ponder.errors import PonderError
from ponder.sft.config import BUCKET_POOL, SFTConfig
from ponder.sft.data import collate, pool_examples, pool_mean_tokens

# Fields that must match the saved run for --resume to continue it rather than mix two warm
# starts (the data stream and the model it started from); --steps and the logging may change.
RESUME_KEYS = ("model", "tasks", "levels", "level_weights", "think_prob", "careless_prob", "batch_size", "seed")


def sft_loss(logits, labels, mean_tokens: float):
    """Next-token cross-entropy over the completion tokens (labels != -100), averaged over the
    batch's tokens, with each example's first completion token (the choice of mode) weighted by
    batch tokens / `mean_tokens`, so it weighs 1 / mean_tokens in every batch, short or long.

    logits [b, T, V], labels [b, T] (-100 on prompt and padding).
    """
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
def checkpoint_dir(run_dir) -> Path:
    return Path(run_dir) / "checkpoints" / "last"


def save_checkpoint(path: Path, model, tokenizer, meta: dict, opt, step: int, tokens: int) -> None:
    """HF model + optimizer state in one directory, replaced atomically (ponder.policy.checkpoint)."""
    import torch

    from ponder.policy.checkpoint import save_model

    save_model(model, tokenizer, path, meta,
               extra=lambda d: torch.save({"optimizer": opt.state_dict(), "step": step, "tokens": tokens},
                                          d / "trainer_state.pt"))


def plot_loss(run_dir: Path, rows: list[dict]) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ponder.runs import atomic_write_bytes

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
    atomic_write_bytes(Path(run_dir) / "loss.png", buf.getvalue())


# -- the stage -------------------------------------------------------------------------------
def _has_checkpoint(out) -> bool:
    return (checkpoint_dir(out) / "trainer_state.pt").exists()


def check(cfg: SFTConfig) -> None:
    """Everything about `cfg` that needs the outside world, before anything is written: the tasks
    and levels exist, the model directory (or, with --resume, the run's checkpoint) is there, and
    a resumed run keeps the data stream it started with."""
    from ponder.runs import check_out
    from ponder.tasks import get_task

    tasks = [get_task(t) for t in cfg.tasks]
    for d in cfg.levels:
        if not any(d in t.levels for t in tasks):
            raise PonderError(f"level {d} is not a level of any of {', '.join(cfg.tasks)}")
    check_out(cfg.out, resume=cfg.resume, cfg=cfg, keys=RESUME_KEYS)
    if cfg.resume and _has_checkpoint(cfg.out):
        return
    # a fresh run, or one killed before its first checkpoint: --resume starts it over from --model
    if not cfg.model:
        raise PonderError("--model is required (a model directory; build one with `ponder model init`)")
    from ponder.policy import check_model_dir

    check_model_dir(cfg.model)


def run(cfg: SFTConfig, run_dir, *, progress: bool = True) -> Path:
    """Run the warm start in `run_dir` (a `ponder.runs.RunDir`, config.yaml written); with
    cfg.resume, continue from its last checkpoint. Returns the final model directory RUN/model.

    cfg.threads holds for this stage only: the caller's torch thread count is restored after it,
    so a demo can warm-start on two threads and sample on one in the same process."""
    import torch

    before = torch.get_num_threads()
    try:
        return _train(cfg, run_dir, progress=progress)
    finally:
        torch.set_num_threads(before)


def _train(cfg: SFTConfig, run_dir, *, progress: bool) -> Path:
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.ledger import add_flops, read_meta, train_flops
    from ponder.policy import check_model_dir
    from ponder.policy.checkpoint import num_params, save_model
    from ponder.policy.hf import _resolve_device
    from ponder.runs import write_jsonl
    from ponder.tasks import get_task

    tasks = [get_task(t) for t in cfg.tasks]
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    ckpt = checkpoint_dir(run_dir.path)
    resuming = cfg.resume and _has_checkpoint(run_dir.path)
    src = ckpt if resuming else check_model_dir(cfg.model)
    device = _resolve_device(cfg.device)
    tok = AutoTokenizer.from_pretrained(src)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).to(device)
    model.train()
    params = num_params(model)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    start, tokens_seen = 0, 0
    base_meta = read_meta(src)
    if cfg.resume and not resuming:  # killed before the first checkpoint: its metrics are rewound too
        write_jsonl(run_dir / "metrics.jsonl", [])
    if resuming:
        state = torch.load(ckpt / "trainer_state.pt", map_location=device, weights_only=False)
        opt.load_state_dict(state["optimizer"])
        start, tokens_seen = int(state["step"]), int(state["tokens"])
        # the checkpoint's ledger already counts its own SFT tokens; restart from the pre-SFT value
        base_meta = add_flops(base_meta, "sft", -train_flops(params, tokens_seen))
        # metrics past the checkpoint were logged by the killed process; drop them
        write_jsonl(run_dir / "metrics.jsonl", [r for r in run_dir.metrics() if r.get("step", 0) <= start])
    max_len = getattr(model.config, "max_position_embeddings", 2048)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def meta_now() -> dict:
        return {**add_flops(base_meta, "sft", train_flops(params, tokens_seen)), "params": params}

    pool_cache: dict[int, tuple[list, float]] = {}
    t0 = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=start, desc="sft", unit="step", disable=not progress, dynamic_ncols=True)
    loss_acc, n_acc = 0.0, 0
    for step in range(start, cfg.steps):
        pool_i, k = divmod(step, BUCKET_POOL)
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
