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


class Tensors(tuple):
    """(input_ids, attention_mask, loss mask), unpacked as a plain 3-tuple, carrying `prompt_len`
    [M] (tokens of each row's prompt) for the shared-prompt fast path of `step`, and `forced` [M]
    bool: the row is a completion's own (whose first token a mode-balanced strategy forced), not a
    sub-call's (whose first token the policy sampled); None: every row is. `credit` [M, L-1]:
    per-token credit added to the advantages (`ponder.rl.credit`, token-level reward terms);
    None: none."""

    prompt_len = None
    forced = None
    credit = None


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
    out = Tensors((ids, attn, mask))
    out.prompt_len = torch.tensor([len(pr) for pr, *_ in rows], dtype=torch.long)
    owners = [r[4] for r in rows]
    out.forced = torch.tensor([i == 0 or owners[i - 1] != o for i, o in enumerate(owners)])  # a root row leads its owner's
    return out


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


def shared_prompt_logprobs(lean, ids, attn, plen, temperature: float, with_entropy: bool = False):
    """`token_logprobs` of rows whose prompts repeat (a group's G samples), each distinct prompt
    computed once and only the positions that predict a completion token
    (`ponder.policy.lean.completion_logits`). The values at completion positions are those of
    `token_logprobs` up to float rounding (tests/test_rl_fastpath.py: 1e-5 on logprobs, 1e-5 of
    each gradient tensor's largest entry); positions outside the completion hold 0 (the loss masks them)."""
    import torch

    from ponder.policy.lean import completion_logits

    logits, comp, at = completion_logits(lean, ids, attn, plen)
    logits = logits.float() / temperature
    lp = torch.log_softmax(logits, -1).gather(-1, comp.unsqueeze(-1)).squeeze(-1)  # [m]
    shape = (ids.shape[0], ids.shape[1] - 1)
    logp = lp.new_zeros(shape[0] * shape[1]).scatter(0, at, lp).view(shape)
    if not with_entropy:
        return logp, None
    from ponder.rl.losses import entropy_from_logits

    with torch.no_grad():
        ent = logp.new_zeros(shape[0] * shape[1]).scatter(0, at, entropy_from_logits(logits)).view(shape)
    return logp, ent


def _fast_path(model, tensors):
    """The lean twin of `model` when the shared-prompt path applies (prompt lengths known, a model
    `ponder.policy.lean` reproduces), else None."""
    plen = getattr(tensors, "prompt_len", None)
    if plen is None or not FAST_PATH or len(plen) == 0 or int(plen.min()) < 1:
        return None
    from ponder.policy.lean import LeanLlama

    return LeanLlama.of(model)


FAST_PATH = True  # False: always transformers' forward over full rows (the reference the tests compare with)
SKIP_IDLE_ROWS = True  # False: every row through the gradient pass (the reference the tests compare with)


def idle_rows(adv, cfg: TrainConfig, ref, credit=None):
    """Bool [N]: rows whose loss gradient is exactly zero, so `step` computes their logprobs
    without autograd (for the loss's value and the stats) and leaves them out of the backward.

    A row is idle when every advantage it has is 0 (a group whose rewards all agree, under group
    advantages) and there is no KL term (beta 0 or no reference model): its per-token loss is
    -min(r * 0, clip(r) * 0) = 0 whatever its logprobs, for every loss variant, and a
    mode-balanced row's token advantages (`ponder.rl.modes.first_token_split`) are then 0 too.
    Its tokens still count in the aggregation's denominators, which take the mask only. With
    per-token `credit` [N, T] (None: none) a row is idle only where its credit is 0 too."""
    import torch

    n = adv.shape[0]
    if not SKIP_IDLE_ROWS or (ref is not None and cfg.beta != 0.0):
        return torch.zeros(n, dtype=torch.bool)
    idle = (adv.reshape(n, -1) == 0).all(1)
    return idle if credit is None else idle & (credit == 0).all(1)


def _rows_logprobs(model, tensors, rows, temperature: float, width: int, fast: bool):
    """(logp, entropy) [len(rows), width] of these rows, padded with 0 past each one's end."""
    import torch.nn.functional as F

    ids, attn, _ = tensors
    L = int(attn[rows].sum(1).max())
    if fast:
        plen = tensors.prompt_len
        logp, ent = shared_prompt_logprobs(_fast_path(model, tensors), ids[rows, :L], attn[rows, :L], plen[rows],
                                           temperature, with_entropy=True)
    else:
        logp, ent = token_logprobs(model, ids[rows, :L], attn[rows, :L], temperature, with_entropy=True)
    return F.pad(logp, (0, width - (L - 1))), F.pad(ent, (0, width - (L - 1)))


def _micro_logprobs(model, tensors, idx, temperature: float, width: int, fast: bool, idle):
    """(logp, entropy) [len(idx), width] of a micro-batch, the rows flagged `idle` (`idle_rows`)
    computed without autograd; logp is differentiable in the others' rows only. Returns also
    whether any row needs the backward."""
    import torch

    busy = ~idle
    if not bool(idle.any()):
        return (*_rows_logprobs(model, tensors, idx, temperature, width, fast), True)
    with torch.no_grad():
        lp_i, ent_i = _rows_logprobs(model, tensors, idx[idle], temperature, width, fast)
    if not bool(busy.any()):
        return lp_i, ent_i, False
    lp_b, ent_b = _rows_logprobs(model, tensors, idx[busy], temperature, width, fast)
    back = torch.argsort(torch.cat([busy.nonzero()[:, 0], idle.nonzero()[:, 0]]))  # to the micro-batch's order
    return torch.cat([lp_b, lp_i])[back], torch.cat([ent_b, ent_i])[back], True


def micro_batches(lengths, size: int) -> list:
    """Index tensors of micro-batches: sequences sorted by length (longest first, stable), cut
    every `size` (0: one micro-batch). Each micro-batch is trimmed to its own longest sequence,
    so short completions stop paying for the padding of long ones."""
    import torch

    order = torch.sort(lengths, descending=True, stable=True).indices
    return list(order.split(size)) if size > 0 else [order]


def _logprobs_bucketed(model, ids, attn, temperature: float, size: int, plen=None):
    """token_logprobs over the whole batch, computed micro-batch by micro-batch (no grad); with
    prompt lengths plen and a model the lean path reproduces, each prompt once per micro-batch."""
    import torch

    lean = _fast_path(model, _with_plen(plen))
    out = torch.zeros(ids.shape[0], ids.shape[1] - 1)
    for idx in (_group_batches(len(ids), size) if lean is not None else micro_batches(attn.sum(1), size)):
        L = int(attn[idx].sum(1).max())
        if lean is not None:
            out[idx, : L - 1] = shared_prompt_logprobs(lean, ids[idx, :L], attn[idx, :L], plen[idx], temperature)[0]
        else:
            out[idx, : L - 1] = token_logprobs(model, ids[idx, :L], attn[idx, :L], temperature)[0].float()
    return out


def _with_plen(plen):
    t = Tensors(())
    t.prompt_len = plen
    return t


def _group_batches(n: int, size: int, rows=None) -> list:
    """Micro-batches of consecutive rows (a group's samples are consecutive, so they share their
    prompt's forward), cut every `size` (0: one)."""
    import torch

    order = torch.arange(n) if rows is None else rows
    return list(order.split(size)) if size > 0 else [order]


def step(model, optimizer, scheduler, tensors, adv, cfg: TrainConfig, ref_model=None) -> dict[str, float]:
    """Old logprobs, then `epochs` x `minibatches` clipped-loss updates. Returns averaged stats.

    Each minibatch is one optimizer step, accumulated over length-bucketed micro-batches; every
    micro-batch loss is weighted (`ponder.rl.losses.micro_weight`) so the accumulated gradient is
    exactly that of the loss aggregated over the whole minibatch. Per-token credit
    (`tensors.credit`, token-level reward terms: `ponder.rl.credit`) is added to each token's
    advantage. Rows with an exactly zero gradient (`idle_rows`: all advantages 0, no credit, no
    KL) are computed without autograd and left out of the backward; a minibatch with no other row
    gets zero gradients (assumed for every trainable parameter, as a forward through all of them
    gives), so AdamW steps as it would have.
    """
    import torch

    from ponder.rl.losses import masked_mean, micro_weight, policy_loss

    ids, attn, mask = tensors
    N, size, modes = ids.shape[0], cfg.micro_batch_size, cfg.mode_strategy
    plen = getattr(tensors, "prompt_len", None)
    forced = getattr(tensors, "forced", None)
    credit = getattr(tensors, "credit", None)
    fast = _fast_path(model, tensors) is not None
    reuse_old = cfg.epochs == 1 and cfg.minibatches == 1  # weights unchanged: old == logp.detach()
    with torch.no_grad():
        old = None if reuse_old else _logprobs_bucketed(model, ids, attn, cfg.temperature, size, plen)
        ref = _logprobs_bucketed(ref_model, ids, attn, cfg.temperature, size, plen) if ref_model is not None else None
    stats: dict[str, list[float]] = {}
    params = [p for p in model.parameters() if p.requires_grad]
    idle = idle_rows(adv, cfg, ref, credit)
    for _ in range(cfg.epochs):
        for mb in torch.arange(N).chunk(cfg.minibatches):
            optimizer.zero_grad(set_to_none=True)
            tokens, finite, acc, backward = mask[mb].sum(), True, {}, False
            for idx in (_group_batches(len(mb), size, mb) if fast else [mb[i] for i in micro_batches(attn[mb].sum(1), size)]):
                L = int(attn[idx].sum(1).max())
                m = mask[idx, : L - 1]
                # (the fast path takes the weights again: they changed since the last micro-batch's backward)
                logp, ent, needs_grad = _micro_logprobs(model, tensors, idx, cfg.temperature, L - 1, fast, idle[idx])
                old_mb = logp.detach() if old is None else old[idx, : L - 1]
                forced_mb = None if forced is None else forced[idx]
                a = modes.token_advantages(adv[idx], m, old_mb, forced_mb)  # [n] or, mode-balanced, [n, T]
                if credit is not None:  # token-level reward terms: [n, T]
                    a = (a.unsqueeze(1) if a.ndim == 1 else a) + credit[idx, : L - 1]
                ref_mb = None if ref is None else ref[idx, : L - 1]
                if ref_mb is not None and getattr(modes, "forced_first", False):
                    # no KL on a forced first token (k3 is zero, with zero gradient, at ref = logp);
                    # a sub-call's first token was sampled and keeps its KL
                    rows, first = torch.arange(len(idx)), m.argmax(1)
                    if forced_mb is not None:
                        rows, first = rows[forced_mb], first[forced_mb]
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
                if needs_grad:
                    (loss * w).backward()
                    backward = True
            if finite and not backward:  # every row idle: the gradient the backward would have given is 0
                for p in params:
                    p.grad = torch.zeros_like(p)
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
