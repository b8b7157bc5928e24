"""The fast paths against the slow ones they replace, on the tiny model (random init) and variants.

- sampling: `ponder.policy.lean` decodes exactly what transformers' forward decodes (same tokens
  for a seed, logprobs within 1e-5, 5e-5 over 60 steps: its projections sum in another order),
  also with grouped-query attention and a LoRA adapter;
- training: `ponder.rl.update.shared_prompt_logprobs` (each prompt computed once per group) gives
  `token_logprobs`' values within 1e-5 and the same gradients (within 1e-5 of each tensor's largest entry), and `step`
  with the fast path moves the weights as the slow path does (1e-5), old-logprob recompute included.
"""

import copy

import pytest
import torch

from ponder.rewards import combine
from ponder.rl import TrainConfig
from ponder.rl.data import PromptSource
from ponder.rl.rollout import advantages, collect
from ponder.types import Sampling


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ponder.policy.tiny import init_tiny

    return str(init_tiny(tmp_path_factory.mktemp("fast") / "tiny"))


def _gqa(tiny, tmp_path):
    """The tiny model with 4 query heads sharing 2 key/value heads and q/k/v biases (SmolLM2-like GQA)."""
    from transformers import (
        AutoTokenizer,
        LlamaConfig,
        LlamaForCausalLM,
    )

    cfg = LlamaConfig.from_pretrained(tiny)
    cfg.num_key_value_heads, cfg.attention_bias = 2, True
    torch.manual_seed(1)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():
        for p in model.parameters():  # biases start at zero: make them count
            p.add_(0.02 * torch.randn_like(p))
    return model, AutoTokenizer.from_pretrained(tiny)


def _lora(model):
    from peft import LoraConfig, get_peft_model

    m = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0))
    with torch.no_grad():  # B starts at zero (a no-op adapter): give it weight so the fold is tested
        for n, p in m.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    return m


def _models(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    gqa, _ = _gqa(tiny, tmp_path)
    return {"tiny": (AutoModelForCausalLM.from_pretrained(tiny), tok), "gqa+bias": (gqa, tok),
            "lora": (_lora(AutoModelForCausalLM.from_pretrained(tiny)), tok)}


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_lean_decode_samples_what_transformers_samples(tiny, tmp_path, temperature):
    from ponder.policy.hf import HFPolicy
    from ponder.policy.lean import LeanLlama
    from ponder.tasks import get_task

    task = get_task("arith")
    for name, (model, tok) in _models(tiny, tmp_path).items():
        policy = HFPolicy.from_model(model, tok)
        assert LeanLlama.of(model) is not None, name
        prompts = [policy.render(task.generate(3, i, 1 + i % 5)) for i in range(5)]  # unequal lengths: padding
        s = Sampling(temperature=temperature, max_new_tokens=24, seed=5, logprobs=True)
        outs = {}
        for lean in (False, True):
            policy.lean = lean
            outs[lean] = [c for g in policy.generate(prompts, 3, s) for c in g]
        assert [c.token_ids for c in outs[True]] == [c.token_ids for c in outs[False]], name
        diff = max(abs(a - b) for x, y in zip(outs[True], outs[False]) for a, b in zip(x.logprobs, y.logprobs))
        assert diff < 1e-5, name


def test_lean_refuses_models_it_does_not_reproduce(tiny):
    from transformers import AutoModelForCausalLM, LlamaConfig

    from ponder.policy.lean import LeanLlama

    cfg = LlamaConfig.from_pretrained(tiny)
    cfg.rope_parameters = {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}
    assert LeanLlama.of(AutoModelForCausalLM.from_config(cfg)) is None
    cfg = LlamaConfig.from_pretrained(tiny)
    cfg.hidden_act = "gelu"
    assert LeanLlama.of(AutoModelForCausalLM.from_config(cfg)) is None


def _batch(model, tok, cfg):
    from ponder.policy.hf import HFPolicy

    torch.manual_seed(0)
    policy = HFPolicy.from_model(model, tok)
    batch = collect(policy, PromptSource.from_task("arith", levels=(1, 2, 3), seed=3), combine("correct:1"), cfg)
    from ponder.rl.update import build_tensors

    return policy, batch, build_tensors(policy, tok, batch, cfg)


def test_shared_prompt_logprobs_and_gradients_match_full_rows(tiny, tmp_path):
    from ponder.policy.lean import LeanLlama
    from ponder.rl.update import shared_prompt_logprobs, token_logprobs

    cfg = TrainConfig(model="x", prompts_per_step=3, group_size=4, max_new_tokens=16, temperature=0.7)
    for name, (model, tok) in _models(tiny, tmp_path).items():
        _, _, tensors = _batch(model, tok, cfg)
        ids, attn, mask = tensors
        assert len(set(tensors.prompt_len.tolist())) > 1 or name  # prompts of several lengths
        grads = {}
        for fast in (False, True):
            model.zero_grad(set_to_none=True)
            if fast:
                logp, ent = shared_prompt_logprobs(LeanLlama.of(model), ids, attn, tensors.prompt_len, 0.7, True)
            else:
                logp, ent = token_logprobs(model, ids, attn, 0.7, with_entropy=True)
            w = torch.linspace(-1, 1, ids.shape[0])[:, None]  # signed per-row weights, as advantages
            (logp * mask * w).sum().backward()
            grads[fast] = ({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
                           (logp * mask).detach(), (ent * mask))
        assert torch.allclose(grads[True][1], grads[False][1], atol=1e-5), name
        assert torch.allclose(grads[True][2], grads[False][2], atol=1e-5), name
        assert grads[True][0].keys() == grads[False][0].keys() and grads[True][0], name
        for n, g in grads[False][0].items():
            # relative to the tensor's largest entry: an element near zero carries the summation's rounding
            assert float((grads[True][0][n] - g).abs().max()) <= 1e-5 * float(g.abs().max()) + 1e-8, (name, n)


def _ragged(tensors, pad):
    """The batch with its rows' completions cut to lengths 0, 1, 2, ... (cycling up to each row's
    own): right-padded rows of many lengths, an empty completion included."""
    from ponder.rl.update import Tensors

    ids, attn, mask = (t.clone() for t in tensors)
    plen = tensors.prompt_len
    for r in range(ids.shape[0]):
        keep = min(r % 7, int(attn[r].sum() - plen[r]))
        end = int(plen[r]) + keep
        ids[r, end:], attn[r, end:], mask[r, end - 1 :] = pad, 0, 0
    out = Tensors((ids, attn, mask))
    out.prompt_len = plen
    return out


def test_packed_completion_positions_match_full_rows(tiny, tmp_path):
    """`shared_prompt_logprobs` runs the projections on the positions that predict a completion token
    only (no padding, no last token): on rows of many completion lengths (an empty one included) its
    logprobs, entropies and gradients are still those of a forward over the full padded rows, and
    nothing is written outside a row's completion."""
    from ponder.policy.lean import LeanLlama
    from ponder.rl.update import shared_prompt_logprobs, token_logprobs

    cfg = TrainConfig(model="x", prompts_per_step=3, group_size=4, max_new_tokens=16)
    for name, (model, tok) in _models(tiny, tmp_path).items():
        _, _, tensors = _batch(model, tok, cfg)
        tensors = _ragged(tensors, tok.pad_token_id or 0)
        ids, attn, mask = tensors
        res = {}
        for fast in (False, True):
            model.zero_grad(set_to_none=True)
            if fast:
                logp, ent = shared_prompt_logprobs(LeanLlama.of(model), ids, attn, tensors.prompt_len, 1.0, True)
                assert not bool((logp * (1 - mask)).any()) and not bool((ent * (1 - mask)).any()), name
            else:
                logp, ent = token_logprobs(model, ids, attn, 1.0, with_entropy=True)
            (logp * mask * torch.linspace(-1, 1, ids.shape[0])[:, None]).sum().backward()
            res[fast] = ({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
                         (logp * mask).detach(), ent * mask)
        assert torch.allclose(res[True][1], res[False][1], atol=1e-5), name
        assert torch.allclose(res[True][2], res[False][2], atol=1e-5), name
        for n, g in res[False][0].items():
            assert float((res[True][0][n] - g).abs().max()) <= 1e-5 * float(g.abs().max()) + 1e-8, (name, n)


@pytest.mark.parametrize("which", ["some", "all"])
@pytest.mark.parametrize("fast_path", [True, False])
def test_step_skips_idle_rows_and_trains_as_without_the_skip(tiny, tmp_path, which, fast_path, monkeypatch):
    """Rows whose advantages are all 0 (groups whose rewards agree) go through a no-grad forward only
    (`ponder.rl.update.idle_rows`); the step moves the weights as the step that backpropagates
    every row (AdamW with weight decay, so an all-idle batch's zero gradient still moves them), and
    its stats are the same."""
    from ponder.rl import update

    cfg = TrainConfig(model="x", prompts_per_step=3, group_size=4, max_new_tokens=16, lr=1e-3, weight_decay=0.1,
                      micro_batch_size=4)
    model, tok = _models(tiny, tmp_path)["tiny"]
    _, batch, tensors = _batch(model, tok, cfg)
    tensors = _ragged(tensors, tok.pad_token_id or 0)
    adv = torch.linspace(-1.5, 1.5, tensors[0].shape[0])
    adv[:4] = 0.0  # the first group idle (a whole micro-batch); a row of the second one too
    adv[5] = 0.0
    if which == "all":
        adv.zero_()
    monkeypatch.setattr(update, "FAST_PATH", fast_path)
    assert update.idle_rows(adv, cfg, None).tolist() == (adv == 0).tolist()
    after, stats = {}, {}
    for skip in (False, True):
        monkeypatch.setattr(update, "SKIP_IDLE_ROWS", skip)
        m = copy.deepcopy(model)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        calls = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: calls.append(1) or t, lambda t: t):
            stats[skip] = update.step(m, opt, sched, tensors, adv, cfg)
        after[skip] = ([p.detach() for p in m.parameters()], len(calls))
    assert stats[True].keys() == stats[False].keys()
    for k, v in stats[False].items():
        assert stats[True][k] == pytest.approx(v, rel=1e-4, abs=1e-6), k
    for a, b in zip(after[True][0], after[False][0]):
        assert torch.allclose(a, b, atol=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(after[True][0], model.parameters()))  # it did train
    # the idle rows were left out of the graph: fewer tensors saved for the backward (none when all idle)
    assert after[True][1] < after[False][1] and (which == "some" or after[True][1] == 0)


@pytest.mark.parametrize("epochs", [1, 2])
def test_step_fast_path_trains_as_the_slow_path(tiny, tmp_path, epochs, monkeypatch):
    from ponder.rl import update

    cfg = TrainConfig(model="x", prompts_per_step=3, group_size=4, max_new_tokens=16, epochs=epochs, lr=1e-3,
                      micro_batch_size=4)
    model, tok = _models(tiny, tmp_path)["tiny"]
    _, batch, tensors = _batch(model, tok, cfg)
    adv = advantages(batch, cfg)
    after, stats = {}, {}
    for fast in (False, True):
        monkeypatch.setattr(update, "FAST_PATH", fast)
        m = copy.deepcopy(model)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        stats[fast] = update.step(m, opt, sched, tensors, adv, cfg)
        after[fast] = [p.detach() for p in m.parameters()]
    for k in ("loss", "grad_norm", "entropy", "ratio_mean"):
        assert stats[True][k] == pytest.approx(stats[False][k], rel=1e-4, abs=1e-6), k
    for a, b in zip(after[True], after[False]):
        assert torch.allclose(a, b, atol=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(after[True], model.parameters()))  # it did train


@pytest.mark.parametrize("stop", [(), ("=",)])
def test_lean_decode_with_early_stops_growth_and_compaction(tiny, stop):
    """Rows that stop at different steps (EOS made likely, or a stop string) leave the batch
    (compaction) while the KV buffers grow past their first size several times: the lean decode's
    whole-buffer attention, rotary table and host-side done count still sample what transformers'
    forward samples, logprobs within 1e-5."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.policy import hf
    from ponder.policy.hf import HFPolicy
    from ponder.tasks import get_task

    model, tok = AutoModelForCausalLM.from_pretrained(tiny), AutoTokenizer.from_pretrained(tiny)
    with torch.no_grad():  # tied embeddings: a larger EOS row makes EOS likely (~1 in 20 tokens)
        model.lm_head.weight[tok.eos_token_id] += 2.0 * model.model.norm.weight
    policy = HFPolicy.from_model(model, tok)
    task = get_task("arith")
    prompts = [policy.render(task.generate(4, i, 1 + i % 5)) for i in range(6)]
    s = Sampling(temperature=1.0, max_new_tokens=60, seed=11, logprobs=True, stop=stop)
    outs = {}
    for lean in (False, True):
        policy.lean = lean
        outs[lean] = [c for g in policy.generate(prompts, 4, s) for c in g]
    assert [c.token_ids for c in outs[True]] == [c.token_ids for c in outs[False]]
    assert len({c.num_tokens for c in outs[True]}) > 3  # rows stopped at different steps
    assert sum(c.finish_reason == "stop" for c in outs[True]) >= int(hf.COMPACT_FRACTION * 24) + 1
    diff = max(abs(a - b) for x, y in zip(outs[True], outs[False]) for a, b in zip(x.logprobs, y.logprobs))
    # 5e-5, not 1e-5: the lean decode's projections run on oneDNN (lean._Lin), summing in another
    # order than transformers' MKL products; over 60 steps of this random model that reaches 1.5e-5
    assert diff < 5e-5


def test_lean_decode_reuses_its_workspace_without_reading_stale_memory(tiny):
    """The KV workspace a policy keeps between calls: a later, smaller batch decodes in memory a
    larger one left behind (here poisoned with NaN, which a decode step would spread through its
    whole-buffer attention if an unwritten column were read unzeroed) and still samples what
    transformers' forward samples; a repeated call samples exactly the first one's tokens and
    logprobs; the memory is reused, not allocated again."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.policy.hf import HFPolicy
    from ponder.tasks import get_task

    model, tok = AutoModelForCausalLM.from_pretrained(tiny), AutoTokenizer.from_pretrained(tiny)
    with torch.no_grad():  # EOS likely: rows stop early, so compaction moves rows between slots
        model.lm_head.weight[tok.eos_token_id] += 2.0 * model.model.norm.weight
    policy = HFPolicy.from_model(model, tok)
    task = get_task("arith")
    prompts = [policy.render(task.generate(5, i, 1 + i % 5)) for i in range(6)]
    big = Sampling(temperature=1.0, max_new_tokens=60, seed=3, logprobs=True)
    small = Sampling(temperature=1.0, max_new_tokens=30, seed=4, logprobs=True)
    first = [c for g in policy.generate(prompts, 4, big) for c in g]
    (ws,) = policy._workspaces
    ptrs = {k: t.data_ptr() for k, t in ws.slots.items()}
    with torch.inference_mode():  # the slots were made under it
        for t in ws.slots.values():
            t.fill_(float("nan"))
    outs = {}
    for lean in (True, False):
        policy.lean = lean
        outs[lean] = [c for g in policy.generate(prompts[:3], 2, small) for c in g]
    assert [c.token_ids for c in outs[True]] == [c.token_ids for c in outs[False]]
    diff = max(abs(a - b) for x, y in zip(outs[True], outs[False]) for a, b in zip(x.logprobs, y.logprobs))
    assert diff < 1e-5
    assert {k: t.data_ptr() for k, t in ws.slots.items()} == ptrs  # the same memory, not fresh pages
    policy.lean = True
    again = [c for g in policy.generate(prompts, 4, big) for c in g]
    assert [(c.token_ids, c.logprobs) for c in again] == [(c.token_ids, c.logprobs) for c in first]
    assert len({c.num_tokens for c in first}) > 3  # rows stopped at different steps


def test_lean_rms_norm_is_the_composite_formula_bit_for_bit(tiny):
    """The fused kernel the lean forward uses in float32 gives exactly transformers' RMSNorm bits."""
    from transformers import AutoModelForCausalLM

    from ponder.policy.lean import LeanLlama

    model = AutoModelForCausalLM.from_pretrained(tiny)
    lean = LeanLlama.of(model)
    torch.manual_seed(0)
    x = torch.randn(5, 7, 128) * 3
    w = torch.randn(128)
    with torch.no_grad():
        ref = model.model.norm.__class__(128, eps=lean.cfg["eps"])
        ref.weight.copy_(w)
        assert torch.equal(lean._rms(x, w), ref(x))


def test_lean_projections_on_onednn_equal_f_linear_and_keep_autograd_on_f_linear():
    """`lean._Lin` without autograd on CPU runs large products on oneDNN (a large weight reordered
    first): the same values as F.linear to float32 rounding (2-D and 3-D inputs, with a bias);
    small products and anything under autograd stay on F.linear (differentiable)."""
    import torch.nn.functional as F

    from ponder.policy import lean

    torch.manual_seed(0)
    for rows, cols in [(384, 128), (2048, 512)]:  # the second is reordered (PACK_MIN_NUMEL)
        w, b = torch.randn(rows, cols), torch.randn(rows)
        lin = lean._Lin([(w, b, [])], onednn=True)
        for shape in [(512, cols), (16, 18, cols)]:
            x = torch.randn(shape)
            with torch.inference_mode():
                got = lin(x)
            torch.testing.assert_close(got, F.linear(x, w, b), rtol=1e-5, atol=1e-4)
        if lean.onednn_available():  # the oneDNN path was taken
            assert lin.onednn is not False and lin.onednn is not None
            assert (lin.onednn[0].layout != torch.strided) == (w.numel() >= lean.PACK_MIN_NUMEL)  # reordered
    small = lean._Lin([(torch.randn(384, 128), None, [])], onednn=True)
    with torch.inference_mode():
        small(torch.randn(2, 128))
    assert small.onednn is None  # 2 rows x 384 x 128 is under PACK_MIN_MACS: F.linear
    wg = w.clone().requires_grad_()
    y = lean._Lin([(wg, None, [])], onednn=True)(torch.randn(512, 512))
    y.sum().backward()
    assert wg.grad is not None


def test_only_the_sampling_decoder_takes_onednn(tiny, monkeypatch):
    """The update's lean decoder (`LeanLlama.of(model)`) keeps F.linear, bit for bit its autograd
    forward; the sampling loop's (`onednn=True`) may take oneDNN, and `HFPolicy` asks for it."""
    from transformers import AutoModelForCausalLM

    from ponder.policy.lean import LeanLlama, onednn_available

    model = AutoModelForCausalLM.from_pretrained(tiny)
    plain, fast = LeanLlama.of(model), LeanLlama.of(model, onednn=True)

    def lins(lean):
        return [ly[k] for ly in lean.layers for k in ("qkv", "o", "gate_up", "down")] + [lean.head_lin]

    assert all(lin.onednn is False for lin in lins(plain))
    assert all(lin.onednn is None for lin in lins(fast))  # decided on first use
    with torch.inference_mode():
        ids = torch.randint(0, 100, (64, 7))
        pos = torch.arange(7).expand(64, 7)
        mask = torch.ones((7, 7), dtype=torch.bool).tril()[None, None]
        a = plain._logits(plain.blocks(ids, pos, mask, lambda i, k, v: (k, v)))
        b = fast._logits(fast.blocks(ids, pos, mask, lambda i, k, v: (k, v)))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert all(lin.onednn is False for lin in lins(plain))
    if onednn_available():
        assert all(lin.onednn for lin in lins(fast))  # 448 rows: every product large enough
    from transformers import AutoTokenizer

    from ponder.policy.hf import HFPolicy

    asked, of = [], LeanLlama.of.__func__
    monkeypatch.setattr(LeanLlama, "of", classmethod(lambda cls, m, onednn=False: asked.append(onednn) or of(cls, m, onednn)))
    HFPolicy.from_model(model, AutoTokenizer.from_pretrained(tiny)).generate(["1+1="], 1, Sampling(max_new_tokens=2, seed=0))
    assert asked == [True]
