"""Exp(1) noise for the `hf` backend's Gumbel-max sampling: bit for bit what
`torch.empty(shape).exponential_(generator=gen)` draws on CPU, from the same generator stream,
in half to a third of its time (SmolLM2's [128, 49152]: 92 -> 38 ms; the tiny model's
[512, 128]: 0.96 -> 0.31 ms).

Why: torch's CPU `exponential_` is a serial loop that, per element, draws a 53-bit uniform u
(two 32-bit words of the generator's Mersenne twister) and returns float32(-log1p(-u)) through
the scalar libm `log1p` in double. Over SmolLM2's 49,152-token vocabulary that is ~15% of a
decode step (docs/train.md, "Fifth pass"). Here the same words come from torch's
`random_` on int64 (the same two words per element, in the same order: its low 53 bits are
u's), and the logarithm from numpy's vectorised `log1p` in double. That `log1p` may differ from
libm's in the last bits of the double, which changes the float32 result only where the double
lies next to a float32 rounding boundary: those elements (about 4 in a million, found by their
bits) are recomputed with `math.log1p` (libm's). (numpy's `log1p` is SVML's AVX-512 one, within
a few ulps, or libm's itself: far inside that margin of 2^10 ulps.) So the noise, the
generator's state after the call and hence the sampled tokens are those of `exponential_`;
`tests/test_sampling_noise.py` checks it bit for bit over millions of draws.

    noise = exponential(shape, gen, scratch)   # float32 [b, V]; scratch: a dict kept between calls

Used on CPU only (a GPU's `exponential_` is another generator, Philox, and fast): `usable()`
checks once per process, on a small draw, that this torch still draws as described, else every
call falls back to `exponential_`.
"""

from __future__ import annotations

import math

MANTISSA = (1 << 53) - 1  # the bits of a random64 word that make a double uniform in [0, 1)
NEAR = 1 << 10  # a double within NEAR ulps of a float32 rounding boundary is recomputed with libm
CHUNK = 1 << 20  # elements per pass: 24 MB of kept buffers whatever the vocabulary, and cache-sized passes
_USABLE: list[bool] = []  # the once-per-process check's answer


def exponential(shape, gen, scratch=None):
    """Float32 Exp(1) noise of `shape` on CPU, consuming `gen` (None: torch's default CPU
    generator) exactly as `exponential_` does, CHUNK elements at a time. scratch: a dict that
    keeps the chunk's int64 and float64 buffers between calls (`KVWorkspace.scratch`: fresh
    arrays would be paid again page by page each step); None allocates them."""
    import torch

    if not usable():
        return torch.empty(shape).exponential_(generator=gen)
    return _fast(shape, gen, scratch)


def _fast(shape, gen, scratch):
    import numpy as np
    import torch

    n = math.prod(shape)
    m = min(n, CHUNK)

    def buf(key, dtype):
        flat = None if scratch is None else scratch.get(key)
        if flat is None or flat.numel() < m:
            flat = torch.empty(m, dtype=dtype)
            if scratch is not None:
                scratch[key] = flat
        return flat

    raw_b, neg_u_b, lg_b = buf("raw", torch.int64), buf("neg_u", torch.float64), buf("log", torch.float64)
    out = torch.empty(shape, dtype=torch.float32)
    flat_out = out.numpy().reshape(-1)
    for at in range(0, n, CHUNK):  # in stream order: chunk by chunk draws the same words
        k = min(CHUNK, n - at)
        raw_t = raw_b[:k]
        raw_t.random_(generator=gen)  # two 32-bit words per element, as exponential_'s uniform
        raw, neg_u, lg = raw_t.numpy(), neg_u_b[:k].numpy(), lg_b[:k].numpy()
        np.bitwise_and(raw, MANTISSA, out=raw)
        np.multiply(raw, -(2.0**-53), out=neg_u)  # -u, exact (an integer below 2^53 times a power of 2)
        np.log1p(neg_u, out=lg)  # log1p(-u) <= 0; its negation is the noise
        # float32 rounding drops a double's low 29 mantissa bits: a boundary is where they are 2^28
        low = raw.view(np.uint64)  # scratch now: raw is no longer needed
        np.add(lg.view(np.uint64), np.uint64((1 << 28) + NEAR), out=low)
        np.bitwise_and(low, np.uint64((1 << 29) - 1), out=low)
        near = np.flatnonzero(low < np.uint64(2 * NEAR))
        noise = flat_out[at : at + k]
        np.negative(lg, out=noise, casting="same_kind")  # float32(-log1p(-u)), correctly rounded
        for i in near.tolist():
            noise[i] = -math.log1p(float(neg_u[i]))  # libm's, as exponential_ (rounded to float32 on assignment)
    return out


def usable() -> bool:
    """Whether `_fast` draws what `exponential_` draws here (checked once per process on 8,192
    draws; numpy missing or another torch algorithm: False)."""
    if not _USABLE:
        try:
            import torch

            a = torch.Generator().manual_seed(1234)
            b = torch.Generator().manual_seed(1234)
            want = torch.empty((4, 2048)).exponential_(generator=a)
            got = _fast((4, 2048), b, None)
            _USABLE.append(bool(torch.equal(want, got)) and bool(torch.equal(a.get_state(), b.get_state())))
        except Exception:  # numpy missing, or a torch whose ops differ: the probe only decides the path
            _USABLE.append(False)
    return _USABLE[0]
