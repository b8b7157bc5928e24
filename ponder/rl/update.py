"""The update of the RL loop: batch tensors, teacher-forced logprobs and `step` (old logprobs,
then clipped-loss epochs over length-bucketed micro-batches, AdamW, gradient clipping, skipping
non-finite updates). Importable and tested alone (tests/test_rl_trainer.py).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ponder.policy.prompts import encode_prompt

if TYPE_CHECKING:
    from ponder.rl.config import TrainConfig
    from ponder.rl.rollout import Batch


# -- tensors for the loss ---------------------------------------------------------------------
def train_rows(policy, tokenizer, batch: Batch, suffix: str) -> list[tuple[list[int], list[int], list[int], bool, int]]:
    """(prompt ids, completion ids, loss mask over the completion, truncated, owner) per trained row.

    A completion is one row, owned by itself. A multi-turn completion (`ponder.rollout`'s
    RolloutCompletion) is its root's row, injected tokens masked out, followed by one row per
    sub-call of its tree, each owned by the root's index: the root's outcome is credited to every
    token the policy generated for it (APR's end-to-end training)."""
    rows = []
    for i, (p, c) in enumerate(zip(batch.problems, batch.completions)):
        tree = getattr(c, "rollout", None)
        if tree is None:
            comp = list(c.token_ids)
            rows.append((encode_prompt(tokenizer, policy.render(p, suffix)), comp, [1] * len(comp),
                         c.finish_reason == "length", i))
            continue
        for r in (tree, *tree.descendants()):
            rows.append((encode_prompt(tokenizer, r.prompt), r.token_ids, r.loss_mask(), r.finish_reason == "length", i))
    return rows


def row_owners(batch: Batch) -> list[int]:
    """[M] the completion each trained row belongs to (see `train_rows`): index its advantages with it."""
    return [i for i, c in enumerate(batch.completions) for _ in range(1 + len(_descendants(c)))]


def _descendants(c) -> list:
    tree = getattr(c, "rollout", None)
    return tree.descendants() if tree is not None else []


def build_tensors(policy, tokenizer, batch: Batch, cfg: TrainConfig):
    """input_ids / attention_mask [M, L] (right-padded prompt+completion) and loss mask [M, L-1]
    over the policy's completion tokens exactly as sampled (prompts encoded as the backends encode
    them, `ponder.policy.prompts.encode_prompt`; the policy keeps a final EOS in `token_ids`, so the
    model is also trained on when to stop). M = N single-turn completions, or more with sub-call
    trees (`train_rows`); injected tokens are context, never trained."""
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows = train_rows(policy, tokenizer, batch, cfg.prompt_suffix)
    L = max(len(pr) + len(comp) for pr, comp, *_ in rows)
    ids = torch.full((len(rows), L), pad, dtype=torch.long)
    attn = torch.zeros((len(rows), L), dtype=torch.long)
    mask = torch.zeros((len(rows), L - 1))
    for i, (pr, comp, m, truncated, _) in enumerate(rows):
        s, lp = pr + list(comp), len(pr)
        ids[i, : len(s)] = torch.tensor(s)
        attn[i, : len(s)] = 1
        if not (truncated and cfg.mask_truncated):
            mask[i, lp - 1 : lp - 1 + len(comp)] = torch.tensor(m, dtype=torch.float32)  # logits at t predict t+1
    return ids, attn, mask


def token_logprobs(model, ids, attn, temperature: float, with_entropy: bool = False):
    """log pi(token_{t+1} | ..t) [N, L-1] (and entropy [N, L-1]) by teacher forcing."""
    import torch

    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float() / temperature
    logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    if not with_entropy:
        return logp, None
    from ponder.rl.losses import entropy_from_logits

    with torch.no_grad():
        ent = entropy_from_logits(logits)
    return logp, ent


def micro_batches(lengths, size: int) -> list:
    """Index tensors of micro-batches: sequences sorted by length (longest first, stable), cut
    every `size` (0: one micro-batch). Each micro-batch is trimmed to its own longest sequence,
    so short completions stop paying for the padding of long ones."""
    import torch

    order = torch.sort(lengths, descending=True, stable=True).indices
    return list(order.split(size)) if size > 0 else [order]


def _logprobs_bucketed(model, ids, attn, temperature: float, size: int):
    """token_logprobs over the whole batch, computed micro-batch by micro-batch (no grad)."""
    import torch

    out = torch.zeros(ids.shape[0], ids.shape[1] - 1)
    for idx in micro_batches(attn.sum(1), size):
        L = int(attn[idx].sum(1).max())
        out[idx, : L - 1] = token_logprobs(model, ids[idx, :L], attn[idx, :L], temperature)[0].float()
    return out


def step(model, optimizer, scheduler, tensors, adv, cfg: TrainConfig, ref_model=None) -> dict[str, float]:
    """Old logprobs, then `epochs` x `minibatches` clipped-loss updates. Returns averaged stats.

    Each minibatch is one optimizer step, accumulated over length-bucketed micro-batches; every
    micro-batch loss is weighted (`ponder.rl.losses.micro_weight`) so the accumulated gradient is
    exactly that of the loss aggregated over the whole minibatch.
    """
    import torch

    from ponder.rl.losses import masked_mean, micro_weight, policy_loss

    ids, attn, mask = tensors
    N, size, modes = ids.shape[0], cfg.micro_batch_size, cfg.mode_strategy
    reuse_old = cfg.epochs == 1 and cfg.minibatches == 1  # weights unchanged: old == logp.detach()
    with torch.no_grad():
        old = None if reuse_old else _logprobs_bucketed(model, ids, attn, cfg.temperature, size)
        ref = _logprobs_bucketed(ref_model, ids, attn, cfg.temperature, size) if ref_model is not None else None
    stats: dict[str, list[float]] = {}
    params = [p for p in model.parameters() if p.requires_grad]
    for _ in range(cfg.epochs):
        for mb in torch.arange(N).chunk(cfg.minibatches):
            optimizer.zero_grad(set_to_none=True)
            tokens, finite, acc = mask[mb].sum(), True, {}
            for micro in micro_batches(attn[mb].sum(1), size):
                idx = mb[micro]
                L = int(attn[idx].sum(1).max())
                m = mask[idx, : L - 1]
                logp, ent = token_logprobs(model, ids[idx, :L], attn[idx, :L], cfg.temperature, with_entropy=True)
                old_mb = logp.detach() if old is None else old[idx, : L - 1]
                a = modes.token_advantages(adv[idx], m, old_mb)  # [n] or, mode-balanced, [n, T]
                ref_mb = None if ref is None else ref[idx, : L - 1]
                if ref_mb is not None and getattr(modes, "forced_first", False):
                    # no KL on a forced first token (k3 is zero, with zero gradient, at ref = logp)
                    rows, first = torch.arange(len(idx)), m.argmax(1)
                    ref_mb = ref_mb.clone()
                    ref_mb[rows, first] = logp.detach()[rows, first]
                loss, s = policy_loss(logp, old_mb, a, m, variant=cfg.loss, eps_low=cfg.eps_low,
                                      eps_high=cfg.eps_high, max_len=cfg.max_new_tokens,
                                      ref_logp=ref_mb, beta=cfg.beta)
                w = micro_weight(cfg.loss, m.sum(), tokens, len(idx), len(mb))
                share = float(m.sum() / tokens.clamp(min=1))  # token share, for averaging the stats
                s["entropy"] = float(masked_mean(ent, m))
                for k, v in s.items():
                    acc[k] = acc.get(k, 0.0) + v * share
                acc["loss"] = acc.get("loss", 0.0) + float(loss.detach()) * w  # the minibatch's aggregated loss
                if not torch.isfinite(loss):
                    finite = False
                    break
                (loss * w).backward()
            if finite:
                gn = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                acc["grad_norm"] = float(gn)
                finite = bool(torch.isfinite(gn))
            if finite:
                optimizer.step()
            else:
                optimizer.zero_grad(set_to_none=True)
            acc["skipped"] = 0.0 if finite else 1.0
            for k, v in acc.items():
                stats.setdefault(k, []).append(v)
    scheduler.step()
    out = {k: (sum(v) / len(v) if k != "skipped" else sum(v)) for k, v in stats.items() if v}
    return {k: (v if math.isfinite(v) else None) for k, v in out.items()}
