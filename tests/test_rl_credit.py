"""Token-level credit (ponder.rl.credit): spec splitting, the per-leg centring, char->token
offsets and the update's use of it, against hand-derived numbers."""

import pytest
import torch

from ponder.errors import PonderError
from ponder.rl import TrainConfig
from ponder.rl.credit import split_reward, token_credit, token_offsets, unit_credit
from ponder.rl.rollout import Batch
from ponder.types import Completion, Problem


def test_split_reward_keeps_sequence_terms_and_lifts_token_terms():
    assert split_reward("correct:1,plan_legs:0.5") == ("correct:1", [("plan_legs", 0.5)])
    assert split_reward("correct:1,plan_progress:0.5") == ("correct:1,plan_progress:0.5", [])
    assert split_reward("plan_legs, correct") == ("correct", [("plan_legs", 1.0)])
    with pytest.raises(PonderError, match="beside a sequence reward"):
        split_reward("plan_legs:0.5")
    with pytest.raises(PonderError, match="must be a number"):
        split_reward("correct:1,plan_legs:x")


def test_config_refuses_token_credit_with_multi_turn_modes():
    TrainConfig(model="x", tasks=("route",), reward="correct:1,plan_legs:0.5", modes="plan_balanced")
    with pytest.raises(PonderError, match="single-turn"):
        TrainConfig(model="x", reward="correct:1,plan_legs:0.5", modes="subcalls")


def test_unit_credit_centres_each_unit_on_the_group_planned_mean():
    # legs right: A (1, 0), B (1, 1), C no plan, D (0, 0); A also writes an extra step (unit 2, wrong)
    group = [[(0, 0, 3, 1.0), (1, 3, 6, 0.0), (2, 6, 8, 0.0)], [(0, 0, 3, 1.0), (1, 3, 6, 1.0)], None,
             [(0, 0, 3, 0.0), (1, 3, 6, 0.0)]]
    # b0 = 2/3, b1 = 1/3, b2 = 0 (no one has it right); w = 0.5
    out = unit_credit(group, 0.5)
    assert out[2] is None
    assert [x for *_, x in out[0]] == pytest.approx([1 / 6, -1 / 6, 0.0])
    assert [x for *_, x in out[1]] == pytest.approx([1 / 6, 1 / 3])
    assert [x for *_, x in out[3]] == pytest.approx([-1 / 3, -1 / 6])
    assert unit_credit([[(0, 0, 3, 1.0)], None], 0.5) == [[(0, 3, 0.0)], None]  # one plan: its own baseline


class CharTok:
    """A character tokenizer with one multi-character token (id 1 = '<plan>'), and two special
    tokens a backend's text leaves out: EOS (id 0) and <unk> (id 2)."""

    def _piece(self, i):
        return {0: "</s>", 1: "<plan>", 2: "<unk>"}.get(i, chr(i))

    def batch_decode(self, seqs, skip_special_tokens=False, **_):
        return [self.decode(s, skip_special_tokens) for s in seqs]

    def decode(self, ids, skip_special_tokens=False, **_):
        return "".join("" if skip_special_tokens and i in (0, 2) else self._piece(i) for i in ids)


def ids_of(text):
    assert text.startswith("<plan>")
    return [1] + [ord(c) for c in text[6:]] + [0]


def test_token_offsets_are_each_token_first_char():
    text = "<plan>R3</plan>"
    ids = ids_of(text)
    assert token_offsets(CharTok(), ids, text) == [0, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert token_offsets(CharTok(), ids, "<plan>R4</plan>") is None  # the ids do not spell the text
    # a special token sampled mid-way is not in the text (the backends skip it): it takes no characters
    assert token_offsets(CharTok(), [1, ord("R"), 2, ord("3")], "<plan>R3") == [0, 6, 7, 7]
    assert token_offsets(CharTok(), [1, ord("R"), 2], "<plan>R<unk>") == [0, 6, 7]  # kept where the text has it


def test_token_credit_lays_the_leg_credit_on_the_leg_tokens():
    # route: start (0,1), waypoints (0,4), (0,2): legs R3, L2
    p = Problem(id="r", task="route", prompt="walk 0,1>0,4>0,2", answer="R3L2", difficulty=2,
                meta={"cells": [[0, 1], [0, 4], [0, 2]], "plan": ["R3", "L2"]})
    texts = ["<plan>R3;L1</plan><answer>R3L1</answer>", "<plan>R3;L2</plan><answer>R3L2</answer>"]
    comps = [Completion(text=t, token_ids=ids_of(t), finish_reason="stop", num_tokens=len(ids_of(t))) for t in texts]
    comps.append(Completion(text="<answer>R3L2</answer>", token_ids=[ord(c) for c in "<answer>R3L2</answer>"],
                            finish_reason="stop", num_tokens=21))  # no plan: no credit
    batch = Batch(problems=[p] * 3, completions=comps, rewards=[0, 1, 1], correct=[0, 1, 1], parts={}, group_size=3)
    plen = torch.tensor([4, 4, 4])
    credit, stats = token_credit([("plan_legs", 0.5)], batch, CharTok(), plen, 40)
    # leg 0 right in both plans: 0; leg 1 wrong in A, right in B: b1 = 1/2 -> A -0.25, B +0.25
    # A's tokens: '<plan>' at 3 (prompt 4, logits at t predict t+1), 'R','3',';' at 4..6, 'L','1' at 7..8
    want = torch.zeros(40)
    want[7:9] = -0.25
    assert credit[0].tolist() == want.tolist()
    assert credit[1].tolist() == (-want).tolist()
    assert credit[2].abs().sum() == 0
    # credit_abs: 10 tokens in spans (3 + 2 per plan), 4 of them at 0.25
    assert stats["plan_legs"] == pytest.approx(3 / 4) and stats["credit_abs"] == pytest.approx(0.1)
    assert stats["credit_unmapped"] == 0


def test_credit_wakes_an_idle_row_and_trains_its_tokens(tiny_model, load_live):
    from ponder.rl.update import build_tensors, idle_rows, step, token_logprobs

    model, tok, policy = load_live(str(tiny_model))
    p = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
    ids = tok.encode("<answer>5</answer>", add_special_tokens=False)
    comps = [Completion(text="<answer>5</answer>", token_ids=ids, finish_reason="stop", num_tokens=len(ids))] * 2
    batch = Batch(problems=[p, p], completions=comps, rewards=[0.0, 0.0], correct=[0.0, 0.0], parts={}, group_size=2)
    cfg = TrainConfig(model="x", lr=1e-2)
    tensors = build_tensors(policy, tok, batch, cfg)
    adv = torch.zeros(2)  # an all-wrong group: no outcome signal
    assert idle_rows(adv, cfg, None).tolist() == [True, True]
    credit = torch.zeros_like(tensors[2])
    credit[0] = tensors[2][0]  # +1 on every completion token of row 0
    assert idle_rows(adv, cfg, None, credit).tolist() == [False, True]
    tensors.credit = credit
    with torch.no_grad():
        before = (token_logprobs(model, *tensors[:2], 1.0)[0] * tensors[2])[0].sum()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    stats = step(model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), tensors, adv, cfg)
    with torch.no_grad():
        after = (token_logprobs(model, *tensors[:2], 1.0)[0] * tensors[2])[0].sum()
    assert stats["grad_norm"] > 0 and after > before


def test_a_run_with_plan_legs_logs_its_credit_and_leaves_it_out_of_the_sequence_reward(tiny_model, tmp_path):
    from helpers import train

    from ponder.runs import read_jsonl

    cfg = TrainConfig(model=str(tiny_model), tasks=("route",), levels=(1,), reward="correct:1,plan_legs:0.5",
                      modes="plan_balanced", steps=2, prompts_per_step=2, group_size=4, max_new_tokens=24)
    rows = read_jsonl(train(cfg, tmp_path / "run").path / "metrics.jsonl")
    assert len(rows) == 2
    for r in rows:
        assert {"credit_abs", "credit_unmapped", "plan_legs"} <= set(r) and r["credit_unmapped"] == 0
        assert "reward/plan_legs" not in r and r["reward_mean"] == r["reward/correct"]  # sequence reward: correctness alone
