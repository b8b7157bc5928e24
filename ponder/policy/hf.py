"""The `hf` backend: batched sampling with transformers on CPU or CUDA, with its own decode loop.

    policy = HFPolicy("models/tiny")                       # or load_policy("models/tiny")
    policy = HFPolicy.from_model(model, tokenizer)         # live weights (the RL trainer)
    outs = policy.generate(prompts, n=8, sampling=Sampling(temperature=1.0, max_new_tokens=64))

Why not `model.generate`: the loop below (1) runs the prompt prefill once per prompt and copies
the KV cache to its n samples, (2) drops finished rows from the batch (compacting the cache) so
the batch shrinks as samples stop, (3) does the per-step bookkeeping (stop strings, EOS,
logprobs) in a few tensor ops. `bench/rollout.py` measures it against `model.generate` on the same
batch; docs/train.md ("Second pass" to "Fifth pass") has what each part bought.

Sampling: temperature 0 is greedy; otherwise temperature then top-p, drawn with the Gumbel-max
trick (`probs / Exp(1)` argmax, as vLLM does) from a `torch.Generator` seeded with `sampling.seed`,
so a call with the same prompts, n and seed is reproducible. On CPU the Exp(1) noise comes from
`ponder.policy.noise.exponential`: the very bits `exponential_` draws from the same generator, in
half to a third of the time (so the tokens for a seed are those `exponential_` gives). Logprobs are of the
raw model distribution (see ponder.policy's contract).
"""

from __future__ import annotations

import time
from typing import Any

from ponder.errors import PonderError
from ponder.policy import check_model_dir, segment_token_counts
from ponder.policy.lean import KVWorkspace, LeanLlama
from ponder.policy.noise import exponential
from ponder.policy.prompts import encode_prompt, render_prompt
from ponder.types import Completion, Problem, Sampling

DEFAULT_BATCH = 512  # max rows (prompts x n) decoded together; more prompts run in chunks
COMPACT_FRACTION = 0.125  # drop finished rows once this share of the batch is done
LEAN = True  # decode with ponder.policy.lean where it reproduces the model (False: transformers' forward)


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _resolve_dtype(dtype: Any, device: str):
    import torch

    if dtype in (None, "auto"):
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if isinstance(dtype, str):
        if not hasattr(torch, dtype):
            raise PonderError(f"unknown dtype {dtype!r} (e.g. float32, bfloat16, float16)")
        return getattr(torch, dtype)
    return dtype


class HFPolicy:
    """A transformers causal LM + tokenizer behind the `Policy` interface."""

    def __init__(self, model_path: str, device: str = "auto", dtype: Any = "auto", batch_size: int = DEFAULT_BATCH):
        path = check_model_dir(model_path)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ponder.ledger import read_meta

        dev = _resolve_device(device)
        tok = AutoTokenizer.from_pretrained(str(path))  # str: a Hub id (org/name) as well as a directory
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=_resolve_dtype(dtype, dev)).to(dev)
        self._setup(model, tok, batch_size)
        self.path = str(path)
        self.meta = read_meta(path)

    @classmethod
    def from_model(cls, model, tokenizer, batch_size: int = DEFAULT_BATCH) -> "HFPolicy":
        """Wrap an in-memory model (no copy: generation sees the live weights)."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, batch_size)
        self.path, self.meta = None, {}
        return self

    def _setup(self, model, tokenizer, batch_size: int) -> None:
        if batch_size < 1:
            raise PonderError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.num_params = sum(p.numel() for p in model.parameters())
        eos = model.generation_config.eos_token_id if model.generation_config is not None else None
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id is not None:
            eos.append(tokenizer.eos_token_id)
        self.eos_ids = sorted(set(eos))
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.eos_ids[0] if self.eos_ids else 0)
        self._stop_filter: dict[tuple[str, ...], Any] = {}
        self.lean = LEAN
        self._workspaces: list[KVWorkspace] = []  # KV memory kept between calls, one per concurrent call

    @property
    def device(self):
        return next(self.model.parameters()).device

    def render(self, problem: Problem | str, suffix: str = "") -> str:
        return render_prompt(self.tokenizer, problem, suffix)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    # -- generation ------------------------------------------------------------------------
    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Completion]]:
        import torch

        if n < 1:
            raise PonderError(f"n must be >= 1, got {n}")
        if sampling.max_new_tokens < 1:
            raise PonderError(f"max_new_tokens must be >= 1, got {sampling.max_new_tokens}")
        if not 0.0 < sampling.top_p <= 1.0:
            raise PonderError(f"top_p must be in (0, 1], got {sampling.top_p}")
        gen = None
        if sampling.seed is not None:
            gen = torch.Generator(device=self.device).manual_seed(int(sampling.seed))
        ids = [encode_prompt(self.tokenizer, p) for p in prompts]
        per_chunk = max(1, self.batch_size // n)
        out: list[list[Completion]] = []
        was_training = self.model.training
        self.model.eval()
        # a workspace per running call (list.pop/append are atomic), reused by the next call: its
        # pages are already mapped (ponder.policy.lean.KVWorkspace)
        ws = self._workspaces.pop() if self._workspaces else KVWorkspace()
        try:
            with torch.inference_mode():
                lean = LeanLlama.of(self.model, onednn=True) if self.lean else None  # weights as they are now
                if lean is not None and self.device.type == "cpu":  # (a GPU's caching allocator reuses memory itself)
                    lean.workspace = ws
                for i in range(0, len(ids), per_chunk):
                    out.extend(self._generate_chunk(ids[i : i + per_chunk], n, sampling, gen, lean, ws))
        finally:
            self._workspaces.append(ws)
            self.model.train(was_training)
        return out

    def _may_stop(self, stops: tuple[str, ...]):
        """Bool [V]: tokens whose text holds the last character of some stop string.

        Only rows that just sampled such a token need the (Python) stop-string check.
        """
        import torch

        if stops not in self._stop_filter:
            vocab = max(len(self.tokenizer), self.model.get_output_embeddings().weight.shape[0])
            lasts = {s[-1] for s in stops}
            pieces = [self.tokenizer.decode([i]) if i < len(self.tokenizer) else "" for i in range(vocab)]
            mask = [any(c in piece for c in lasts) for piece in pieces]
            self._stop_filter[stops] = torch.tensor(mask, device=self.device)
        return self._stop_filter[stops]

    def _generate_chunk(self, ids: list[list[int]], n: int, s: Sampling, gen, lean=None,
                        ws: KVWorkspace | None = None) -> list[list[Completion]]:
        import torch

        t0 = time.perf_counter()
        dev, model = self.device, self.model
        P, L = len(ids), max(1, max(len(x) for x in ids))
        inp = torch.full((P, L), self.pad_id, dtype=torch.long)
        mask = torch.zeros((P, L), dtype=torch.long)
        for r, x in enumerate(ids):  # left padding: every prompt ends at column L-1
            if x:
                inp[r, L - len(x) :] = torch.tensor(x)
                mask[r, L - len(x) :] = 1
        mask[:, -1] = 1  # an empty prompt still needs one attended position
        inp, mask = inp.to(dev), mask.to(dev)
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        # prefill once per prompt, then copy the cache to the prompt's n samples
        if lean is not None:
            cache, logits = lean, lean.prefill(inp, mask, pos, L + s.max_new_tokens, rows=P * n)
        else:
            res = model(input_ids=inp, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1)
            cache = _preallocate(res.past_key_values, L + s.max_new_tokens)
            logits = res.logits[:, -1].float()  # [P, V]
        if n > 1:
            cache.batch_repeat_interleave(n)
            logits = logits.repeat_interleave(n, 0)
            mask = mask.repeat_interleave(n, 0)
            pos = pos.repeat_interleave(n, 0)
        B, T = P * n, s.max_new_tokens
        next_pos = pos[:, -1:] + 1  # [b, 1]
        rows = torch.arange(B, device=dev)  # output row of each batch row
        done = torch.zeros(B, dtype=torch.bool, device=dev)  # finished but not yet compacted away
        tokens = torch.full((B, T), self.pad_id, dtype=torch.long, device=dev)  # [B, T]
        lps = torch.zeros((B, T), dtype=torch.float32, device=dev) if s.logprobs else None
        length = torch.full((B,), T, dtype=torch.long)  # tokens kept per row
        reason = ["length"] * B
        finish_t = [0.0] * B
        eos = torch.tensor(self.eos_ids, device=dev) if self.eos_ids else None
        stops = tuple(x for x in s.stop if x)
        may_stop = self._may_stop(stops) if stops else None
        max_stop = max((len(x) for x in stops), default=0)

        n_done = 0  # rows of the batch that are done (a host-side count: no row done, no masking)
        for t in range(T):
            nxt = _sample(logits, s.temperature, s.top_p, gen, ws.scratch if ws is not None else None)  # [b]
            live = ~done
            live_rows, live_nxt = (rows, nxt) if n_done == 0 else (rows[live], nxt[live])
            tokens[live_rows, t] = live_nxt
            if lps is not None:
                lp = torch.log_softmax(logits, -1).gather(1, nxt[:, None])[:, 0]
                lps[live_rows, t] = lp if n_done == 0 else lp[live]
            if eos is None:
                fin = torch.zeros_like(live)
            else:
                fin = torch.isin(nxt, eos) if n_done == 0 else live & torch.isin(nxt, eos)
            if stops:
                for b in (live & ~fin & may_stop[nxt]).nonzero()[:, 0].tolist():
                    r = int(rows[b])
                    tail = self.tokenizer.decode(tokens[r, max(0, t + 1 - max_stop - 1) : t + 1].tolist())
                    if any(x in tail for x in stops):
                        fin[b] = True
            now = time.perf_counter() - t0
            for b in fin.nonzero()[:, 0].tolist():
                r = int(rows[b])
                length[r], reason[r], finish_t[r] = t + 1, "stop", now
            done |= fin
            n_done = int(done.sum())
            if t == T - 1 or n_done == len(done):
                for b in (~done).nonzero()[:, 0].tolist():
                    finish_t[int(rows[b])] = now
                break
            # (when rows leave the batch fixes which noise each row draws: the schedule is part of
            # the tokens a seed gives, so it stays as it is)
            if n_done >= max(1, int(COMPACT_FRACTION * len(done))):
                keep = (~done).nonzero()[:, 0]
                cache.batch_select_indices(keep)
                rows, nxt, mask, next_pos = rows[keep], nxt[keep], mask[keep], next_pos[keep]
                done, n_done = done[keep], 0
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], 1)
            if lean is not None:
                logits, next_pos = lean.step(nxt, mask, next_pos), next_pos + 1
                continue
            res = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=next_pos,
                        past_key_values=cache, use_cache=True)
            cache, logits, next_pos = res.past_key_values, res.logits[:, -1].float(), next_pos + 1

        tokens_l = tokens.cpu().tolist()
        lps_l = lps.cpu().tolist() if lps is not None else None
        out: list[list[Completion]] = []
        for p in range(P):
            group = []
            for j in range(n):
                r = p * n + j
                tok_ids = tokens_l[r][: int(length[r])]
                group.append(self._completion(tok_ids, lps_l[r][: len(tok_ids)] if lps_l else None,
                                              reason[r], len(ids[p]), finish_t[r], stops))
            out.append(group)
        return out

    def _completion(self, tok_ids, lps, reason, prompt_tokens, elapsed, stops) -> Completion:
        body = tok_ids[:-1] if (reason == "stop" and tok_ids and tok_ids[-1] in self.eos_ids) else tok_ids
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        hits = [text.find(x) + len(x) for x in stops if x in text]
        if hits:  # keep the stop string, cut anything its last token carried past it
            text = text[: min(hits)]
        think, answer = segment_token_counts(text, self.count_tokens)
        return Completion(text=text, token_ids=list(tok_ids), logprobs=lps, finish_reason=reason,
                          num_tokens=len(tok_ids), think_tokens=think, answer_tokens=answer,
                          prompt_tokens=prompt_tokens, time_s=elapsed)


def _sample(logits, temperature: float, top_p: float, gen, scratch=None):
    """Next token per row from logits [b, V]: greedy at temperature 0, else temperature + top-p,
    then the Gumbel-max draw argmax(probs / Exp(1) noise). On CPU the noise comes from
    `ponder.policy.noise.exponential` (the bits `exponential_` draws, 2-3x faster; scratch: its
    kept buffers)."""
    import torch

    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature if temperature != 1.0 else logits, -1)  # x / 1.0 == x
    if top_p < 1.0:
        sp, si = probs.sort(-1, descending=True)
        drop = (sp.cumsum(-1) - sp) >= top_p  # keep the smallest prefix with mass >= top_p
        sp = sp.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, si, sp)
    if probs.device.type == "cpu" and probs.dtype == torch.float32:  # the same noise, drawn faster
        noise = exponential(probs.shape, gen, scratch)
    else:
        noise = torch.empty_like(probs).exponential_(generator=gen)
    return (probs / noise).argmax(-1)


def _preallocate(cache, capacity: int):
    """Swap a DynamicCache's layers for ones that append in place into a preallocated buffer.

    transformers' DynamicLayer grows by `torch.cat` every step, copying the whole cache each
    time (a third of decode time for the tiny model); this writes the new position only.
    Caches of other kinds (sliding window, hybrid models) are left as they are.
    """
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer or not layer.is_initialized for layer in layers):
        return cache
    cache.layers = [_BufferLayer(layer.keys, layer.values, capacity) for layer in layers]
    return cache


def _buffer_layer_cls():
    from transformers.cache_utils import DynamicLayer

    class BufferLayer(DynamicLayer):
        """A DynamicLayer whose keys/values are views of a [B, H, capacity, D] buffer."""

        def __init__(self, keys, values, capacity: int):
            super().__init__()
            self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
            self._fill(keys, values, capacity)

        def _fill(self, keys, values, capacity: int) -> None:
            b, h, length, _ = keys.shape
            self._k = keys.new_empty((b, h, capacity, keys.shape[-1]))
            self._v = values.new_empty((b, h, capacity, values.shape[-1]))
            self._k[:, :, :length] = keys
            self._v[:, :, :length] = values
            self._len = length
            self.keys, self.values = self._k[:, :, :length], self._v[:, :, :length]

        def update(self, key_states, value_states, *args, **kwargs):
            new = key_states.shape[-2]
            if self._len + new > self._k.shape[2]:
                self._fill(self.keys, self.values, 2 * (self._len + new))
            self._k[:, :, self._len : self._len + new] = key_states
            self._v[:, :, self._len : self._len + new] = value_states
            self._len += new
            self.keys, self.values = self._k[:, :, : self._len], self._v[:, :, : self._len]
            return self.keys, self.values

        def batch_repeat_interleave(self, repeats: int) -> None:
            self._fill(self.keys.repeat_interleave(repeats, 0), self.values.repeat_interleave(repeats, 0),
                       self._k.shape[2])

        def batch_select_indices(self, indices) -> None:
            self._fill(self.keys[indices], self.values[indices], self._k.shape[2])

        def reorder_cache(self, beam_idx) -> None:
            self.batch_select_indices(beam_idx)

        def crop(self, tokens_to_remove: int) -> None:
            raise NotImplementedError("BufferLayer does not crop")

    return BufferLayer


class _LazyBufferLayer:
    cls = None

    def __call__(self, *args, **kwargs):
        if _LazyBufferLayer.cls is None:
            _LazyBufferLayer.cls = _buffer_layer_cls()
        return _LazyBufferLayer.cls(*args, **kwargs)


_BufferLayer = _LazyBufferLayer()  # defined on first use: transformers is imported lazily
