"""`ponder train`: a GRPO-family RL loop you can read top to bottom.

    from ponder.rl.trainer import TrainConfig, train
    train(TrainConfig(model="runs/sft/model", task="arith", reward="correct:1,kimi_length:0.5"))

One step (`train_step`) is four functions, each importable and tested alone:

    batch = collect(...)      rollout G completions per prompt with the LIVE weights, score them,
                              drop zero-variance groups and re-sample (dynamic sampling)
    adv   = advantages(...)   group-relative advantages (ponder.rl.losses.group_advantages)
    stats = step(...)         (ponder.rl.update) recompute old logprobs, then `epochs` passes of the clipped loss
                              (ponder.rl.losses.policy_loss), AdamW + warm-up + grad clipping

Departures from the papers, all deliberate:
- Old logprobs are recomputed with a teacher-forced forward pass in the training dtype instead of
  trusting the sampler's: the sampler runs another code path (KV cache, batched padding, another
  engine such as vLLM, possibly another dtype), so its numbers differ slightly from what the
  trained model computes, and the ratio r would start away from 1 and be clipped for no reason.
  With one epoch and one minibatch the recompute equals `logp.detach()`, so it is skipped then.
- Logits are divided by the sampling temperature before log-softmax (as TRL), so r compares the
  same distribution that was sampled.
- Each step reseeds python/numpy/torch from (seed, step) before sampling: with the restored
  weights, optimizer and data cursor this makes a resumed run repeat an uninterrupted one exactly.
- A non-finite loss or gradient norm skips the update (logged as `skipped`), never trained on.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ponder.errors import PonderError
from ponder.rl.data import PromptSource
from ponder.rl.rollout import Batch, advantages, collect, rollout, score  # noqa: F401  (the loop's parts)
from ponder.rl.update import build_tensors, micro_batches, step, token_logprobs  # noqa: F401


@dataclass
class TrainConfig:
    model: str = field(default="", metadata={"help": "model dir (HF format; the warm-started tiny model or any checkpoint)"})
    task: str = field(default="arith", metadata={"help": "task to draw prompts from (ignored with --problems)"})
    problems: str | None = field(default=None, metadata={"help": "a `ponder curate` output (Parquet/JSONL of problems) to draw prompts from"})
    levels: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={"help": "difficulty levels to train on"})
    curriculum: bool = field(default=False, metadata={"help": "let ponder.curate.curriculum open levels by pass rate"})
    data_seed: int = field(default=12345, metadata={"help": "generation seed of training problems (keep apart from eval seeds)"})
    prompt_suffix: str = field(default="", metadata={"help": "text every completion is started with (Policy.render's suffix, e.g. '<think>')"})
    balance_modes: bool = field(default=False, metadata={"help": "AdaptThink mode balancing: start half of each group "
                                "with <think> and half with <answer>, so both modes are compared on every prompt however "
                                "rarely the policy picks one (ponder.rl.rollout); logs p_think, the policy's own think-rate"})
    mode_baseline: Literal["group", "batch"] = field(default="group", metadata={"help": "with --balance-modes: "
                                 "'batch' also centres each mode's first-token advantage over the batch, so the choice of "
                                 "mode learns where thinking pays more than on average, not a shared think-bias"})
    mode_weight: float = field(default=1.0, metadata={"help": "with --balance-modes: weight of the forced first token's "
                               "term in the loss, in tokens (the choice of mode is one token against a whole trace)"})
    budget: int = field(default=0, metadata={"help": "token budget stated in each prompt (L1; 0: none)"})
    budget_mode: Literal["exact", "max", "think"] = field(default="exact", metadata={"help": "budget wording: L1 exact / L1 max / think-at-most"})
    reward: str = field(default="correct:1", metadata={"help": "weighted reward spec, name:weight,... (see ponder.rewards)"})
    overlong_cache: int = field(default=16, metadata={"help": "DAPO overlong soft zone in tokens (max_len = max_new_tokens)"})
    steps: int = field(default=50, metadata={"help": "optimizer steps (one batch of rollouts each)"})
    prompts_per_step: int = field(default=8, metadata={"help": "prompts per batch"})
    group_size: int = field(default=8, metadata={"help": "G: completions per prompt (GRPO uses 64; 8 is the common small setting)"})
    max_new_tokens: int = field(default=128, metadata={"help": "completion length limit"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (1.0: sample the policy itself)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    loss: Literal["grpo", "dapo", "dr_grpo"] = field(default="grpo", metadata={"help": "loss aggregation (ponder.rl.losses.AGGREGATIONS)"})
    advantage_scale: Literal["group", "batch", "none"] = field(default="group", metadata={"help": "advantage scaling (none = Dr. GRPO)"})
    eps_low: float = field(default=0.2, metadata={"help": "lower clip range (PPO's 0.2)"})
    eps_high: float = field(default=0.2, metadata={"help": "upper clip range (DAPO clip-higher: 0.28)"})
    beta: float = field(default=0.0, metadata={"help": "k3 KL penalty to the initial policy (0: off, as DAPO/Dr. GRPO)"})
    epochs: int = field(default=1, metadata={"help": "optimisation passes over each batch (GRPO's mu)"})
    minibatches: int = field(default=1, metadata={"help": "minibatches per pass (one optimizer step each)"})
    micro_batch_size: int = field(default=16, metadata={"help": "sequences per forward/backward, bucketed by length (0: all at once); only speed changes"})
    lr: float = field(default=1e-5, metadata={"help": "AdamW learning rate (1e-6..1e-5 for real models; the tiny model likes 1e-4+)"})
    warmup_steps: int = field(default=0, metadata={"help": "linear LR warm-up steps, then constant"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm"})
    mask_truncated: bool = field(default=False, metadata={"help": "drop completions cut off at max_new_tokens from the loss (DAPO overlong filtering)"})
    dynamic_sampling: bool = field(default=False, metadata={"help": "drop zero-variance groups and re-sample fresh prompts (DAPO)"})
    max_resample_rounds: int = field(default=2, metadata={"help": "extra generation rounds per step for dynamic sampling"})
    lora_rank: int = field(default=0, metadata={"help": "LoRA rank via peft (0: train all weights)"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha"})
    dtype: Literal["float32", "bfloat16"] = field(default="float32", metadata={"help": "training dtype"})
    save_every: int = field(default=10, metadata={"help": "checkpoint every K steps (0: only at the end)"})
    keep_checkpoints: int = field(default=2, metadata={"help": "checkpoints kept on disk"})
    seed: int = field(default=0, metadata={"help": "seed of sampling and initialisation"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})

    def __post_init__(self):
        for name in ("steps", "prompts_per_step", "group_size", "max_new_tokens", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise PonderError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise PonderError("group_size must be >= 2: group advantages compare samples of one prompt")
        if not 0 <= self.eps_low < 1 or self.eps_high < 0:
            raise PonderError(f"need 0 <= eps_low < 1 and eps_high >= 0, got {self.eps_low}, {self.eps_high}")
        if self.temperature <= 0:
            raise PonderError("temperature must be > 0 for RL (greedy samples have no variance)")
        if self.mode_weight <= 0:
            raise PonderError(f"mode_weight must be > 0, got {self.mode_weight}")
        if self.balance_modes and (self.group_size % 2 or self.prompt_suffix):
            raise PonderError("--balance-modes needs an even --group-size and no --prompt-suffix "
                              "(it starts half of each group with <think>, half with <answer>)")


# -- the loop -----------------------------------------------------------------------------------
@dataclass
class State:
    """Everything a step touches; what a checkpoint saves."""

    model: Any
    tokenizer: Any
    policy: Any
    optimizer: Any
    scheduler: Any
    source: PromptSource
    reward: Any
    ref_model: Any
    meta: dict  # the model dir's ponder.json (params, flops of earlier stages)
    step: int = 0
    ledger: dict = field(default_factory=lambda: {"rl_flops": 0.0, "generated_tokens": 0, "trained_tokens": 0})


def seed_step(seed: int, it: int) -> None:
    """Seed python, numpy and torch from (seed, step): step `it` samples the same after a resume."""
    import numpy as np
    import torch

    s = (seed * 1_000_003 + it) % 2**31
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def _load_model(path: str, cfg: TrainConfig, adapter: str | None = None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not Path(path).is_dir():
        raise PonderError(f"model directory not found: {path}")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.dtype]
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if cfg.lora_rank > 0:
        from peft import LoraConfig, PeftModel, get_peft_model

        if adapter:
            model = PeftModel.from_pretrained(model, adapter, is_trainable=True)
        else:
            model = get_peft_model(model, LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha,
                                                     target_modules="all-linear", lora_dropout=0.0))
    model.train()
    return model, tokenizer


def setup(cfg: TrainConfig, run, resume: bool = False) -> State:
    """Build (or restore from the run's latest checkpoint) model, optimizer, data and reward."""
    import torch

    from ponder.policy.hf import HFPolicy
    from ponder.ledger import read_meta
    from ponder.rewards import combine
    from ponder.rl.checkpoint import latest_checkpoint, load_trainer_state
    from ponder.rl.data import make_curriculum

    if not cfg.model:
        raise PonderError("no model given; pass --model DIR (e.g. the output of `ponder sft`)")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ckpt = latest_checkpoint(run / "checkpoints") if resume else None
    seed_step(cfg.seed, -1)
    if ckpt is not None and cfg.lora_rank > 0:
        model, tokenizer = _load_model(cfg.model, cfg, adapter=str(ckpt))
    else:
        model, tokenizer = _load_model(str(ckpt or cfg.model), cfg)
    ref_model = None
    if cfg.beta > 0:  # the initial policy, frozen (for LoRA: the base weights are the reference)
        ref_model, _ = _load_model(cfg.model, TrainConfig(**{**cfg.__dict__, "lora_rank": 0}))
        ref_model.eval().requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(1, cfg.warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warm))
    curriculum = make_curriculum(cfg.levels) if cfg.curriculum else None
    kw = dict(levels=cfg.levels, seed=cfg.data_seed, curriculum=curriculum)
    source = PromptSource.from_file(cfg.problems, **kw) if cfg.problems else PromptSource.from_task(cfg.task, **kw)
    reward = combine(cfg.reward, {"overlong": {"max_len": cfg.max_new_tokens, "cache": min(cfg.overlong_cache, cfg.max_new_tokens)}})
    meta = read_meta(cfg.model)
    meta.setdefault("params", sum(p.numel() for p in model.parameters()))
    state = State(model=model, tokenizer=tokenizer, policy=HFPolicy.from_model(model, tokenizer), optimizer=optimizer,
                  scheduler=scheduler, source=source, reward=reward, ref_model=ref_model, meta=meta)
    if ckpt is not None:
        saved = load_trainer_state(ckpt, optimizer=optimizer, scheduler=scheduler)
        state.step, state.ledger = int(saved["step"]), dict(saved["ledger"])
        source.load_state_dict(saved["data"])
    return state


def checkpoint(state: State, run, cfg: TrainConfig) -> None:
    from ponder.rl.checkpoint import save_checkpoint

    save_checkpoint(run / "checkpoints", state.step, model=state.model, tokenizer=state.tokenizer,
                    optimizer=state.optimizer, scheduler=state.scheduler,
                    state={"data": state.source.state_dict(), "ledger": state.ledger},
                    meta=ledger_meta(state), keep=cfg.keep_checkpoints)


def ledger_meta(state: State) -> dict:
    """ponder.json of the trained model: earlier stages' FLOPs plus this run's RL."""
    flops = dict(state.meta.get("flops") or {})
    flops["rl"] = flops.get("rl", 0.0) + state.ledger["rl_flops"]
    return {**state.meta, "flops": flops}


def train_step(state: State, cfg: TrainConfig) -> dict[str, Any]:
    """One RL step: collect -> advantages -> step, plus metrics and the compute ledger."""
    from ponder.rl.metrics import batch_metrics, mode_metrics, pass_rates_by_level, post_training_share, rl_flops

    seed_step(cfg.seed, state.step)
    t0 = time.perf_counter()
    state.model.eval()  # no dropout in rollouts (the tiny model has none; real ones may)
    batch = collect(state.policy, state.source, state.reward, cfg)
    state.model.train()
    m: dict[str, Any] = batch_metrics(batch)
    if cfg.balance_modes:  # the batch's think-rate is forced to 1/2; log the policy's own
        m.update(mode_metrics(state.policy, batch, cfg))
    gen_tokens = sum(c.num_tokens for c in batch.completions)
    trained = 0
    if batch.completions:
        adv = advantages(batch, cfg)
        tensors = build_tensors(state.policy, state.tokenizer, batch, cfg)
        trained = int(tensors[1].sum()) * cfg.epochs
        m.update(step(state.model, state.optimizer, state.scheduler, tensors, adv, cfg, state.ref_model))
    else:  # every group had zero variance: nothing to learn from, logged rather than hidden
        m["skipped"] = 1.0
        state.scheduler.step()
    if state.source.curriculum is not None:
        state.source.curriculum.update(pass_rates_by_level(batch))
        m["curriculum_levels"] = list(state.source.open_levels())
    state.step += 1
    flops = rl_flops(int(state.meta["params"]), trained, gen_tokens)
    state.ledger["rl_flops"] += flops
    state.ledger["generated_tokens"] += gen_tokens
    state.ledger["trained_tokens"] += trained
    dt = time.perf_counter() - t0
    m.update(step=state.step, lr=state.scheduler.get_last_lr()[0], step_time_s=dt, gen_time_s=batch.gen_time_s,
             gen_tokens_per_s=gen_tokens / batch.gen_time_s if batch.gen_time_s else 0.0,
             tokens_per_s=(gen_tokens + trained) / dt, rl_flops=state.ledger["rl_flops"],
             post_training_share=post_training_share(dict(state.meta.get("flops") or {}), state.ledger["rl_flops"]))
    return m


def validate(cfg: TrainConfig) -> None:
    """PonderError (one line) for a missing model, unknown task/levels/reward or missing problems file."""
    from ponder.rewards import parse_spec

    if not cfg.model:
        raise PonderError("no model given; pass --model DIR (e.g. the output of `ponder sft`)")
    if not Path(cfg.model).is_dir():
        raise PonderError(f"model directory not found: {cfg.model}")
    parse_spec(cfg.reward)
    if cfg.problems:
        if not Path(cfg.problems).exists():
            raise PonderError(f"problems file not found: {cfg.problems}")
    else:
        from ponder.tasks import get_task

        task = get_task(cfg.task)
        for d in cfg.levels:
            task.check_difficulty(d)


def _rewind_metrics(run, step: int) -> None:
    """Drop metric rows after the checkpoint we resume from (they will be recomputed)."""
    from ponder.runs import read_jsonl, write_jsonl

    path = run / "metrics.jsonl"
    if path.exists():
        write_jsonl(path, [r for r in read_jsonl(path) if int(r.get("step", 0)) <= step])


def train(cfg: TrainConfig, out: str | None = None, resume: bool = False, progress: bool = True):
    """Run RL; returns the RunDir (config.yaml, metrics.jsonl, checkpoints/, model/, summary.json)."""
    from tqdm import tqdm

    from ponder.policy.checkpoint import save_model
    from ponder.runs import RunDir

    if not resume:
        validate(cfg)  # bad input fails before anything is written
    if resume and (out is None or not Path(out).is_dir()):
        raise PonderError(f"--resume needs an existing run directory (--out), got {out}")
    if not resume and out is not None and (Path(out) / "metrics.jsonl").exists():
        raise PonderError(f"{out} already holds a training run; pass --resume to continue it or pick another --out")
    run = RunDir(out) if resume else RunDir.create("train", out)
    if not resume:
        run.write_config(cfg)
    state = setup(cfg, run, resume)
    _rewind_metrics(run, state.step)
    writer = _tensorboard(run)
    t_start = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=state.step, desc="train", disable=not progress, dynamic_ncols=True)
    last: dict[str, Any] = {}
    while state.step < cfg.steps:
        last = train_step(state, cfg)
        run.log(last)
        if writer is not None:
            for k, v in last.items():
                if isinstance(v, (int, float)) and v is not None:
                    writer.add_scalar(k, v, state.step)
        bar.update(1)
        bar.set_postfix(reward=f"{last['reward_mean']:.2f}", acc=f"{last['accuracy']:.2f}",
                        think=f"{last.get('p_think', last['think_rate']):.2f}", len=f"{last['len_mean']:.0f}")
        if cfg.save_every and state.step % cfg.save_every == 0 and state.step < cfg.steps:
            checkpoint(state, run, cfg)
    bar.close()
    last = (run.metrics() or [{}])[-1]
    checkpoint(state, run, cfg)
    model = state.model.merge_and_unload() if cfg.lora_rank > 0 else state.model
    save_model(model, state.tokenizer, run / "model", ledger_meta(state))
    run.write_json("summary.json", {"steps": state.step, "final": last, "ledger": state.ledger,
                                    "flops": ledger_meta(state)["flops"], "wall_s_this_session": time.perf_counter() - t_start})
    if writer is not None:
        writer.close()
    return run


def _tensorboard(run):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: JSONL only
        return None
    return SummaryWriter(str(run / "tb"))
