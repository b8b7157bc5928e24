"""Each reward by hand, on the real tasks and verifier."""

import time

import pytest

from ponder.errors import PonderError
from ponder.rewards import combine, parse_spec
from ponder.rewards import (correct, format_reward, kimi_length, l1_exact, l1_max, nothink, overlong,
                            plan_format, with_budget)
from ponder.rewards.adapters import trl_reward, verl_compute_score
from ponder.rewards.calibration import budget_suffix
from ponder.types import Completion, Problem


def arith(pid="p1", answer="5", prompt="2+3=?"):
    return Problem(id=pid, task="arith", prompt=prompt, answer=answer, difficulty=1)


def comp(text, n=None):
    return Completion(text=text, num_tokens=len(text) if n is None else n)


def test_correct_and_format():
    p = arith()
    ys = ["<answer>5</answer>", "<think>2+3=5</think><answer>5</answer>", "<answer>6</answer>", "5"]
    assert correct([p] * 4, ys) == [1.0, 1.0, 0.0, 0.0]
    assert format_reward([p] * 4, ys) == [1.0, 1.0, 1.0, 0.0]


def test_kimi_length_group_penalty_by_hand():
    p, q = arith("p1"), arith("p2", answer="7", prompt="3+4=?")
    # group p1: lengths 10 (correct), 20 (correct), 30 (wrong); min 10, max 30
    #   lambda = 0.5 - (len-10)/20 = 0.5, 0.0, -0.5 -> correct: 0.5, 0.0; wrong: min(0, -0.5) = -0.5
    # group p2: one short wrong sample, lambda 0.5 -> min(0, 0.5) = 0; one long correct, lambda -0.5
    ys = [comp("<answer>5</answer>", 10), comp("<answer>5</answer>", 20), comp("<answer>4</answer>", 30),
          comp("<answer>1</answer>", 5), comp("<answer>7</answer>", 15)]
    assert kimi_length([p, p, p, q, q], ys) == pytest.approx([0.5, 0.0, -0.5, 0.0, -0.5])
    # equal lengths: lambda 0 for everyone
    assert kimi_length([p, p], [comp("<answer>5</answer>", 8), comp("<answer>3</answer>", 8)]) == [0.0, 0.0]


def test_l1_budget_rewards_by_hand():
    p = with_budget(arith(), 100, "exact")
    assert p.prompt == "2+3=? Think for 100 tokens." and p.meta["budget"] == 100
    ys = [comp("<answer>5</answer>", 60), comp("<answer>4</answer>", 100)]
    # exact: 1 - 3e-4 * |100 - 60| = 0.988 ; wrong at budget: 0 - 0 = 0
    assert l1_exact([p, p], ys) == pytest.approx([0.988, 0.0])
    # max: 1 * clip(3e-4 * (100 - 60) + 0.5, 0, 1) = 0.512 ; wrong -> 0
    assert l1_max([p, p], ys) == pytest.approx([0.512, 0.0])
    # far over budget: clip(3e-4 * (100 - 5000) + 0.5) = clip(-0.97) = 0
    assert l1_max([p], [comp("<answer>5</answer>", 5000)]) == [0.0]
    assert budget_suffix(50, "max") == " Think for maximum 50 tokens."
    assert budget_suffix(50, "think") == " Think for at most 50 tokens."
    with pytest.raises(PonderError, match="no token budget"):
        l1_exact([arith()], ys[:1])


def test_overlong_dapo_by_hand():
    p = arith()
    # L_max 100, cache 20 -> free up to 80; 90 tokens: (80 - 90)/20 = -0.5; 100: -1.0; 101: -1
    ys = [comp("x", 80), comp("x", 90), comp("x", 100), comp("x", 101)]
    assert overlong([p] * 4, ys, max_len=100, cache=20) == pytest.approx([0.0, -0.5, -1.0, -1.0])


def test_nospawn_bonus_only_when_correct_and_unsplit():
    from ponder.rewards import nospawn

    p = Problem(id="c", task="chains", prompt="4>5,2>3", answer="93", difficulty=1, meta={"chains": [[4, 5], [2, 3]]})
    split = "<spawn>4>5</spawn><spawn>2>3</spawn><join><result>9</result><result>3</result><answer>93</answer>"
    ys = ["<think>5:4,4:1,3:8,2:5,1:2,0:9;3:2,2:9,1:6,0:3</think><answer>93</answer>", split, "<answer>39</answer>"]
    assert nospawn([p] * 3, ys) == [1.0, 0.0, 0.0]


def test_nothink_bonus_only_when_correct():
    p = arith()
    ys = ["<answer>5</answer>", "<answer>6</answer>", "<think>2+3=5</think><answer>5</answer>"]
    assert nothink([p] * 3, ys) == [1.0, 0.0, 0.0]


def test_plan_format():
    p = arith()
    ys = ["<plan>add</plan><answer>5</answer>", "<answer>5</answer>", "<plan></plan><answer>5</answer>"]
    assert plan_format([p] * 3, ys) == [1.0, 0.0, 0.0]


def test_combined_spec_weights():
    p = arith()
    ys = [comp("<answer>5</answer>", 10), comp("<think>2+3=5</think><answer>5</answer>", 30)]
    totals, parts = combine("correct:1,kimi_length:0.5,nothink:0.25")([p, p], ys)
    # short: 1 + 0.5*0.5 + 0.25*1 = 1.5 ; long: 1 + 0.5*(-0.5) + 0 = 0.75
    assert totals == pytest.approx([1.5, 0.75])
    assert parts["kimi_length"] == pytest.approx([0.5, -0.5])
    assert parse_spec("correct, format:0.1") == [("correct", 1.0), ("format", 0.1)]
    with pytest.raises(PonderError, match="unknown reward 'corect'; did you mean correct"):
        parse_spec("corect:1")
    with pytest.raises(PonderError, match="must be a number"):
        parse_spec("correct:x")


def test_trl_adapter_signature():
    fn = trl_reward("correct:1,kimi_length:1")
    # TRL passes prompts, completions and the dataset columns as keyword lists
    out = fn(prompts=["2+3=?"] * 2, completions=["<answer>5</answer>", [{"role": "assistant", "content": "<answer>9</answer>"}]],
             id=["p1", "p1"], task=["arith", "arith"], answer=["5", "5"], difficulty=[1, 1], meta=["{}", "{}"],
             completion_ids=[[0] * 4, [0] * 8])
    # lengths 4 and 8: lambda 0.5 (correct -> 1.5), -0.5 (wrong -> min(0, -0.5) = -0.5)
    assert out == pytest.approx([1.5, -0.5])
    assert fn.__name__ == "ponder_correct_kimi_length"


def test_verl_adapter_signature():
    score = verl_compute_score("correct:1,format:0.5")
    assert score("ponder/arith", "<answer>5</answer>", "5", {"difficulty": 1}) == 1.5
    assert score("arith", "5", "5", None) == 0.0
    p = arith()
    assert score("whatever", "<answer>5</answer>", "5", {"problem": p.to_dict()}) == 1.5
    # verl calls with keywords and merges its reward_kwargs (and, in its reward loop, fields of its own) in
    assert score(data_source="ponder/arith", solution_str="<answer>5</answer>", ground_truth="5",
                 extra_info={"num_turns": None}, reward_router_address=None) == 1.5


def test_verl_module_entry_points_take_the_spec_from_reward_kwargs():
    from ponder.rewards.adapters import compute_score, compute_score_batch

    call = dict(data_source="ponder/arith", solution_str="<answer>5</answer>", ground_truth="5", extra_info={"id": "a"})
    assert compute_score(**call) == 1.0  # correctness alone by default
    assert compute_score(**call, reward="correct:1,format:0.5", reward_router_address=None) == 1.5
    with pytest.raises(PonderError, match="unknown reward"):
        compute_score(**call, reward="corect")
    # the batch form sees whole groups: Kimi's length penalty works there (one sample alone gets 0)
    texts = ["<answer>5</answer>", "<think>2+3=5</think><answer>5</answer>"]
    out = compute_score_batch(data_sources=["ponder/arith"] * 2, solution_strs=texts, ground_truths=["5", "5"],
                              extra_infos=[{"id": "g"}, {"id": "g"}], reward="kimi_length:1")
    assert out == pytest.approx([0.5, -0.5])
    assert compute_score(**{**call, "solution_str": texts[0]}, reward="kimi_length:1") == 0.0


def test_trl_ready_made_reward_functions():
    """`trl grpo --reward_funcs ponder.rewards.adapters.<name>` imports a module attribute and calls it."""
    import importlib

    from ponder.rewards import BUILTIN_REWARDS

    module = importlib.import_module("ponder.rewards.adapters")
    for name in BUILTIN_REWARDS:
        fn = getattr(module, name)
        assert callable(fn) and fn.__name__ == f"ponder_{name}", name
    columns = dict(id=["p1", "p1"], task=["arith"] * 2, answer=["5", "5"], difficulty=[1, 1], meta=["{}", "{}"])
    # TRL adds keywords of its own (trainer_state, log_extra, log_metric): they are ignored
    extra = dict(trainer_state=None, log_extra=lambda *a: None, log_metric=lambda *a: None)
    completions = ["<answer>5</answer>", "<think>2+3=5</think><answer>5</answer>"]
    assert module.correct(prompts=["2+3=?\n"] * 2, completions=completions, completion_ids=[[0] * 3, [0] * 9],
                          **columns, **extra) == [1.0, 1.0]
    assert module.nothink(prompts=["2+3=?\n"] * 2, completions=completions, completion_ids=None,
                          **columns, **extra) == [1.0, 0.0]
    assert module.format(prompts=None, completions=["<answer>5</answer>", "5"], **columns) == [1.0, 0.0]


def test_register_reward_makes_a_name_usable_in_specs():
    from ponder.rewards import REWARDS, register_reward
    from ponder.rewards.base import text_of

    try:
        @register_reward("_test_short")
        def short(problems, completions, *, limit=20):
            return [float(len(text_of(c)) < limit) for c in completions]

        register_reward("_test_long", lambda problems, completions: [float(len(text_of(c)) >= 20) for c in completions])
        p = arith()
        ys = ["<answer>5</answer>", "<think>2+3=5</think><answer>5</answer>"]
        totals, parts = combine("correct:1,_test_short:0.5,_test_long:0.25")([p, p], ys)
        assert parts == {"correct": [1.0, 1.0], "_test_short": [1.0, 0.0], "_test_long": [0.0, 1.0]}
        assert totals == [1.5, 1.25]
        # parameters reach a registered reward like a built-in one
        assert combine("_test_short", params={"_test_short": {"limit": 100}})([p, p], ys)[0] == [1.0, 1.0]
        assert trl_reward("_test_short")(prompts=None, completions=ys, id=["a", "a"], task=["arith"] * 2,
                                         answer=["5", "5"]) == [1.0, 0.0]
        with pytest.raises(ValueError, match="already registered"):
            register_reward("_test_short", short)
        with pytest.raises(ValueError, match="already registered"):
            register_reward("correct", short)  # a built-in cannot be replaced by accident
    finally:
        REWARDS.unregister("_test_short")
        REWARDS.unregister("_test_long")
    with pytest.raises(PonderError, match="unknown reward '_test_short'"):
        parse_spec("_test_short")


def test_trace_partial_credit_by_hand():
    from ponder.rewards import trace
    from ponder.rewards.calibration import trace_prefix
    from ponder.tasks import get_task

    task = get_task("arith")
    p = next(q for q in task.sample(20, 3, seed=0) if len(task.trace_values(q)) == 3)
    v1, v2, v3 = task.trace_values(p)  # running sums; v3 is the answer
    assert trace_prefix(f"a={v1};b={v2};c=0", [v1, v2, v3]) == 2
    assert trace_prefix(f"b={v2};a={v1}", [v1, v2, v3]) == 1  # order matters: v2 must follow v1
    assert trace_prefix(f"a={v1}7", [v1]) == 0  # a longer number is not a match
    wrong = "999999"
    ys = [f"<think>x={v1};y={v2};z=1</think><answer>{wrong}</answer>",  # 2 of 3 steps, wrong -> 2/3
          f"<think>x={v1}</think><answer>{wrong}</answer>",  # 1 of 3 -> 1/3
          f"<answer>{wrong}</answer>",  # no work shown -> 0
          task.oracle(p)]  # right answer: correctness pays, not this -> 0
    assert trace([p] * 4, ys) == pytest.approx([2 / 3, 1 / 3, 0.0, 0.0])


class _YieldingStr(str):
    """A str whose comparisons sleep(0), so another thread can run in the middle of a cache lookup."""

    __hash__ = str.__hash__

    def __eq__(self, other):
        time.sleep(0)
        return str.__eq__(self, other)

    def __ne__(self, other):
        time.sleep(0)
        return str.__ne__(self, other)


def test_correctness_cache_is_thread_safe(monkeypatch):
    """Threads scoring different batches at once (verl scores samples in a thread pool) each get
    their own batch's scores, never another thread's cached ones."""
    import threading

    import ponder.verify

    calls = []

    def fake_verify(problems, texts):  # the score of a text is its number: distinct per batch
        calls.append(len(texts))
        return [float(t) for t in texts]

    monkeypatch.setattr(ponder.verify, "verify_batch", fake_verify)
    from ponder.rewards.base import correctness_scores

    errors = []

    def worker(k):
        texts = [str(k), str(k + 1000), str(k + 2000)]
        for _ in range(300):
            problems = [arith(_YieldingStr(f"t{k}"))] * 3  # a fresh id each time: compared, not identical
            got = correctness_scores(problems, texts)
            if got != [float(k), float(k + 1000), float(k + 2000)]:
                errors.append((k, got))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    # one thread asking for the same batch twice in a row (several rewards of one spec) verifies once
    calls.clear()
    batch = ([arith("solo")] * 2, ["1", "2"])
    assert correctness_scores(*batch) == correctness_scores(*batch) == [1.0, 2.0]
    assert calls == [2]
