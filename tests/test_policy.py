"""The tiny model, its tokenizer, and the `hf` backend, against the real model (no mocks)."""

from __future__ import annotations

import pytest

from ponder.errors import PonderError
from ponder.format import TAGS
from ponder.types import Problem, Sampling


def test_tokenizer_round_trip_is_exact_and_tags_are_single_tokens(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    texts = ["12+7-3+25=?\n<think>12+7=19;19-3=16</think><answer> -41 </answer>",
             "a  b\tc\n\n  ~!@#$%^&*()_{}|:\"<>?`'[]\\;,./", "<plan>left; up</plan>x y", ""]
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
    for tag in TAGS:
        assert len(tok.encode(tag, add_special_tokens=False)) == 1
    assert len(tok.encode("a b", add_special_tokens=False)) == 3  # one token per character
    assert tok.encode("hi") == tok.encode("hi", add_special_tokens=False)  # no BOS/EOS added


def test_model_init_loads_like_any_checkpoint(tiny_model):
    from transformers import AutoModelForCausalLM

    from ponder.ledger import read_meta

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    n = sum(p.numel() for p in model.parameters())
    assert type(model).__name__ == "LlamaForCausalLM"
    assert read_meta(tiny_model)["params"] == n
    assert read_meta(tiny_model)["flops"] == {}


@pytest.fixture(scope="module")
def tiny_policy(tiny_model):
    from ponder.policy import load_policy

    return load_policy(str(tiny_model))


@pytest.fixture(scope="module")
def warm_policy(warm_model):
    from ponder.policy.hf import HFPolicy

    return HFPolicy(str(warm_model))


PROMPTS = ["3+4=?", "12+7-3+25=?", "9-9=?"]


def test_generate_shapes_and_counts(tiny_policy):
    outs = tiny_policy.generate([tiny_policy.render(p) for p in PROMPTS], 3,
                                Sampling(temperature=1.0, max_new_tokens=12, seed=0))
    assert [len(g) for g in outs] == [3, 3, 3]
    for prompt, group in zip(PROMPTS, outs):
        for c in group:
            assert c.num_tokens == len(c.token_ids) <= 12
            assert c.prompt_tokens == len(tiny_policy.render(prompt))  # char tokenizer: 1 token/char
            assert c.finish_reason in ("stop", "length")
            assert c.logprobs is None
            assert c.think_tokens + c.answer_tokens <= c.num_tokens
            assert c.time_s > 0


def test_render_plain_for_tiny_model(tiny_policy):
    p = Problem(id="x", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    assert tiny_policy.render(p) == "2+3=?\n"
    assert tiny_policy.render(p, "<think>") == "2+3=?\n<think>"


def test_seed_reproducible_and_greedy_deterministic(tiny_policy):
    s = Sampling(temperature=1.0, max_new_tokens=10, seed=123)
    a = tiny_policy.generate(PROMPTS, 4, s)
    b = tiny_policy.generate(PROMPTS, 4, s)
    c = tiny_policy.generate(PROMPTS, 4, Sampling(temperature=1.0, max_new_tokens=10, seed=124))
    ids = lambda outs: [[x.token_ids for x in g] for g in outs]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)
    assert len({tuple(x) for x in ids(a)[0]}) > 1  # samples of one prompt differ
    g = tiny_policy.generate(PROMPTS, 2, Sampling(temperature=0, max_new_tokens=10))
    for grp in g:
        assert grp[0].token_ids == grp[1].token_ids  # greedy: every sample identical


def test_logprobs_match_teacher_forced_forward(tiny_policy):
    import torch

    tok, model = tiny_policy.tokenizer, tiny_policy.model
    outs = tiny_policy.generate([tiny_policy.render(p) for p in PROMPTS], 2,
                                Sampling(temperature=0.8, top_p=0.9, max_new_tokens=16, seed=5, logprobs=True))
    for prompt, group in zip(PROMPTS, outs):
        p_ids = tok.encode(tiny_policy.render(prompt), add_special_tokens=False)
        for c in group:
            assert len(c.logprobs) == c.num_tokens
            ids = torch.tensor([p_ids + c.token_ids])
            with torch.no_grad():
                logits = model(ids).logits[0].float()
            lsm = torch.log_softmax(logits[len(p_ids) - 1 : -1], -1)  # raw model, before temperature
            want = lsm.gather(1, torch.tensor(c.token_ids)[:, None])[:, 0]
            assert torch.allclose(torch.tensor(c.logprobs), want, atol=1e-4)


def test_max_tokens_gives_length(tiny_policy):
    outs = tiny_policy.generate(["1+1=?"], 2, Sampling(temperature=1.0, max_new_tokens=5, seed=1))
    for c in outs[0]:
        if c.finish_reason == "length":
            assert c.num_tokens == 5
    # a random model never emits EOS within 5 tokens with this seed, so both hit the limit
    assert [c.finish_reason for c in outs[0]] == ["length", "length"]


def test_stop_string_cuts_and_keeps_the_stop(warm_policy):
    s = Sampling(temperature=0, max_new_tokens=60, stop=("</think>",))
    out = warm_policy.generate([warm_policy.render("47+18-23+55=?", "<think>")], 1, s)[0][0]
    assert out.finish_reason == "stop"
    assert out.text.endswith("</think>") and out.text.count("</think>") == 1
    assert "<answer>" not in out.text
    assert warm_policy.tokenizer.decode(out.token_ids) == out.text  # no tokens past the stop


def test_warm_model_stops_at_eos_with_counts(warm_policy):
    out = warm_policy.generate([warm_policy.render("2+3=?", "<think>")], 1,
                               Sampling(temperature=0, max_new_tokens=80))[0][0]
    assert out.finish_reason == "stop"
    n_text = len(warm_policy.tokenizer.encode(out.text, add_special_tokens=False))
    assert out.token_ids[-1] in warm_policy.eos_ids and out.num_tokens == n_text + 1  # + EOS
    assert out.text.endswith("</answer>")
    # char tokenizer: the answer span "<answer>5</answer>" is 2 tag tokens + 1 per character inside.
    # "<think>" was in the prompt, so the completion holds no full think span (callers who force a
    # mode prepend the suffix before parsing).
    inner = out.text[out.text.index("<answer>") + len("<answer>") : out.text.index("</answer>")]
    assert out.answer_tokens == len(inner) + 2
    assert out.think_tokens == 0


def test_left_padding_does_not_change_greedy_output(warm_policy):
    prompts = [warm_policy.render(p) for p in ["3+4=?", "12+7-3+25=?", "7-2+5=?", "63-28+91-47=?"]]
    s = Sampling(temperature=0, max_new_tokens=60)
    batched = [g[0].text for g in warm_policy.generate(prompts, 1, s)]
    alone = [warm_policy.generate([p], 1, s)[0][0].text for p in prompts]
    assert batched == alone


def test_load_policy_errors(tmp_path):
    from ponder.policy import load_policy

    with pytest.raises(PonderError, match="model directory not found"):
        load_policy(str(tmp_path / "nope"))
    with pytest.raises(PonderError, match="unknown backend 'tpu'"):
        load_policy(str(tmp_path), backend="tpu")
    with pytest.raises(PonderError, match="not a model directory"):
        load_policy(str(tmp_path))


def test_cli_model_init_and_errors(tmp_path, capsys):
    from ponder.cli import main
    from ponder.ledger import read_meta

    out = tmp_path / "m"
    assert main(["model", "init", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert read_meta(out)["params"] > 100_000
    assert main(["model", "init", "--out", str(out)]) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["model", "init", "--out", str(tmp_path / "x"), "--size", "huge"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model size 'huge'" in err
    assert not (tmp_path / "x").exists()
