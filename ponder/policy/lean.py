"""A lean Llama decoder for the `hf` backend's sampling loop: the same weights and the same math as
transformers' `LlamaForCausalLM`, written as a few plain tensor ops per layer.

Why: on CPU a small model's decode step is dominated by Python, not arithmetic. transformers'
forward builds masks, cache objects, output records and hooks on every call (~1 ms per layer
for the tiny model, more than its matmuls), so the lean loop below, with a [B, H_kv, capacity, D]
key/value buffer per layer written in place, decodes the same tokens several times faster. A
decode step's attention is two batched products over the whole buffer (`_decode_attention`), not
CPU SDPA's flash kernel: see docs/train.md, "Second pass", for what each change bought. In the
decoder the `hf` backend samples with, `LeanLlama.of(model, onednn=True)`, the projections and
the LM head run on oneDNN's inner product on CPU (`_Lin`; docs/train.md, "Fifth pass": 2.2-2.7x
MKL's rate on the AMD CPUs measured); the update's teacher forcing keeps F.linear.

    lean = LeanLlama.of(model, onednn=True)   # None when the model is not a plain (or LoRA-wrapped) Llama
    logits = lean.prefill(ids, mask, pos, capacity, rows=P * n)   # [P, V] at the last column
    # (its KV buffers live in lean.workspace, a KVWorkspace a caller may keep between batches)
    lean.batch_repeat_interleave(n); lean.batch_select_indices(keep)   # rows, named as DynamicCache's
    logits = lean.step(next_ids, mask, next_pos)      # [b, V]

Which models: `model_type` llama (and those that share its block: mistral without a sliding
window, qwen2 without one) with a rotary embedding whose frequencies are fixed (`default`,
`linear`, `llama3`; not `dynamic`), silu MLP, optional attention biases; a peft LoRA wrapper is
folded in once per call for sampling (W + scale * B A, peft's own `get_delta_weight`), exact up to
float rounding because the weights do not change while a batch is sampled; under autograd the
adapter stays a separate low-rank term, so no gradient is computed for the frozen base weights.
Anything else returns None and the caller keeps transformers' forward. `tests/test_rl_fastpath.py`
checks it against transformers' on Llama models (padded batches, GQA with biases, LoRA): the same
sampled tokens, logprobs and gradients within 1e-5 (sampled logprobs 5e-5 over 60 decode steps:
the oneDNN products sum in another order than transformers'). mistral/qwen2 are accepted by their
shared block but not tested here.
"""

from __future__ import annotations

from typing import Any

SUPPORTED_TYPES = ("llama", "mistral", "qwen2")
GROWTH = 1.25  # KV buffer growth factor: decode attention reads the whole buffer (contiguous), so keep it near full
FIXED_ROPE = ("default", "linear", "llama3")
ONEDNN = True  # without autograd on CPU (float32): projections on oneDNN's inner product (`_Lin`)
PACK_MIN_MACS = 1 << 20  # ... for products of at least this many multiply-adds (smaller ones: MKL is as fast)
PACK_MIN_NUMEL = 1 << 20  # ... with weights of at least this many entries reordered for it first
_ONEDNN: list[bool] = []  # whether this torch has the ops (checked once)


def _unwrap(model):
    """(the causal LM inside a peft wrapper or the model itself, whether it was wrapped)."""
    base = getattr(model, "base_model", None)
    if base is not None and hasattr(base, "model") and hasattr(model, "peft_config"):
        return base.model, True
    return model, False


def _linear(mod) -> tuple[Any, Any, list] | None:
    """(weight, bias, adapters) of a Linear, or of a peft LoRA Linear: with gradients off its active
    adapters are folded into the weight (adapters []); with gradients on they stay apart as
    (A, B, scale) terms, so the backward computes no gradient for the frozen base weight (as peft)."""
    import torch

    if type(mod) is torch.nn.Linear:
        return mod.weight, mod.bias, []
    base = getattr(mod, "base_layer", None)
    if type(base) is not torch.nn.Linear or not hasattr(mod, "get_delta_weight"):
        return None
    if getattr(mod, "merged", False) or getattr(mod, "disable_adapters", False):
        return None  # adapters merged into the base or switched off: rare, left to transformers
    if getattr(mod, "use_dora", {}) and any(mod.use_dora.get(a, False) for a in mod.active_adapters):
        return None
    if any(not isinstance(mod.lora_dropout[a], (torch.nn.Identity,)) and mod.lora_dropout[a].p > 0
           for a in mod.active_adapters if a in mod.lora_dropout):
        return None  # adapter dropout is not a fixed function
    active = [a for a in mod.active_adapters if a in mod.lora_A]
    if torch.is_grad_enabled() and not getattr(mod, "fan_in_fan_out", False):
        return base.weight, base.bias, [(mod.lora_A[a].weight, mod.lora_B[a].weight, mod.scaling[a]) for a in active]
    w = base.weight
    for a in active:
        w = w + mod.get_delta_weight(a)
    return w, base.bias, []


def onednn_available() -> bool:
    """Whether this torch build runs oneDNN's float32 inner product (checked once, on a 2 x 2 product)."""
    if not _ONEDNN:
        import torch

        ok = torch.backends.mkldnn.is_available()
        try:
            eye = torch.eye(2)
            ok = ok and torch.equal(torch.ops.mkldnn._linear_pointwise(eye, eye, None, "none", [], ""), eye)
        except (RuntimeError, AttributeError):  # a build without the op
            ok = False
        _ONEDNN.append(ok)
    return ONEDNN and _ONEDNN[0]


class _Lin:
    """Linear map of one or several fused projections: x W^T + b, plus each part's LoRA terms
    s (x A^T) B^T (concatenated in the parts' order) when they are kept apart.

    With `onednn` (the sampling loop's), without autograd, on CPU in float32, a product of at
    least PACK_MIN_MACS multiply-adds runs on oneDNN's inner product
    (`torch.ops.mkldnn._linear_pointwise`) instead of `F.linear` (MKL's sgemm): the same product
    in float32, summed in another order (equal to float rounding: tests/test_rl_fastpath.py), and
    2.2-2.7x faster at the decode's shapes on the AMD EPYC machines this project is measured on
    (docs/train.md, "Fifth pass"). A weight of at least PACK_MIN_NUMEL entries (SmolLM2's LM head
    and gate/up) is first reordered into oneDNN's blocked layout, once per `LeanLlama.of` (a copy
    of it: ~35% faster products for the 49,152 x 576 head); smaller ones gain nothing from it and
    are used as they are. Without `onednn`, under autograd, with LoRA terms apart, on a GPU or
    where oneDNN is missing: F.linear."""

    def __init__(self, parts, onednn: bool = False):
        import torch

        self.w = torch.cat([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        bs = [p[1] for p in parts]
        self.b = None if bs[0] is None else (torch.cat(bs) if len(bs) > 1 else bs[0])
        self.loras = [(p[2], p[0].shape[0]) for p in parts] if any(p[2] for p in parts) else None
        self.macs = self.w.shape[0] * self.w.shape[1]  # multiply-adds per input row
        self.onednn = None if onednn else False  # (weight, bias) for oneDNN, made on first use; False: F.linear only

    def _onednn(self):
        """(weight, bias) as oneDNN takes them, or False where that path does not apply."""
        import torch

        if self.onednn is None:
            self.onednn = False
            if self.w.device.type == "cpu" and self.w.dtype == torch.float32 and onednn_available():
                w = self.w.detach()
                if w.numel() >= PACK_MIN_NUMEL:
                    w = torch.ops.mkldnn._reorder_linear_weight(w, None)
                self.onednn = (w, None if self.b is None else self.b.detach())
        return self.onednn

    def __call__(self, x):
        import torch
        import torch.nn.functional as F

        if self.loras is None and x.numel() // x.shape[-1] * self.macs >= PACK_MIN_MACS \
                and not torch.is_grad_enabled():
            wb = self._onednn()
            if wb is not False:
                return torch.ops.mkldnn._linear_pointwise(x, wb[0], wb[1], "none", [], "")
        y = F.linear(x, self.w, self.b)
        if self.loras is None:
            return y
        extra = [sum(s * F.linear(F.linear(x, a), b) for a, b, s in lo) if lo else x.new_zeros((*x.shape[:-1], out))
                 for lo, out in self.loras]
        return y + (torch.cat(extra, -1) if len(extra) > 1 else extra[0])


class KVWorkspace:
    """Memory for the KV buffers of sampling batches, kept from one batch to the next.

    Why: a fresh KV buffer (each growth, each compaction, each call) is fresh memory, and on CPU
    the allocator hands large blocks back to the OS when they are freed, so the next one is paid
    again page by page on first touch (page faults: ~1 ms per MB, a tenth of the tiny model's
    sampling time, most of the decode's "copies and zero fills"). Here each layer's keys and values
    live in two flat slots (ping, pong) that are only ever re-viewed: a growth or a compaction
    writes the other slot and the batch moves there. On CPU `prefill` reserves both slots at the
    batch's full size (rows x prompt + new tokens) up front: address space only, pages are mapped
    as they are first written, so a growing buffer never moves to fresh memory. Slots are kept for
    the next batch; the memory in use is at most twice the batch's KV cache (the old growth and
    compaction also held two copies while they copied). On a GPU the caching allocator already
    reuses memory, so `HFPolicy` hands a workspace over on CPU only. Not thread-safe: one
    workspace per running batch (`HFPolicy` checks one out per `generate` call)."""

    def __init__(self):
        self.slots: dict = {}
        self.scratch: dict = {}  # the sampling step's other kept buffers (ponder.policy.noise's), same reasons

    def view(self, key, shape, like):
        """A contiguous tensor of `shape` (dtype and device of `like`) over slot `key`'s memory;
        its values are whatever the slot held (callers write or zero what they read)."""
        import math

        numel = math.prod(shape)
        return self.reserve(key, numel, like)[:numel].view(shape)

    def reserve(self, key, numel: int, like):
        """Slot `key`, at least `numel` elements: allocated once at the batch's largest size (its
        pages are touched as they are first written), so growing buffers never re-allocate."""
        flat = self.slots.get(key)
        if flat is None or flat.numel() < numel or flat.dtype != like.dtype or flat.device != like.device:
            flat = like.new_empty(numel)
            self.slots[key] = flat
        return flat


class LeanLlama:
    """Weights of one Llama-family causal LM as plain tensors, plus the sampling batch's KV buffers."""

    def __init__(self, layers, embed, norm, head, cfg: dict, onednn: bool = False):
        self.layers, self.embed, self.norm, self.head, self.cfg = layers, embed, norm, head, cfg
        self.head_lin = _Lin([(head, None, [])], onednn)
        self.k: list = []
        self.v: list = []
        self.workspace = KVWorkspace()  # the KV buffers' memory; a caller may hand in one it keeps
        self.slot = 0  # which of the workspace's two slots holds the current buffers
        self.length = 0
        self.table = None  # rotary cos/sin by position, for decode steps (`_rope_table`)
        self.limit = 0  # the columns the sampling batch may need (prefill's capacity)

    @classmethod
    def of(cls, model, onednn: bool = False) -> LeanLlama | None:
        """The lean twin of `model` (weights taken now; build it again after they change), or None
        when the model is of a kind this file does not reproduce exactly. onednn: its no-grad
        products on CPU may run on oneDNN (`_Lin`; the sampling loop's choice: the same products
        to float rounding, faster; the update keeps F.linear, bit for bit its autograd forward)."""

        lm, _ = _unwrap(model)
        c = getattr(lm, "config", None)
        if c is None or getattr(c, "model_type", None) not in SUPPORTED_TYPES or not hasattr(lm, "model"):
            return None
        if getattr(c, "sliding_window", None) and getattr(c, "use_sliding_window", True) and c.model_type != "llama":
            return None
        if getattr(c, "hidden_act", "silu") != "silu" or getattr(c, "mlp_bias", False):
            return None
        if getattr(c, "pretraining_tp", 1) != 1 or getattr(c, "attention_dropout", 0.0):
            return None
        rope = getattr(lm.model, "rotary_emb", None)
        rtype = (getattr(c, "rope_parameters", None) or {}).get("rope_type", "default")
        if rope is None or rtype not in FIXED_ROPE or not hasattr(rope, "inv_freq"):
            return None
        head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        layers = []
        for layer in lm.model.layers:
            at, mlp = layer.self_attn, layer.mlp
            lin = [_linear(m) for m in (at.q_proj, at.k_proj, at.v_proj, at.o_proj,
                                        mlp.gate_proj, mlp.up_proj, mlp.down_proj)]
            if any(x is None for x in lin) or any(x[1] is not None for x in lin[4:]):
                return None
            if len({x[1] is None for x in lin[:3]}) > 1:  # q/k/v biases: all or none
                return None
            layers.append({"ln1": layer.input_layernorm.weight, "ln2": layer.post_attention_layernorm.weight,
                           "qkv": _Lin(lin[:3], onednn), "o": _Lin(lin[3:4], onednn),
                           "gate_up": _Lin(lin[4:6], onednn), "down": _Lin(lin[6:], onednn)})
        head = _linear(lm.lm_head)
        if head is None or head[1] is not None or head[2]:
            return None
        cfg = {"heads": c.num_attention_heads, "kv_heads": c.num_key_value_heads, "head_dim": head_dim,
               "eps": c.rms_norm_eps, "inv_freq": rope.inv_freq.float(), "rope_scale": float(rope.attention_scaling),
               "scaling": head_dim**-0.5}
        return cls(layers, lm.model.embed_tokens.weight, lm.model.norm.weight, head[0], cfg, onednn)

    # -- pieces -------------------------------------------------------------------------------
    def _rms(self, x, w):
        """transformers' LlamaRMSNorm. In float32 torch's fused kernel, which gives the same bits
        (tests/test_rl_fastpath.py) as one op instead of six, forward and backward."""
        import torch
        import torch.nn.functional as F

        dt = x.dtype
        if dt == torch.float32:
            return F.rms_norm(x, (x.shape[-1],), w, self.cfg["eps"])
        xf = x.float()
        return w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.cfg["eps"])).to(dt)

    def _rope(self, pos, dtype):
        """cos, sin [b, t, 1, D] at positions pos [b, t] (transformers' rotary embedding), laid out
        for the [b, t, heads, D] projections; sin's first half negated, the sign `_rot` needs."""
        import torch

        freqs = pos[..., None].float() * self.cfg["inv_freq"]
        emb = torch.cat((freqs, freqs), -1)
        s = self.cfg["rope_scale"]
        sin = (emb.sin() * s).to(dtype)
        h = sin.shape[-1] // 2
        sin = torch.cat((-sin[..., :h], sin[..., h:]), -1)
        return (emb.cos() * s).to(dtype)[:, :, None], sin[:, :, None]

    def _rope_table(self, n: int, dtype, device) -> None:
        """cos/sin of positions [0, n) as one [n, 2, D] table, so a decode step indexes it (one op)
        instead of recomputing them (eight); the values are `_rope`'s, position by position."""
        import torch

        cos, sin = self._rope(torch.arange(n, device=device)[None], dtype)
        self.table = torch.cat([cos[0], sin[0]], 1)

    @staticmethod
    def _rot(x, cos, sin):
        """transformers' apply_rotary_pos_emb: x cos + rotate_half(x) sin, with rotate_half's minus
        folded into sin (`_rope`): the same products, bit for bit, one op fewer."""
        import torch

        h = x.shape[-1] // 2
        return x * cos + torch.cat((x[..., h:], x[..., :h]), -1) * sin

    def _forward(self, ids, pos, attn_mask, write_at: int, rope=None):
        """Hidden states [b, t, H] of tokens ids [b, t] at positions pos, attending to the cache's
        first s columns under attn_mask (bool [b, 1, t, s], s >= write_at + t: a decode step passes
        the whole buffer, its unwritten columns masked, so the products read contiguous memory); the
        new keys and values are written at columns [write_at, write_at + t)."""
        end, span = write_at + ids.shape[1], attn_mask.shape[-1]

        def attend(i, k, v):
            self.k[i][:, :, write_at:end] = k
            self.v[i][:, :, write_at:end] = v
            return self.k[i][:, :, :span], self.v[i][:, :, :span]

        return self.blocks(ids, pos, attn_mask, attend, rope)

    def blocks(self, ids, pos, attn_mask, attend, rope=None, keep=None):
        """The decoder stack over ids [b, t] at positions pos [b, t]; `attend(layer, k, v)` gives the
        keys and values [b, H_kv, s, D] the new queries attend to (under attn_mask [b, 1, t, s]):
        a cache, a shared prompt prefix, or k and v themselves. Differentiable. rope: (cos, sin)
        [b, t, 1, D] when the caller has them (a decode step's table lookup).

        keep: None (every position; returns [b, t, H]), or the flat indices (into b * t) of the only
        positions whose hidden states are wanted (returns [len(keep), H], in keep's order). Then the
        projections, norms and MLP run on those positions alone, and attention on [b, t] with the
        other positions' queries, keys and values zero: valid when no kept position attends to a
        dropped one (right padding under a causal mask: a row's dropped positions are its last)."""
        import torch
        import torch.nn.functional as F

        c = self.cfg
        H, Hk, D = c["heads"], c["kv_heads"], c["head_dim"]
        b, t = ids.shape
        if keep is not None:
            x = F.embedding(ids.reshape(-1)[keep], self.embed)  # [n, H]
            cos, sin = (r[0] for r in self._rope(pos.reshape(-1)[keep][None], x.dtype))  # [n, 1, D]
        else:
            x = F.embedding(ids, self.embed)
            cos, sin = rope if rope is not None else self._rope(pos, x.dtype)
        bias = _decode_bias(attn_mask, Hk, H // Hk) if t == 1 and keep is None else None  # once per step
        for i, ly in enumerate(self.layers):
            h = self._rms(x, ly["ln1"])
            qkv = ly["qkv"](h)
            # queries and keys rotated together: one rotation per layer instead of two
            qk = self._rot(qkv[..., : (H + Hk) * D].view(*qkv.shape[:-1], H + Hk, D), cos, sin)
            if keep is not None:  # back to [b, t] for attention, dropped positions zero
                full = qkv.new_zeros((b * t, H + 2 * Hk, D))
                full = full.index_copy(0, keep, torch.cat([qk, qkv[:, (H + Hk) * D :].view(-1, Hk, D)], 1))
                qk, v = full.view(b, t, H + 2 * Hk, D).split((H + Hk, Hk), 2)
            else:
                v = qkv[..., (H + Hk) * D :].view(b, t, Hk, D)
            q, k = qk[:, :, :H].transpose(1, 2), qk[:, :, H:].transpose(1, 2)
            k, v = attend(i, k, v.transpose(1, 2))
            if bias is not None:  # a decode step: one query per row
                o = _decode_attention(q, k, v, bias, c["scaling"])
            else:
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=c["scaling"],
                                                   enable_gqa=Hk != H)
            o = o.transpose(1, 2).reshape(b, t, H * D)
            x = x + ly["o"](o if keep is None else o.view(b * t, H * D).index_select(0, keep))
            h = self._rms(x, ly["ln2"])
            g, u = ly["gate_up"](h).chunk(2, -1)
            x = x + ly["down"](F.silu(g) * u)
        return x

    def _logits(self, x):
        return self.head_lin(self._rms(x, self.norm)).float()

    # -- the sampling loop's interface -----------------------------------------------------------
    def prefill(self, ids, mask, pos, capacity: int, rows: int | None = None):
        """Logits [P, V] of the last column of left-padded prompts ids [P, L] (mask: 1 = token), and
        fresh KV buffers; capacity: the columns the caller may need (prompt + new tokens); rows:
        the most rows the batch will have (P x samples per prompt; default P), so the workspace
        is sized once for the whole batch."""
        import torch

        c = self.cfg
        P, L = ids.shape
        dt = self.embed.dtype
        self.limit = capacity
        cap = self._capacity(L + 1)
        like = self.embed.new_empty(0, dtype=dt)
        self.slot = 0
        if ids.device.type == "cpu":  # CPU memory is mapped on first touch; a GPU's would be taken now
            most = max(rows or P, P) * c["kv_heads"] * max(capacity, cap) * c["head_dim"]
            for key in ((kind, i, slot) for kind in "kv" for i in range(len(self.layers)) for slot in (0, 1)):
                self.workspace.reserve(key, most, like)
        self.k = [self._buffer("k", i, (P, c["kv_heads"], cap, c["head_dim"]), like) for i in range(len(self.layers))]
        self.v = [self._buffer("v", i, (P, c["kv_heads"], cap, c["head_dim"]), like) for i in range(len(self.layers))]
        for t in (*self.k, *self.v):
            t[:, :, L:].zero_()  # unwritten columns are read (masked) by decode steps: finite, so 0 weight x 0
        self.table = None
        causal = torch.ones((L, L), dtype=torch.bool, device=ids.device).tril()
        attn = causal[None, None] & mask.bool()[:, None, None, :]
        attn = attn | torch.eye(L, dtype=torch.bool, device=ids.device)[None, None]  # a pad row attends to itself (no NaN)
        x = self._forward(ids, pos, attn, 0)
        self.length = L
        return self._logits(x[:, -1])

    def batch_repeat_interleave(self, n: int) -> None:
        """Each row's buffers copied to n consecutive rows (a prompt's samples), as DynamicCache's."""
        import torch

        self.batch_select_indices(torch.arange(self.k[0].shape[0], device=self.k[0].device).repeat_interleave(n))

    def batch_select_indices(self, keep) -> None:
        """Keep only these rows (finished samples leave the batch), as DynamicCache's; the rows are
        copied into the workspace's other slot (`k[keep]` would be fresh memory each time)."""
        import torch

        new = 1 - self.slot

        def sel(kind, i, t):
            out = self._buffer(kind, i, (len(keep), *t.shape[1:]), t, new)
            return torch.index_select(t, 0, keep, out=out)

        self.k = [sel("k", i, k) for i, k in enumerate(self.k)]
        self.v = [sel("v", i, v) for i, v in enumerate(self.v)]
        self.slot = new

    def _buffer(self, kind: str, layer: int, shape, like, slot: int | None = None):
        return self.workspace.view((kind, layer, self.slot if slot is None else slot), shape, like)

    def step(self, ids, mask, pos):
        """Logits [b, V] of one new token per row (ids [b], positions pos [b, 1]); mask [b, length+1]
        covers every column so far, the new one included."""
        import torch

        if self.length + 1 > self.k[0].shape[2]:
            self._grow(self._capacity(self.length + 1))
        n = self.k[0].shape[2]  # a row's position is at most self.length < n
        if self.table is None or self.table.shape[0] < n:
            self._rope_table(n, self.embed.dtype, ids.device)
        cs = self.table[pos]  # [b, 1, 2, D]
        full = torch.zeros((len(ids), n), dtype=torch.bool, device=ids.device)  # the whole buffer, unwritten columns off
        full[:, : self.length + 1] = mask
        x = self._forward(ids[:, None], pos, full[:, None, None, :], self.length, rope=(cs[:, :, 0:1], cs[:, :, 1:2]))
        self.length += 1
        return self._logits(x[:, -1])

    def _capacity(self, need: int) -> int:
        """Buffer columns for `need` filled ones: GROWTH times as many (at least 8 more), at most the
        caller's limit. Small steps, because a decode step reads the whole buffer."""
        import math

        return min(max(self.limit, need), max(need + 8, math.ceil(GROWTH * need)))

    def _grow(self, capacity: int) -> None:
        """Buffers of `capacity` columns in the other slot: the written columns copied, the rest 0."""
        new = 1 - self.slot

        def g(kind, i, t):
            out = self._buffer(kind, i, (*t.shape[:2], capacity, t.shape[3]), t, new)
            out[:, :, : self.length] = t[:, :, : self.length]
            out[:, :, self.length :].zero_()
            return out

        self.k = [g("k", i, k) for i, k in enumerate(self.k)]
        self.v = [g("v", i, v) for i, v in enumerate(self.v)]
        self.slot = new


def _decode_bias(mask, kv_heads: int, group: int):
    """The additive form (0 where attended, -inf elsewhere) of a decode step's bool mask [b, 1, 1, s],
    as [b * kv_heads, group, s] for `_decode_attention`: built once per step, shared by the layers."""
    import torch

    b, s = mask.shape[0], mask.shape[-1]
    bias = torch.zeros((b, 1, 1, s), dtype=torch.float32, device=mask.device).masked_fill_(~mask, float("-inf"))
    return bias.expand(b, kv_heads, group, s).reshape(b * kv_heads, group, s)


def _decode_attention(q, k, v, bias, scale: float):
    """Attention of ONE query per row, q [b, H, 1, D], over keys/values [b, Hk, s, D] (Hk divides H:
    query head h reads key/value head h // (H / Hk), as transformers' repeat_kv) under the additive
    mask bias [b * Hk, H / Hk, s] (`_decode_bias`): softmax(bias + scale q k^T) v as two batched
    matmuls, the grouped query heads of one key/value head as the rows of one product.

    Why not `scaled_dot_product_attention`: for a single query row on CPU it takes its flash
    kernel, slower than these two products (it was half of the tiny model's decode time at 512
    rows), and the boolean mask costs two more ops per layer. The same function; the values agree
    to float rounding (tests/test_rl_fastpath.py)."""
    import torch

    b, H, _, D = q.shape
    Hk, s = k.shape[1], k.shape[2]
    qg = q.reshape(b * Hk, H // Hk, D)
    w = torch.baddbmm(bias.to(q.dtype), qg, k.reshape(b * Hk, s, D).transpose(1, 2), alpha=scale).softmax(-1)
    return torch.bmm(w, v.reshape(b * Hk, s, D)).view(b, H, 1, D)


def completion_logits(lean: LeanLlama, ids, attn, plen):
    """Teacher-forced logits of right-padded rows ids [n, L] (attn: 1 = token) whose first plen[r]
    tokens are the prompt, computing each distinct prompt ONCE and no position whose logits are
    not wanted: the prompts (a GRPO group's G rows share one) run as a batch of U unique rows, then
    every row's completion attends to its prompt's keys and values, expanded by index (autograd
    sums their gradients back), with the projections and MLP run on the completion positions that
    predict a completion token only (`LeanLlama.blocks`' keep: not a row's padding, nor its last
    token, which predicts nothing). The same function as a forward over the full rows, with
    (n - U) prompts and every padded position fewer to compute forward and backward.

    Returns (logits [m, V], targets [m], at [m]): one entry per completion token of every row (m =
    the rows' completion tokens), logits[e] predicting targets[e], which is token at[e] % (L - 1) + 1 of row at[e] // (L - 1),
    i.e. at[e] indexes the flattened full-row [n, L-1] layout of `token_logprobs`."""
    import torch

    n, L, dev = ids.shape[0], ids.shape[1], ids.device
    plen = plen.to(dev)
    clen = attn.sum(1) - plen
    keys = [tuple(ids[r, : int(plen[r])].tolist()) for r in range(n)]
    uniq: dict[tuple, int] = {}
    owner: list[int] = []  # the first row of each unique prompt
    for r, k in enumerate(keys):
        if k not in uniq:
            uniq[k] = len(owner)
            owner.append(r)
    group = torch.tensor([uniq[k] for k in keys], device=dev)
    first = torch.tensor(owner, device=dev)
    P = int(plen.max())
    C = max(1, int(clen.max()))
    pre_len = plen[first]  # [U]
    pre_ids = ids[first, :P]
    ar_p = torch.arange(P, device=dev)
    pre_attn = torch.ones((P, P), dtype=torch.bool, device=dev).tril()[None, None]  # right padding: causal suffices
    past: list = []

    def keep_kv(i, k, v):
        past.append((k, v))
        return k, v

    pre = lean.blocks(pre_ids, ar_p.expand(len(first), P), pre_attn, keep_kv)
    last = lean._logits(pre[torch.arange(len(first), device=dev), pre_len - 1])  # [U, V] predicts token 0
    ar_c = torch.arange(C, device=dev)
    gather = (plen[:, None] + ar_c).clamp(max=L - 1)
    comp = ids.gather(1, gather)  # [n, C] completion tokens (past a row's end: padding, never read)
    # completion position j of row r predicts its token j+1: wanted for j < clen[r] - 1
    keep = (ar_c[None] < (clen[:, None] - 1)).reshape(-1).nonzero()[:, 0]
    # each completion attends to its prompt's real columns, then causally to itself
    kmask = torch.cat([(ar_p[None] < plen[:, None])[:, None, :].expand(n, C, P),
                       torch.ones((C, C), dtype=torch.bool, device=dev).tril()[None].expand(n, C, C)], 2)[:, None]

    def attend(i, k, v):
        pk, pv = past[i]
        return torch.cat([pk[group], k], 2), torch.cat([pv[group], v], 2)

    x = lean.blocks(comp, (plen[:, None] + ar_c), kmask, attend, keep=keep)  # [len(keep), H]
    has = (clen > 0).nonzero()[:, 0]  # rows with a completion: their first token is predicted by the prompt
    logits = torch.cat([last[group[has]], lean._logits(x)])  # [m, V]
    targets = torch.cat([comp[has, 0], comp.reshape(-1)[keep + 1]])
    at = torch.cat([has * (L - 1) + plen[has] - 1, (keep // C) * (L - 1) + plen[keep // C] + keep % C])
    return logits, targets, at
