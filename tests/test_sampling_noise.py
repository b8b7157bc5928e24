"""The `hf` backend's sampling noise (`ponder.policy.noise`) is bit for bit torch's `exponential_`:
the same float32 values from the same generator stream, the generator left in the same state, so
a seeded `generate` samples exactly the tokens it sampled with `exponential_`."""

import math

import pytest
import torch

from ponder.policy import noise
from ponder.types import Sampling


def test_noise_is_exponential_bit_for_bit_including_the_values_next_to_a_rounding_boundary(monkeypatch):
    assert noise.usable()
    calls = []
    log1p = math.log1p
    monkeypatch.setattr(noise.math, "log1p", lambda x: calls.append(x) or log1p(x))
    scratch: dict = {}
    for seed, shape in [(0, (64, 49152)), (7, (3, 1000)), (12345, (512, 128)), (0, (1, 1))]:
        a, b = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        for _ in range(2):  # the second draw continues the stream (and reuses the scratch buffers)
            want = torch.empty(shape).exponential_(generator=a)
            got = noise.exponential(shape, b, scratch)
            assert got.shape == want.shape and got.dtype == torch.float32
            assert torch.equal(got.view(torch.int32), want.view(torch.int32))  # the bits, -0.0 included
            assert torch.equal(a.get_state(), b.get_state())
    # ~6.5M draws: about 25 lie next to a float32 rounding boundary and took libm's log1p
    assert len(calls) > 3


def test_noise_from_the_default_generator_is_exponential_bit_for_bit():
    torch.manual_seed(3)
    want = torch.empty((16, 300)).exponential_()
    state = torch.get_rng_state()
    torch.manual_seed(3)
    got = noise.exponential((16, 300), None)
    assert torch.equal(got.view(torch.int32), want.view(torch.int32))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_sample_picks_the_tokens_exponential_noise_picks(top_p):
    from ponder.policy.hf import _sample

    torch.manual_seed(0)
    logits = torch.randn(64, 4096) * 3
    a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    got = [_sample(logits, 0.7, top_p, a, {}) for _ in range(3)]
    # the formula before the fast noise: softmax, top-p, argmax(probs / Exp(1))
    want = []
    for _ in range(3):
        probs = torch.softmax(logits / 0.7, -1)
        if top_p < 1.0:
            sp, si = probs.sort(-1, descending=True)
            sp = sp.masked_fill((sp.cumsum(-1) - sp) >= top_p, 0.0)
            probs = torch.zeros_like(probs).scatter_(-1, si, sp)
        want.append((probs / torch.empty_like(probs).exponential_(generator=b)).argmax(-1))
    assert all(torch.equal(x, y) for x, y in zip(got, want))


def test_generate_samples_the_same_tokens_with_the_fast_noise_as_with_exponential(monkeypatch, tmp_path):
    from ponder.policy.hf import HFPolicy
    from ponder.policy.tiny import init_tiny
    from ponder.tasks import get_task

    policy = HFPolicy(str(init_tiny(tmp_path / "tiny")))
    task = get_task("arith")
    prompts = [policy.render(task.generate(2, i, 1 + i % 5)) for i in range(4)]
    s = Sampling(temperature=1.0, max_new_tokens=24, seed=9, logprobs=True)
    fast = [(c.token_ids, c.logprobs) for g in policy.generate(prompts, 4, s) for c in g]
    monkeypatch.setattr(noise, "_USABLE", [False])  # every draw through exponential_
    slow = [(c.token_ids, c.logprobs) for g in policy.generate(prompts, 4, s) for c in g]
    assert fast == slow
