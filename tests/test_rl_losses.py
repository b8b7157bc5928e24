"""Losses and advantages against values derived by hand (torchtune style)."""

import math

import pytest
import torch

from ponder.rl.losses import entropy_from_logits, group_advantages, kl_k3, policy_loss


def test_group_advantages_group_scale_uses_unbiased_std():
    # group [1, 0, 0, 1]: mean 0.5, deviations +-0.5, unbiased var = 4*0.25/3 = 1/3, std = 0.57735
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), "group")
    s = math.sqrt(1 / 3) + 1e-6
    assert torch.allclose(adv, torch.tensor([0.5 / s, -0.5 / s, -0.5 / s, 0.5 / s]))
    # the expected magnitude is 0.866, not 1.0 (which the biased std would give)
    assert abs(adv[0].item() - 0.8660) < 1e-3


def test_group_advantages_zero_variance_group_is_zero():
    adv = group_advantages(torch.tensor([[1.0, 1.0], [0.0, 2.0]]), "group")
    # group 1: all equal -> 0 / (0 + 1e-6) = 0; group 2: mean 1, unbiased std sqrt(2) -> -+1/sqrt(2)
    assert torch.allclose(adv[:2], torch.zeros(2))
    assert torch.allclose(adv[2:], torch.tensor([-1.0, 1.0]) / (math.sqrt(2) + 1e-6))


def test_group_advantages_batch_and_none():
    r = torch.tensor([[1.0, 0.0], [3.0, 3.0]])
    # none (Dr. GRPO): mean-centred per group only
    assert torch.allclose(group_advantages(r, "none"), torch.tensor([0.5, -0.5, 0.0, 0.0]))
    # batch: centred per group, divided by the unbiased std of all 4 rewards:
    # mean 1.75, squared deviations 0.5625+3.0625+1.5625+1.5625 = 6.75, /3 = 2.25, std 1.5
    assert torch.allclose(group_advantages(r, "batch"), torch.tensor([0.5, -0.5, 0.0, 0.0]) / (1.5 + 1e-6))


def test_group_advantages_rejects_unknown_scale():
    with pytest.raises(ValueError, match="unknown advantage scale"):
        group_advantages(torch.zeros(1, 2), "zscore")


def _case():
    # 2 sequences, T=3. Sequence 0 has 3 tokens with logp - old = 1, so ratio = e = 2.718 each,
    # A = +1: clipped ratio becomes 1 + eps_high = 1.2 -> per-token loss -min(e, 1.2) = -1.2.
    # Sequence 1 has 1 unmasked token with ratio 1 (logp == old), A = -2 -> per-token loss 2.
    logp = torch.tensor([[0.0, 0.0, 0.0], [-1.0, -5.0, -5.0]])
    old = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    adv = torch.tensor([1.0, -2.0])
    return logp, old, adv, mask


def test_policy_loss_grpo_sequence_mean():
    logp, old, adv, mask = _case()
    loss, stats = policy_loss(logp, old, adv, mask, variant="grpo", eps_low=0.2, eps_high=0.2)
    # seq means: -1.2 and 2.0 -> mean 0.4
    assert loss.item() == pytest.approx(0.4)
    # 3 of 4 unmasked tokens clipped on the high side (ratio e > 1.2, A > 0)
    assert stats["clip_high_frac"] == pytest.approx(0.75)
    assert stats["clip_low_frac"] == 0.0


def test_policy_loss_dapo_token_mean():
    logp, old, adv, mask = _case()
    loss, _ = policy_loss(logp, old, adv, mask, variant="dapo", eps_low=0.2, eps_high=0.28)
    # clip-higher: clipped ratio 1.28 -> tokens -1.28 x3 and 2.0; sum = -1.84, / 4 tokens = -0.46
    assert loss.item() == pytest.approx(-0.46)


def test_policy_loss_dr_grpo_constant_normaliser():
    logp, old, adv, mask = _case()
    loss, _ = policy_loss(logp, old, adv, mask, variant="dr_grpo", eps_low=0.2, eps_high=0.2, max_len=8)
    # sum = -3.6 + 2.0 = -1.6, / (N=2 x max_len=8) = -0.1
    assert loss.item() == pytest.approx(-0.1)
    loss_t, _ = policy_loss(logp, old, adv, mask, variant="dr_grpo", eps_low=0.2, eps_high=0.2)
    assert loss_t.item() == pytest.approx(-1.6 / 6)  # max_len defaults to T=3


def test_policy_loss_negative_advantage_low_clip_and_gradient():
    # ratio = e^-1 = 0.368 < 0.8 with A = -1: -min(-0.368, -0.8) = 0.8, clipped branch, no gradient
    logp = torch.tensor([[-2.0]], requires_grad=True)
    loss, stats = policy_loss(logp, torch.tensor([[-1.0]]), torch.tensor([-1.0]), torch.ones(1, 1), variant="grpo")
    assert loss.item() == pytest.approx(0.8)
    assert stats["clip_low_frac"] == 1.0
    loss.backward()
    assert logp.grad.item() == 0.0
    # unclipped (ratio 1, A = 1): loss = -r*A, d/dlogp = -r*A = -1
    logp = torch.tensor([[-1.0]], requires_grad=True)
    loss, _ = policy_loss(logp, torch.tensor([[-1.0]]), torch.tensor([1.0]), torch.ones(1, 1), variant="grpo")
    loss.backward()
    assert logp.grad.item() == pytest.approx(-1.0)


def test_kl_k3_by_hand_and_in_loss():
    # d = ref - logp = 1: e - 1 - 1 = 0.71828
    assert kl_k3(torch.tensor([0.0]), torch.tensor([1.0])).item() == pytest.approx(math.e - 2)
    assert kl_k3(torch.tensor([0.3]), torch.tensor([0.3])).item() == 0.0
    logp = torch.zeros(1, 2)
    loss, stats = policy_loss(logp, logp, torch.tensor([0.0]), torch.ones(1, 2), variant="grpo",
                              ref_logp=torch.ones(1, 2), beta=0.1)
    assert loss.item() == pytest.approx(0.1 * (math.e - 2))
    assert stats["kl"] == pytest.approx(math.e - 2)


def test_entropy_uniform():
    # uniform over 4 -> log 4
    assert entropy_from_logits(torch.zeros(2, 4))[0].item() == pytest.approx(math.log(4))


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown loss variant"):
        policy_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1), torch.ones(1, 1), variant="ppo2")


@pytest.mark.parametrize("variant", ["grpo", "dapo", "dr_grpo"])
def test_micro_batch_weights_recover_the_full_batch_loss(variant):
    from ponder.rl.losses import micro_weight

    torch.manual_seed(0)
    logp, old = torch.randn(5, 6) * 0.1, torch.randn(5, 6) * 0.1
    mask = (torch.rand(5, 6) > 0.3).float()
    mask[:, 0] = 1
    adv = torch.randn(5)
    kw = dict(variant=variant, eps_low=0.2, eps_high=0.28, max_len=6)
    full, _ = policy_loss(logp, old, adv, mask, **kw)
    total = 0.0
    for idx in (torch.tensor([0, 3]), torch.tensor([1]), torch.tensor([2, 4])):
        part, _ = policy_loss(logp[idx], old[idx], adv[idx], mask[idx], **kw)
        total += part * micro_weight(variant, mask[idx].sum(), mask.sum(), len(idx), 5)
    assert total.item() == pytest.approx(full.item(), abs=1e-6)
