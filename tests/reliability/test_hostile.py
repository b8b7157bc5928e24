"""Hostile completions through every verifier that executes or parses model text.

Families: `code` (runs the answer in the sandbox), `countdown` (parses an expression), a math
file dataset (math-verify parses LaTeX / sympy), and reasoning-gym's scorers that evaluate the
answer (`eval` or sympy's `parse_expr`; see ponder.tasks.rg_guard). Each hostile item is one
call; after it: nothing escaped (hostile.World.escapes), no process of a sandbox uid outlives
it, the item came back within its bound, and the same pool (or rg scoring server) scores the
next, honest item correctly. Counts go to $PONDER_RELIABILITY_LOG for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from hostile import (
    World,
    expression_payloads,
    procs_of_uids_from,
    python_payloads,
    secret_payloads,
    wait_no_new_procs,
)
from killpoints import loadavg

from ponder.tasks import get_task
from ponder.types import Problem

pytestmark = pytest.mark.reliability

POOL_TIMEOUT_S = 5.0
SLACK_S = 15.0  # a shared 2-core machine under load: process start-up and teardown on top of the limit


def _uid_base() -> int:
    from ponder.verify.sandbox import UID_BASE

    return UID_BASE


def _answer(text: str) -> str:
    return f"<think>x</think><answer>{text}</answer>"


class Tally:
    def __init__(self, family):
        self.family, self.tried, self.contained, self.failures, self.slowest = family, 0, 0, [], 0.0

    def check(self, name, world, score_fn, hostile, good, bound_s, secret=False):
        """Score `hostile`, then `good`; count the item contained if nothing got out."""
        before = procs_of_uids_from(_uid_base())
        t0 = time.perf_counter()
        try:
            score = score_fn(*hostile)
            error = None
        except Exception as e:  # noqa: BLE001 - a verifier that raises is a finding, counted
            score, error = None, f"{type(e).__name__}: {e}"
        dt = time.perf_counter() - t0
        self.slowest = max(self.slowest, dt)
        problems = world.escapes()
        if error:
            problems.append(f"raised {error}")
        if secret and score:
            problems.append(f"read the secret (score {score})")
        if dt > bound_s:
            problems.append(f"took {dt:.1f}s > {bound_s:.0f}s")
        left = wait_no_new_procs(before, _uid_base())
        if left:
            problems.append(f"left {len(left)} sandbox processes running")
        if score_fn(*good) != 1.0:
            problems.append("the next honest item did not score 1.0")
        self.tried += 1
        if problems:
            self.failures.append(f"{self.family}/{name}: {'; '.join(problems)}")
        else:
            self.contained += 1
        world.cleanup()

    def record(self):
        path = os.environ.get("PONDER_RELIABILITY_LOG")
        if path:
            with open(path, "a") as fh:
                fh.write(json.dumps({"fault": f"hostile completions: {self.family}", "tried": self.tried,
                                     "contained": self.contained, "slowest_s": round(self.slowest, 2),
                                     "failures": self.failures,
                                     "loadavg": loadavg()}) + "\n")
        assert not self.failures, self.failures
        assert self.tried and self.contained == self.tried


@pytest.fixture
def world(tmp_path):
    with World(tmp_path) as w:
        yield w


@pytest.fixture(scope="module")
def pool():
    from ponder.verify import VerifierPool

    with VerifierPool(workers=1, timeout_s=POOL_TIMEOUT_S) as p:
        yield p


def _pool_score(pool):
    return lambda problem, completion: pool.map([problem], [completion])[0]


def test_code_task_contains_hostile_programs(world, pool):
    task = get_task("code")
    good = task.sample(1, 1, seed=0)[0]
    honest = (good, task.oracle(good))
    tally = Tally("code")
    score = _pool_score(pool)
    for name, src in python_payloads(world).items():
        tally.check(name, world, score, (good, _answer(src + "\ndef f(x):\n    return 0\n")), honest,
                    POOL_TIMEOUT_S + SLACK_S)
        # the same payload inside the function the hidden tests call
        body = "\n".join("    " + line for line in src.splitlines())
        tally.check(name + "_in_f", world, score, (good, _answer(f"def f(x):\n{body}\n    return 0\n")), honest,
                    POOL_TIMEOUT_S + SLACK_S)
    for name, src in secret_payloads(world).items():
        probe = Problem(id="code/secret", task="code", prompt="", answer="", difficulty=1,
                        meta={**good.meta, "tests": [[[0], world.secret]]})
        tally.check(name, world, score, (probe, _answer(src)), honest, POOL_TIMEOUT_S + SLACK_S, secret=True)
    tally.record()


def _text_payloads(world) -> dict[str, str]:
    return {**expression_payloads(world), **python_payloads(world)}


def test_countdown_parser_contains_hostile_expressions(world, pool):
    task = get_task("countdown")
    good = task.sample(1, 2, seed=0)[0]
    tally = Tally("countdown")
    for name, text in _text_payloads(world).items():
        tally.check(name, world, _pool_score(pool), (good, _answer(text)), (good, task.oracle(good)),
                    POOL_TIMEOUT_S + SLACK_S)
    tally.record()


def test_math_verify_contains_hostile_answers(world, pool, tmp_path):
    data = tmp_path / "math.jsonl"
    data.write_text(json.dumps({"prompt": "What is 46%?", "answer": "\\frac{1}{2}"}) + "\n")
    task = get_task(f"file:{data}")
    good = task.sample(1, 1, seed=0)[0]
    tally = Tally("math (file dataset, math-verify)")
    for name, text in _text_payloads(world).items():
        tally.check(name, world, _pool_score(pool), (good, _answer(text)), (good, _answer("0.5")),
                    POOL_TIMEOUT_S + SLACK_S)
    tally.record()


# reasoning-gym datasets whose scorers evaluate the answer (ponder.tasks.rg_guard): sympy ones
# first, then those that `eval` it
RG_EVALUATING = ("countdown", "puzzle24", "simple_integration", "intermediate_integration",
                 "polynomial_multiplication", "n_queens", "spiral_matrix", "binary_matrix", "string_insertion")


@pytest.mark.parametrize("dataset", RG_EVALUATING)
def test_reasoning_gym_scorers_contain_hostile_answers(world, dataset):
    pytest.importorskip("reasoning_gym")
    from ponder.tasks.rg_score import ITEM_TIMEOUT_S

    task = get_task(f"rg/{dataset}")
    good = task.sample(1, 1, seed=0)[0]
    honest = (good, task.oracle(good))
    def score(problem, completion):
        return task.verify(completion, problem)

    assert score(*honest) == 1.0  # warms the scoring server
    tally = Tally(f"rg/{dataset}")
    for name, text in _text_payloads(world).items():
        tally.check(name, world, score, (good, _answer(text)), honest, ITEM_TIMEOUT_S + SLACK_S)
    tally.record()


# -- tool calls: the sandboxed `python` tool and `calc`, through the tools runtime (ponder.tools.Tools)
TOOL_TIMEOUT_S = 10.0  # the runtime's wall clock per call; the python tool's sandbox stops at 5 s itself


def test_tools_runtime_contains_hostile_calls(world):
    """Every payload as a tool call through one `Tools` environment (python and calc): nothing
    escapes, no sandbox process outlives the call, the secret never shows in a result, each call
    ends within its bound, and the same environment answers the next honest call correctly.
    The input cap is raised so the deep and long payloads reach the tools instead of being
    refused as too_long (that path has its own test in tests/test_tools.py)."""
    from ponder.tools import Tools

    env = Tools.from_spec("python,calc", timeout_s=TOOL_TIMEOUT_S, max_input_chars=300_000, max_output_chars=4096)

    def score(raw: str, want: str | None = None) -> float:
        """An honest call: 1.0 when its result is `want`. A hostile one: 1.0 when its result shows
        the secret (Tally counts that as an escape)."""
        out = env.call(raw).output
        return float(out == want) if want is not None else float(world.secret in out)

    py = ('<tool name="python">print(6 * 7)</tool>', "42")
    calc = ('<tool name="calc">6*7</tool>', "42")
    tally = Tally("tools (python, calc)")
    bound = TOOL_TIMEOUT_S + SLACK_S
    secrets = {name: src.replace("def f(x):", "def f(x=None):") + "\nprint(f())"
               for name, src in secret_payloads(world).items()}
    for name, src in {**python_payloads(world), **secrets}.items():
        tally.check(f"python/{name}", world, score, (f'<tool name="python">{src}</tool>',), py, bound, secret=True)
    for name, text in _text_payloads(world).items():
        tally.check(f"calc/{name}", world, score, (f'<tool name="calc">{text}</tool>',), calc, bound, secret=True)
    tally.record()
