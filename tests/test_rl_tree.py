"""Training through a sub-call tree: injected tokens are masked out, and every token a child
generated is trained with its root's advantage."""


import pytest
import torch

from ponder.errors import PonderError
from ponder.rl import TrainConfig
from ponder.rl.rollout import Batch
from ponder.rl.update import build_tensors, row_owners, step, token_logprobs
from ponder.rollout import Rollout, RolloutCompletion, Segment
from ponder.rollout.multiturn import as_completion
from ponder.types import Completion, Problem

PROBLEM = Problem(id="a", task="sumprod", prompt="3*4+5*6=?", answer="42", difficulty=1)
SOLO = Problem(id="b", task="sumprod", prompt="2*2+1*1=?", answer="5", difficulty=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ponder.policy.tiny import init_tiny

    return str(init_tiny(tmp_path_factory.mktemp("tree") / "tiny"))


def _seg(tok, text, source, children=()):
    return Segment(text, tuple(tok.encode(text, add_special_tokens=False)), source, children=children)


def _tree(policy):
    tok = policy.tokenizer
    kids = tuple(Rollout(policy.render(q), (_seg(tok, f"<answer>{a}</answer>", "policy"),))
                 for q, a in (("3*4=?", 12), ("5*6=?", 30)))
    segs = (_seg(tok, "<spawn>3*4=?</spawn><spawn>5*6=?</spawn><join>", "policy"),
            _seg(tok, "<result>12</result><result>30</result>", "env", kids),
            _seg(tok, "<answer>42</answer>", "policy"))
    return Rollout(policy.render(PROBLEM), segs)


def _batch(policy):
    tok = policy.tokenizer
    solo = "<answer>5</answer>"
    ids = tok.encode(solo, add_special_tokens=False)
    comps = [as_completion(policy, _tree(policy)), Completion(text=solo, token_ids=ids, num_tokens=len(ids))]
    return Batch(problems=[PROBLEM, SOLO], completions=comps, rewards=[1.0, 0.0], correct=[1.0, 0.0], parts={},
                 group_size=2)


def test_injected_tokens_are_masked_and_children_are_rows_of_their_own(tiny, load_live):
    _, tok, policy = load_live(tiny)
    batch = _batch(policy)
    tree = batch.completions[0]
    assert isinstance(tree, RolloutCompletion)
    # generated = the root's two turns and both children; the injected result tokens are not
    def n(text):
        return len(tok.encode(text, add_special_tokens=False))

    spawn, final, child = n("<spawn>3*4=?</spawn><spawn>5*6=?</spawn><join>"), n("<answer>42</answer>"), n("<answer>12</answer>")
    assert tree.num_tokens == spawn + final + 2 * child
    ids, attn, mask = build_tensors(policy, tok, batch, TrainConfig(model="x"))
    assert ids.shape[0] == 4  # root, child, child, then the single-turn completion
    assert row_owners(batch) == [0, 0, 0, 1]
    plen = len(tok.encode(policy.render(PROBLEM), add_special_tokens=False))
    injected = n("<result>12</result><result>30</result>")
    root = mask[0, plen - 1:plen - 1 + spawn + injected + final].tolist()
    assert root == [1.0] * spawn + [0.0] * injected + [1.0] * final
    assert mask[0].sum() == spawn + final
    # each child row: its own prompt, its generated answer trained
    cplen = len(tok.encode(policy.render("3*4=?"), add_special_tokens=False))
    assert tok.decode(ids[1, :cplen]) == policy.render("3*4=?")
    assert mask[1].sum() == child and mask[1, cplen - 1] == 1.0 and mask[1, : cplen - 1].sum() == 0


def test_a_childs_tokens_get_its_parents_advantage(tiny, load_live):
    """One update with the tree's root rewarded (+1) and the single-turn sample not (-1): the
    children's answers become more likely, as the root's own tokens do; nothing else moved them."""
    model, tok, policy = load_live(tiny)
    batch = _batch(policy)
    cfg = TrainConfig(model="x", lr=3e-3, warmup_steps=1, loss="dapo")
    tensors = build_tensors(policy, tok, batch, cfg)
    adv = torch.tensor([1.0, -1.0])[row_owners(batch)]
    assert adv.tolist() == [1.0, 1.0, 1.0, -1.0]

    def seq_logp():
        with torch.no_grad():
            return (token_logprobs(model, *tensors[:2], 1.0)[0] * tensors[2]).sum(1)

    before = seq_logp()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    step(model, opt, sched, tensors, adv, cfg)
    after = seq_logp()
    assert (after[:3] > before[:3]).all()  # root and both children pushed up
    assert after[3] < before[3]  # the negative sample pushed down


def test_subcalls_strategy_trains_end_to_end_on_the_tiny_model(tiny, tmp_path):
    from ponder.rl import check, run
    from ponder.runs import RunDir, read_jsonl

    cfg = TrainConfig(model=tiny, tasks=("sumprod",), levels=(1,), modes="subcalls", max_turns=2, steps=1,
                      prompts_per_step=2, group_size=2, max_new_tokens=24, out=str(tmp_path / "run"), save_every=0)
    check(cfg)
    run(cfg, RunDir.open("train", cfg.out, cfg), progress=False)
    (m,) = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert {"decompose_rate", "critical_path_tokens"} <= set(m)


def test_subcall_balanced_forces_half_of_each_group_to_spawn_and_credits_the_first_token():
    """Half of each group opens with a forced <spawn> (its children run), half with a forced <think>;
    the forced token's advantage is its half's mean reward against the group's."""
    import re

    import torch

    from ponder.policy.tokenizer import build_tokenizer
    from ponder.rl.modes import SubCallBalanced
    from ponder.types import Completion, Problem, Sampling

    class Either:
        """Scripted: spawns both parts after <spawn>, solves serially after <think>, answers a child."""

        tokenizer = build_tokenizer()

        def render(self, problem, suffix=""):
            return getattr(problem, "prompt", problem) + "\n" + suffix  # a child is rendered from its text

        def generate(self, prompts, n, sampling):
            return [[self._one(p) for _ in range(n)] for p in prompts]

        def _one(self, context):
            done = context.partition("\n")[2]
            results = re.findall(r"<result>(.*?)</result>", done)
            if results:
                text = f"<answer>{''.join(results)}</answer>"
            elif done.endswith("<spawn>"):
                text = "1>1</spawn><spawn>2>1</spawn><join>"
            elif done.endswith("<think>"):
                text = "x</think><answer>0</answer>"
            else:  # a child
                text = "<answer>8</answer>"
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            return Completion(text, ids, num_tokens=len(ids))

    cfg = TrainConfig(model="x", tasks=("chains",), modes="subcall_balanced", max_turns=2, group_size=4)
    modes = cfg.mode_strategy
    assert isinstance(modes, SubCallBalanced)
    comps = modes.rollout(Either(), [Problem(id="c", prompt="1>1,2>1", answer="89", task="chains", difficulty=1)], 4,
                          Sampling.to_answer(max_new_tokens=96), "")
    assert [len(c.rollout.children) for c in comps] == [2, 2, 0, 0]
    spawn, think = Either.tokenizer.convert_tokens_to_ids(["<spawn>", "<think>"])
    assert [c.token_ids[0] for c in comps] == [spawn, spawn, think, think]
    assert comps[2].text.startswith("<think>x</think>")
    adv = modes.advantages(torch.tensor([[1.0, 1.0, 0.0, 0.0]]), "group")
    assert adv.shape == (4, 2) and adv[0, 0] > 0 > adv[2, 0]  # the forced spawn is credited, the forced think not
    with pytest.raises(PonderError, match="even --group-size"):
        TrainConfig(model="x", tasks=("chains",), modes="subcall_balanced", group_size=3)


def test_under_spawn_balanced_groups_a_childs_first_token_is_credited_as_sampled(tiny, load_live, monkeypatch):
    """Only the root's first token was forced (`<spawn>`): a child's first token was sampled, so it
    takes the root's later-token advantage (column 1), not the forced token's credit (column 0,
    10x weighted and importance-weighted where negative, which drove the children's `<think>` out
    on easy prompts where splitting lost), and it keeps its KL term."""
    import copy

    from ponder.rl import losses, modes

    model, tok, policy = load_live(tiny)
    batch = _batch(policy)
    cfg = TrainConfig(model="x", tasks=("chains",), modes="subcall_balanced", max_turns=2, group_size=2, lr=0.0,
                      loss="dapo", beta=0.1)
    tensors = build_tensors(policy, tok, batch, cfg)
    assert tensors.forced.tolist() == [True, False, False, True]  # the tree's root, its two children, a solo row
    splits, kls = [], []
    real_split, real_loss = modes.first_token_split, losses.policy_loss

    def split(adv, mask, old, forced=None):
        out = real_split(adv, mask, old, forced)
        first = mask.argmax(1)
        splits.extend(zip(adv[:, 0].tolist(), out[torch.arange(len(out)), first].tolist()))
        return out

    def loss(logp, old, a, mask, **kw):
        rows, first = torch.arange(len(mask)), mask.argmax(1)
        kls.extend((kw["ref_logp"][rows, first] != logp.detach()[rows, first]).tolist())
        return real_loss(logp, old, a, mask, **kw)

    monkeypatch.setattr(modes, "first_token_split", split)
    monkeypatch.setattr(losses, "policy_loss", loss)
    ref = copy.deepcopy(model)
    with torch.no_grad():
        torch.manual_seed(0)
        for w in ref.parameters():
            w.add_(0.05 * torch.randn_like(w))
    adv = torch.tensor([[-10.0, 1.0], [5.0, -1.0]])[row_owners(batch)]  # the tree lost its mode; its answer won
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)
    step(model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), tensors, adv, cfg, ref_model=ref)
    tree_firsts = sorted(v for a0, v in splits if a0 == -10.0)
    assert len(tree_firsts) == 3
    assert tree_firsts[0] < 0 and tree_firsts[1:] == [1.0, 1.0]  # the root's forced token (weighted); both children: column 1
    assert sorted(kls) == [False, False, True, True]  # KL skipped at the two forced tokens only
