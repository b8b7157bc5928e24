"""The multi-turn rollout (ponder.rollout): control flow with a scripted policy, then the real
tiny model on the hf backend."""

from __future__ import annotations

import re


from ponder.rollout import Limits, Rollout, Segment, SubCalls, run_multiturn
from ponder.types import Completion, Sampling

SAMPLING = Sampling.to_answer(temperature=0.0, max_new_tokens=96)


class Scripted:
    """A policy that decomposes every sum of products and answers products directly; one token
    per character (ids = ord), so token counts are character counts. Records every generate call."""

    class tokenizer:  # noqa: N801 - a character tokenizer: id = ord
        encode = staticmethod(lambda text, add_special_tokens=False: [ord(c) for c in text])
        decode = staticmethod(lambda ids, skip_special_tokens=True: "".join(map(chr, ids)))

    def __init__(self, spawn_forever: bool = False):
        self.calls: list[list[str]] = []
        self.spawn_forever = spawn_forever

    def render(self, problem, suffix=""):
        return (problem if isinstance(problem, str) else problem.prompt) + "\n" + suffix

    def generate(self, prompts, n, sampling):
        self.calls.append(list(prompts))
        return [[self._one(p, sampling) for _ in range(n)] for p in prompts]

    def _one(self, context, sampling):
        prompt, _, done = context.partition("\n")
        if "+" not in prompt:  # a product: answer it
            a, b = map(int, prompt.rstrip("=?").split("*"))
            text = f"<answer>{a * b}</answer>"
        elif "<result>" in done and not self.spawn_forever:
            total = sum(int(x) for x in re.findall(r"<result>(\d+)</result>", done))
            text = f"<think>sum</think><answer>{total}</answer>"
        else:
            parts = prompt.rstrip("=?").split("+")
            text = "".join(f"<spawn>{p}=?</spawn>" for p in parts) + "<join>"
        if len(text) > sampling.max_new_tokens:
            return Completion(text[: sampling.max_new_tokens], [ord(c) for c in text[: sampling.max_new_tokens]],
                              finish_reason="length", num_tokens=sampling.max_new_tokens)
        return Completion(text, [ord(c) for c in text], num_tokens=len(text))


def test_subcalls_run_in_one_batched_generate_and_results_come_back_in_order():
    policy = Scripted()
    prompts = [policy.render("3*4+5*6=?"), policy.render("2*7+1*9+3*3=?")]
    rs = run_multiturn(policy, prompts, SubCalls(), SAMPLING, Limits())
    # parents, then ALL five children of both parents in one call, then both parents continue
    assert [len(c) for c in policy.calls] == [2, 5, 2]
    assert policy.calls[1] == ["3*4=?\n", "5*6=?\n", "2*7=?\n", "1*9=?\n", "3*3=?\n"]
    r = rs[0]
    assert [s.source for s in r.segments] == ["policy", "env", "policy"]
    assert r.segments[1].text == "<result>12</result><result>30</result>"
    assert r.text.endswith("<answer>42</answer>") and rs[1].text.endswith("<answer>32</answer>")
    assert r.finish_reason == "stop" and r.turns == 2 and r.calls == 1
    assert [c.text for c in r.children] == ["<answer>12</answer>", "<answer>30</answer>"]


def test_token_accounting_masks_injected_tokens_and_measures_the_critical_path():
    policy = Scripted()
    r = run_multiturn(policy, [policy.render("3*4+5*6=?")], SubCalls(), SAMPLING, Limits())[0]
    spawn = len("<spawn>3*4=?</spawn><spawn>5*6=?</spawn><join>")
    final = len("<think>sum</think><answer>42</answer>")
    child = len("<answer>12</answer>")
    assert r.own_tokens == spawn + final
    assert r.generated_tokens == spawn + final + 2 * child  # injected <result>s are not generated
    assert r.critical_path_tokens == spawn + child + final  # children run in parallel: the longest one
    mask = r.loss_mask()
    assert len(mask) == len(r.token_ids) == spawn + len(r.segments[1].text) + final
    assert mask == [1] * spawn + [0] * len(r.segments[1].text) + [1] * final


def test_a_rollout_stops_at_its_turn_limit_and_its_token_limit():
    policy = Scripted(spawn_forever=True)
    r = run_multiturn(policy, [policy.render("3*4+5*6=?")], SubCalls(), SAMPLING, Limits(max_turns=2))[0]
    assert r.finish_reason == "turns" and r.turns == 2 and r.calls == 1
    r = run_multiturn(Scripted(), [policy.render("3*4+5*6=?")], SubCalls(), SAMPLING, Limits(max_tokens=60))[0]
    assert r.finish_reason == "length" and len(r.token_ids) <= 60


def test_without_an_environment_it_is_a_single_turn_rollout():
    policy = Scripted()
    rs = run_multiturn(policy, [policy.render("3*4=?")], None, SAMPLING, n=3)
    assert len(rs) == 3 and len(policy.calls) == 1
    assert all(r.segments == (Segment("<answer>12</answer>", tuple(map(ord, "<answer>12</answer>")), "policy"),) for r in rs)


def test_a_join_without_spawns_injects_nothing_and_the_policy_goes_on():
    class Lazy(Scripted):
        def _one(self, context, sampling):
            text = "<answer>1</answer>" if context.endswith("<join>") else "<join>"
            return Completion(text, [ord(c) for c in text], num_tokens=len(text))

    r = run_multiturn(Lazy(), ["x\n"], SubCalls(), SAMPLING)[0]
    assert [s.text for s in r.segments] == ["<join>", "", "<answer>1</answer>"] and r.children == ()


def test_rollout_critical_path_takes_the_longest_child_per_join():
    def leaf(n):
        return Rollout("p", (Segment("x" * n, tuple(range(n)), "policy"),))

    join1 = Segment("r", (0,), "env", children=(leaf(3), leaf(7)))
    join2 = Segment("r", (0,), "env", children=(leaf(5),))
    r = Rollout("p", (Segment("aa", (1, 2), "policy"), join1, Segment("b", (3,), "policy"), join2))
    assert r.critical_path_tokens == 2 + 7 + 1 + 5
    assert r.generated_tokens == 3 + 3 + 7 + 5
    assert [len(d.token_ids) for d in r.descendants()] == [3, 7, 5]


class EveryDigitCalls(SubCalls):
    """Real-model test environment: any digit the untrained model writes is a call for two sub-problems."""

    def parse(self, text):
        return ["1+1=?", "2*3=?"] if text and text[-1].isdigit() else None


def test_multiturn_on_the_tiny_hf_model(tiny_model):
    from ponder.policy import load_policy

    policy = load_policy(str(tiny_model))
    env = EveryDigitCalls(stop=tuple("0123456789"))
    sampling = Sampling.to_answer(temperature=1.0, max_new_tokens=24, seed=3)
    rs = run_multiturn(policy, [policy.render("3*4+5*6=?"), policy.render("7*8=?")], env, sampling,
                       Limits(max_turns=3, max_tokens=80), n=2)
    assert len(rs) == 4
    assert any(r.children for r in rs), "the untrained model should write a digit somewhere"
    for r in rs:
        assert len(r.loss_mask()) == len(r.token_ids) <= 80
        for s in r.segments:
            if s.source == "env":  # injected text is the results, encoded by the policy's tokenizer
                assert len(s.children) == 2 and s.text.count("<result>") == 2
                assert list(s.token_ids) == policy.tokenizer.encode(s.text, add_special_tokens=False)
        # the character tokenizer: continuing from text is continuing from exactly the sampled ids
        body = [t for t in r.token_ids if t not in policy.eos_ids]
        assert policy.tokenizer.decode(body, skip_special_tokens=True) == r.text


def test_multiturn_against_the_openai_backend_runs_subcalls_concurrently():
    """The openai backend on a loopback server: the two sub-calls are in flight together, the
    stop marker the server cuts is put back, and the parent continues from its results."""

    from test_openai_client import ScriptedServer

    from ponder.policy.openai import OpenAIPolicy

    import threading

    both = threading.Barrier(2, timeout=10)

    class Server(ScriptedServer):
        def answer(self, h, step, body):
            prompt = body["prompt"]
            if "<result>" in prompt:
                text, stop = "<answer>14</answer>", "</answer>"
            elif "+" in prompt:
                text, stop = "<spawn>1*2=?</spawn><spawn>3*4=?</spawn><join>", "<join>"
            else:
                # A sub-call answers once the other is in flight too (however loaded the
                # machine); were they sent one after the other, the first waits 10 s, alone.
                try:
                    both.wait()
                except threading.BrokenBarrierError:
                    pass
                a, b = map(int, prompt.split("=")[0].split("*"))
                text, stop = f"<answer>{a * b}</answer>", "</answer>"
            choice = {"index": 0, "finish_reason": "stop", "text": text[: -len(stop)], "stop_reason": stop}
            self.reply(h, {"id": "x", "choices": [choice], "usage": {"prompt_tokens": 1, "completion_tokens": 5}})

    with Server() as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, concurrency=4)
        [r] = run_multiturn(policy, [policy.render("1*2+3*4=?")], SubCalls(), SAMPLING, Limits())
    assert [s.source for s in r.segments] == ["policy", "env", "policy"]
    assert r.segments[1].text == "<result>2</result><result>12</result>"
    assert r.text.endswith("<answer>14</answer>") and srv.max_in_flight == 2
    assert [q["stop"] for q in srv.requests[:1]] == [["</answer>", "<join>"]]
