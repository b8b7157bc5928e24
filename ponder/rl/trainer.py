"""`ponder train`: a GRPO-family RL loop you can read top to bottom.

    from ponder.rl import TrainConfig, check, run
    from ponder.runs import RunDir
    cfg = TrainConfig(model="runs/sft/model", tasks=("arith",), reward="correct:1,kimi_length:0.5")
    check(cfg)
    result = run(cfg, RunDir.open("train", cfg.out, cfg))

One step (`train_step`) is four functions, each importable and tested alone:

    batch = collect(...)      rollout G completions per prompt with the LIVE weights (the model itself, or
                              a vLLM engine synced after every step: ponder.rl.engines), score them,
                              drop zero-variance groups and re-sample (dynamic sampling)
    adv   = advantages(...)   group-relative advantages, as the mode strategy credits them (ponder.rl.modes);
                              with sub-calls (--modes subcalls) every row of a rollout's tree takes its root's
                              token-level reward terms (`plan_legs`) add per-token credit (ponder.rl.credit)
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

A run directory gets config.yaml, metrics.jsonl (a row per step), rollouts/ (Parquet, a file per
step: ponder.rl.records), checkpoints/, model/, summary.json and report.html (ponder.rl.report).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.rl.config import TrainConfig
from ponder.rl.data import PromptSource
from ponder.rl.rollout import advantages, collect
from ponder.rl.update import build_tensors, row_owners, step


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
    engine: Any = None  # what samples the rollouts (ponder.rl.engines); None: `policy` itself
    step: int = 0
    ledger: dict = field(default_factory=lambda: {"rl_flops": 0.0, "generated_tokens": 0, "trained_tokens": 0})
    mode_levels: dict = field(default_factory=dict)  # per-level statistics of --mode-level-floor (`level_floors`)
    credit: list = field(default_factory=list)  # the reward's token-level terms, (name, weight) (`ponder.rl.credit`)


@dataclass
class TrainResult:
    """What `run` returns: where things are and how the run ended."""

    run_dir: Path
    model: Path  # the trained model (HF format, with its ponder.json ledger)
    steps: int
    final: dict | None  # metrics of the last step that trained on data (None: no step had any)


def seed_step(seed: int, it: int) -> None:
    """Seed python, numpy and torch from (seed, step): step `it` samples the same after a resume."""
    import numpy as np
    import torch

    s = (seed * 1_000_003 + it) % 2**31
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def _load_model(path: str, dtype: str, lora_rank: int = 0, lora_alpha: int = 16, adapter: str | None = None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, dtype={"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype])
    tokenizer = AutoTokenizer.from_pretrained(path)
    if lora_rank > 0:
        from peft import LoraConfig, PeftModel, get_peft_model

        if adapter:
            model = PeftModel.from_pretrained(model, adapter, is_trainable=True)
        else:
            model = get_peft_model(model, LoraConfig(r=lora_rank, lora_alpha=lora_alpha,
                                                     target_modules="all-linear", lora_dropout=0.0))
    model.train()
    return model, tokenizer


def setup(cfg: TrainConfig, run_dir) -> State:
    """Build (or, with cfg.resume, restore from the run's latest checkpoint) model, optimizer,
    data and reward."""
    import torch

    from ponder.ledger import read_meta
    from ponder.policy.checkpoint import num_params
    from ponder.policy.hf import HFPolicy
    from ponder.rewards import combine
    from ponder.rl.checkpoint import latest_checkpoint, load_trainer_state
    from ponder.rl.credit import split_reward
    from ponder.rl.data import make_curriculum
    from ponder.rl.engines import make_engine

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ckpt = latest_checkpoint(run_dir / "checkpoints") if cfg.resume else None
    seed_step(cfg.seed, -1)
    if ckpt is not None and cfg.lora_rank > 0:
        model, tokenizer = _load_model(cfg.model, cfg.dtype, cfg.lora_rank, cfg.lora_alpha, adapter=str(ckpt))
    else:
        model, tokenizer = _load_model(str(ckpt or cfg.model), cfg.dtype, cfg.lora_rank, cfg.lora_alpha)
    ref_model = None
    if cfg.beta > 0:  # the initial policy, frozen (for LoRA: the base weights are the reference)
        ref_model, _ = _load_model(cfg.model, cfg.dtype)
        ref_model.eval().requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(1, cfg.warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warm))
    curriculum = make_curriculum(cfg.levels) if cfg.curriculum else None
    kw = dict(levels=cfg.levels, seed=cfg.data_seed, curriculum=curriculum)
    source = PromptSource.from_file(cfg.problems, **kw) if cfg.problems else PromptSource.from_tasks(cfg.tasks, **kw)
    seq_spec, credit = split_reward(cfg.reward)
    reward = combine(seq_spec, {"overlong": {"max_len": cfg.max_new_tokens, "cache": min(cfg.overlong_cache, cfg.max_new_tokens)}})
    meta = read_meta(cfg.model)
    meta.setdefault("params", num_params(model))
    state = State(model=model, tokenizer=tokenizer, policy=HFPolicy.from_model(model, tokenizer), optimizer=optimizer,
                  scheduler=scheduler, source=source, reward=reward, ref_model=ref_model, meta=meta, credit=credit)
    state.engine = make_engine(cfg.rollout_backend, model, tokenizer, cfg.model, cfg.dtype, cfg.rollout_gpu_memory)
    if ckpt is not None:
        saved = load_trainer_state(ckpt, optimizer=optimizer, scheduler=scheduler)
        state.step, state.ledger = int(saved["step"]), dict(saved["ledger"])
        state.mode_levels = dict(saved.get("mode_levels", {}))
        source.load_state_dict(saved["data"])
        state.engine.sync(model)  # the engine was built from cfg.model, not the checkpoint
    return state


def ledger_meta(state: State) -> dict:
    """ponder.json of the trained model: earlier stages' FLOPs plus this run's RL."""
    from ponder.ledger import add_flops

    return add_flops(state.meta, "rl", state.ledger["rl_flops"])


def checkpoint(state: State, run_dir, cfg: TrainConfig) -> None:
    from ponder.rl.checkpoint import save_checkpoint

    save_checkpoint(run_dir / "checkpoints", state.step, model=state.model, tokenizer=state.tokenizer,
                    optimizer=state.optimizer, scheduler=state.scheduler,
                    state={"data": state.source.state_dict(), "ledger": state.ledger, "mode_levels": state.mode_levels},
                    meta=ledger_meta(state), keep=cfg.keep_checkpoints)


def train_step(state: State, cfg: TrainConfig) -> tuple[dict[str, Any], list[dict]]:
    """One RL step: collect -> advantages -> step. Returns the step's metrics and its rollout
    rows (ponder.rl.records)."""
    from ponder.ledger import post_training_share, rl_flops
    from ponder.rl.metrics import batch_metrics, pass_rates_by_level
    from ponder.rl.records import rollout_rows

    seed_step(cfg.seed, state.step)
    t0 = time.perf_counter()
    state.model.eval()  # no dropout in rollouts (the tiny model has none; real ones may)
    batch = collect(state.engine.policy if state.engine else state.policy, state.source, state.reward, cfg)
    state.model.train()
    m: dict[str, Any] = batch_metrics(batch)
    m.update(cfg.mode_strategy.metrics(state.policy, batch, cfg.temperature))
    # every sampled token costs compute, those of groups dynamic sampling dropped included
    gen_tokens = max(batch.generated_tokens, sum(c.num_tokens for c in batch.completions))
    trained, rows = 0, []
    if batch.completions:
        adv = advantages(batch, cfg, state.mode_levels)
        rows = rollout_rows(batch, cfg.mode_strategy.advantage_columns(adv), state.step + 1)
        tensors = build_tensors(state.policy, state.tokenizer, batch, cfg)
        trained = int(tensors[1].sum()) * cfg.epochs
        if state.credit:  # token-level reward terms: per-token credit beside the advantages
            from ponder.rl.credit import token_credit

            tensors.credit, cstats = token_credit(state.credit, batch, state.tokenizer, tensors.prompt_len,
                                                  tensors[2].shape[1])
            m.update(cstats)
        adv = adv[row_owners(batch)]  # a sub-call's rows take their root's advantage
        m.update(step(state.model, state.optimizer, state.scheduler, tensors, adv, cfg, state.ref_model))
        if state.engine is not None:
            state.engine.sync(state.model)
    else:  # every group had zero variance: nothing to learn from, logged rather than hidden
        m["skipped"] = 1.0
        state.scheduler.step()
    if state.source.curriculum is not None:
        state.source.curriculum.update(pass_rates_by_level(batch))
        m["curriculum_levels"] = list(state.source.open_levels())
    state.step += 1
    state.ledger["rl_flops"] += rl_flops(int(state.meta["params"]), trained, gen_tokens)
    state.ledger["generated_tokens"] += gen_tokens
    state.ledger["trained_tokens"] += trained
    dt = time.perf_counter() - t0
    m.update(step=state.step, lr=state.scheduler.get_last_lr()[0], step_time_s=dt, gen_time_s=batch.gen_time_s,
             gen_tokens_per_s=gen_tokens / batch.gen_time_s if batch.gen_time_s else 0.0,
             tokens_per_s=(gen_tokens + trained) / dt, rl_flops=state.ledger["rl_flops"],
             post_training_share=post_training_share(dict(state.meta.get("flops") or {}), state.ledger["rl_flops"]))
    return m, rows


def run(cfg: TrainConfig, run_dir, *, progress: bool = True) -> TrainResult:
    """Train into `run_dir` (a `ponder.runs.RunDir`, created and holding config.yaml); with
    cfg.resume, continue it from its latest checkpoint. `check(cfg)` first."""
    from tqdm import tqdm

    from ponder.rl.records import write_rollouts

    state = setup(cfg, run_dir)
    if cfg.resume:
        _rewind(run_dir, state.step)
        run_dir.write_config(cfg)  # the config this run continues under (flags given now included)
    writer = _tensorboard(run_dir)
    t_start = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=state.step, desc="train", disable=not progress, dynamic_ncols=True)
    while state.step < cfg.steps:
        m, rows = train_step(state, cfg)
        write_rollouts(run_dir, state.step, rows)
        run_dir.log(m)
        if writer is not None:
            for k, v in m.items():
                if isinstance(v, (int, float)):
                    writer.add_scalar(k, v, state.step)
        bar.update(1)
        bar.set_postfix(_postfix(m))
        if cfg.save_every and state.step % cfg.save_every == 0 and state.step < cfg.steps:
            checkpoint(state, run_dir, cfg)
    bar.close()
    if writer is not None:
        writer.close()
    if state.engine is not None:
        state.engine.close()
    return _finish(state, run_dir, cfg, time.perf_counter() - t_start)


def _postfix(m: dict) -> dict[str, str]:
    if "reward_mean" not in m:
        return {"data": "none (every group dropped)"}
    return {"reward": f"{m['reward_mean']:.2f}", "acc": f"{m['accuracy']:.2f}",
            "think": f"{m.get('p_think', m['think_rate']):.2f}", "len": f"{m['len_mean']:.0f}"}


def _finish(state: State, run_dir, cfg: TrainConfig, wall_s: float) -> TrainResult:
    """Final checkpoint, model/, summary.json and report.html."""
    from ponder.policy.checkpoint import save_model
    from ponder.rl.report import render_train_report
    from ponder.runs import atomic_write_text

    rows = run_dir.metrics()
    final = next((r for r in reversed(rows) if "reward_mean" in r), None)
    checkpoint(state, run_dir, cfg)
    model = state.model.merge_and_unload() if cfg.lora_rank > 0 else state.model
    meta = ledger_meta(state)
    model_dir = save_model(model, state.tokenizer, run_dir / "model", meta)
    run_dir.write_json("summary.json", {"steps": state.step, "final": final, "ledger": state.ledger,
                                        "flops": meta["flops"], "wall_s_this_session": wall_s})
    summary = {"model": cfg.model, "steps": state.step, "last step with data": final["step"] if final else "none",
               "reward": final["reward_mean"] if final else None, "accuracy": final["accuracy"] if final else None,
               "RL FLOPs": state.ledger["rl_flops"], "post-training share": rows[-1]["post_training_share"] if rows else None}
    atomic_write_text(run_dir / "report.html", render_train_report(rows, summary, title=f"ponder train {run_dir}",
                                                                   subtitle=f"reward {cfg.reward}"))
    return TrainResult(run_dir=Path(run_dir.path), model=model_dir, steps=state.step, final=final)


def _rewind(run_dir, step: int) -> None:
    """Drop the metric rows and rollout files after the checkpoint we resume from (they will be recomputed)."""
    from ponder.rl.records import rewind_rollouts
    from ponder.runs import read_jsonl, write_jsonl

    path = run_dir / "metrics.jsonl"
    if path.exists():
        write_jsonl(path, [r for r in read_jsonl(path) if int(r.get("step", 0)) <= step])
    rewind_rollouts(run_dir, step)


def _tensorboard(run_dir):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: JSONL only
        return None
    return SummaryWriter(str(run_dir / "tb"))
