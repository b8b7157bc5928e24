"""The orchestrator: the model's own sub-calls, scored (never driven) by the task's gold parts."""

from __future__ import annotations

import re

import pytest
from test_rollout import Scripted

from ponder.eval.orchestrator import orchestrate
from ponder.metrics import orchestration_by_difficulty, orchestration_metrics
from ponder.tasks import get_task
from ponder.tasks.sumprod import SumProd
from ponder.types import Completion


class Decides(Scripted):
    """Decomposes sums of 3+ products, solves 2-product sums linearly; forced serial (a `<think>`
    start) it writes the linear trace. One child answer is wrong on purpose (7*7 -> 48)."""

    def _one(self, context, sampling):
        prompt, _, done = context.partition("\n")
        parts = prompt.rstrip("=?").split("+")
        if len(parts) == 1:
            a, b = map(int, parts[0].split("*"))
            text = f"<answer>{48 if (a, b) == (7, 7) else a * b}</answer>"
        elif "<result>" in done:
            total = sum(int(x) for x in re.findall(r"<result>(-?\d+)</result>", done))
            text = f"<answer>{total}</answer>"
        elif done.startswith("<think>") or len(parts) == 2:
            vals = [int(a) * int(b) for a, b in (p.split("*") for p in parts)]
            text = ("" if done else "<think>") + ";".join(f"{p}={v}" for p, v in zip(parts, vals)) + f"</think><answer>{sum(vals)}</answer>"
        else:
            text = "".join(f"<spawn>{p}=?</spawn>" for p in parts) + "<join>"
        return Completion(text, [ord(c) for c in text], num_tokens=len(text))


class Pool:
    def submit(self, problems, texts):
        class Done:
            def __init__(self, v):
                self.v = v

            def result(self):
                return self.v

        return Done([get_task(p.task).verify(t, p) for p, t in zip(problems, texts)])


def _problems():
    task = get_task("sumprod")
    return [task._problem("two", [[3, 4], [5, 6]], 1), task._problem("three", [[2, 7], [7, 7], [3, 3]], 2),
            task._problem("four", [[2, 2], [3, 3], [4, 4], [5, 5]], 4)]


@pytest.mark.parametrize("gold", [True, False])
def test_the_model_decides_and_gold_only_scores(monkeypatch, gold):
    if not gold:  # no gold structure at all: the orchestrator still runs, scores are just empty
        monkeypatch.delattr(SumProd, "subproblems")
        monkeypatch.delattr(SumProd, "check_decomposition")
    recs = orchestrate(Decides(), _problems(), Pool(), max_new_tokens=200)
    two, three, four = recs
    assert not two["decomposed"] and two["sub_calls"] == 0 and two["correct"]
    assert two["critical_path_tokens"] == two["tokens"]
    assert three["decomposed"] and three["sub_calls"] == 3 and not three["correct"]  # 7*7 came back wrong
    assert four["decomposed"] and four["correct"] and four["serial_correct"]
    assert four["critical_path_tokens"] < four["tokens"]
    assert four["serial_tokens"] == len("2*2=4;3*3=9;4*4=16;5*5=25</think><answer>54</answer>")
    m = orchestration_metrics(recs)
    assert m["decompose_rate"] == pytest.approx(2 / 3) and m["accuracy"] == pytest.approx(2 / 3)
    assert m["serial_accuracy"] == 1.0 and m["wall_s"] > 0 and m["speedup"] > 0
    if gold:
        assert three["sub_correct"] == [True, False, True] and four["sub_correct"] == [True] * 4
        assert three["decomposition"] == 1.0 and m["sub_accuracy"] == pytest.approx(6 / 7)
        assert m["decomposition_score"] == 1.0
    else:
        assert three["sub_correct"] == [] and three["decomposition"] is None
    assert set(orchestration_by_difficulty(recs)) == {"1", "2", "4"}
