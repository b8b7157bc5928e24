"""reasoning-gym adapter: the task contract over a sample of rg datasets, and hostile answers
scored safely in the sandbox. Needs the gym extra (pip install 'ponder[gym]'): -m gym."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

pytest.importorskip("reasoning_gym")
pytestmark = pytest.mark.gym

from ponder.errors import PonderError  # noqa: E402
from ponder.tasks import get_task  # noqa: E402
from ponder.tasks.gym import dataset_names, rg_level, scorer  # noqa: E402
from ponder.types import Problem  # noqa: E402
from ponder.verify import verify_batch  # noqa: E402

# scorers that compare strings, parse numbers, eval (n_queens, countdown, puzzle24, spiral_matrix)
SAMPLE = ["chain_sum", "countdown", "n_queens", "puzzle24", "spell_backward", "basic_arithmetic", "spiral_matrix", "gsm_symbolic"]


def test_every_rg_dataset_is_a_task():
    names = dataset_names()
    assert len(names) > 90
    for name in names:
        assert get_task(f"rg/{name}").levels in ((1,), (1, 2, 3, 4, 5))


def test_tasks_list_shows_every_dataset_under_its_heading():
    r = subprocess.run([sys.executable, "-m", "ponder", "tasks", "list"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    heading, *rows = r.stdout.partition("\n\n")[2].splitlines()
    assert heading.startswith("reasoning-gym tasks") and rows == [f"  rg/{name}" for name in dataset_names()]


def test_level_mapping_spreads_ponder_levels_over_rg_levels():
    assert [rg_level(d, 4) for d in range(1, 6)] == [0, 1, 2, 2, 3]  # hand-computed ((d-1)*3+2)//4
    assert [rg_level(d, 5) for d in range(1, 6)] == [0, 1, 2, 3, 4]
    assert [rg_level(d, 1) for d in range(1, 6)] == [0, 0, 0, 0, 0]


@pytest.mark.parametrize("name", SAMPLE)
def test_contract(name):
    task = get_task(f"rg/{name}")
    for d in (task.levels[0], task.levels[-1]):
        problems = task.sample(2, d, seed=0)
        assert problems == task.sample(2, d, seed=0)  # deterministic
        for p in problems:
            assert Problem.from_json(p.to_json()) == p
            assert task.verify(task.oracle(p), p) == 1.0
            assert task.verify("", p) == 0.0
            assert task.verify("<answer></answer>", p) == 0.0
            assert task.verify("<think>" + task.oracle(p) + "</think>", p) == 0.0  # answer in think
            s = get_task(f"rg/{name}?partial=1").verify("<answer>zzz</answer>", p)
            assert 0.0 <= s < 1.0


def test_generation_identical_across_processes():
    code = ("import json; from ponder.tasks import get_task; t = get_task('rg/countdown'); "
            "print(json.dumps([p.to_dict() for p in t.sample(3, 4, seed=5)]))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("1", "2")}
    assert len(outs) == 1
    assert json.loads(outs.pop()) == [p.to_dict() for p in get_task("rg/countdown").sample(3, 4, seed=5)]


def test_partial_credit_is_opt_in():
    p = get_task("rg/countdown").sample(1, 1, seed=0)[0]
    wrong = "<answer>1 + 2</answer>"  # parses, uses the wrong numbers: rg gives 0.05
    assert get_task("rg/countdown").verify(wrong, p) == 0.0
    assert get_task("rg/countdown?partial=1").verify(wrong, p) == pytest.approx(0.05)


def test_unknown_dataset_and_option():
    with pytest.raises(PonderError, match="did you mean rg/countdown"):
        get_task("rg/countdwn")
    with pytest.raises(PonderError, match="unknown"):
        get_task("rg/countdown?colour=red")


def test_hostile_answers_are_scored_in_the_sandbox():
    tag = uuid.uuid4().hex
    p = get_task("rg/n_queens").sample(1, 1, seed=0)[0]  # its scorer eval()s the answer
    rg = p.meta["rg"]
    target = f"/tmp/ponder-pwned-{tag}"
    hostile = [
        f"__import__('os').system('touch {target}')",
        f"open('{target}', 'w').write('x')",
        f"open('/work/ponder-pwned-{tag}', 'w').write('x')",
        "__import__('os').kill(1, 9)",  # PID 1 of the sandbox is the scoring server
    ]
    for h in hostile:
        assert scorer().score(rg["dataset"], rg["difficulty"], rg["seed"], rg["index"], h) == 0.0
    assert not os.path.exists(target) and not os.path.exists(f"/work/ponder-pwned-{tag}")
    t0 = time.monotonic()
    assert scorer().score(rg["dataset"], rg["difficulty"], rg["seed"], rg["index"], "[0 for _ in iter(int, 1)]", timeout_s=1.0) == 0.0
    assert time.monotonic() - t0 < 8.0
    # the scorer carries on (restarting its server if needed), and this process is unharmed
    assert get_task("rg/n_queens").verify(get_task("rg/n_queens").oracle(p), p) == 1.0


def test_hostile_countdown_answer_scores_zero():
    task = get_task("rg/countdown")
    p = task.sample(1, 2, seed=0)[0]
    tag = uuid.uuid4().hex
    bad = f"<answer>__import__('os').system('touch /tmp/ponder-pwned-{tag}')</answer>"
    assert task.verify(bad, p) == 0.0
    rg = p.meta["rg"]  # straight to rg's scorer (past ponder's arithmetic-only filter): still contained
    assert scorer().score(rg["dataset"], rg["difficulty"], rg["seed"], rg["index"], bad[8:-9]) < 1.0
    assert not os.path.exists(f"/tmp/ponder-pwned-{tag}")


def test_rg_through_the_verifier_pool():
    task = get_task("rg/chain_sum")
    problems = task.sample(4, 2, seed=1)
    completions = [task.oracle(p) for p in problems[:2]] + ["<answer>-1</answer>"] * 2
    assert verify_batch(problems, completions, timeout_s=10.0) == [1.0, 1.0, 0.0, 0.0]
