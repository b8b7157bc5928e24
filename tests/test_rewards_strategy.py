"""The plan rewards by hand, on the real tasks' simulators (grid, sumprod)."""

import pytest

from ponder.rewards import combine, decomposition, plan_adherence, plan_format, plan_progress, plan_validity
from ponder.types import Completion, Problem

# S . .
# . # .
# . . G
GRID = Problem(id="g", task="grid", prompt="route S../.#./..G", answer="RRDD", difficulty=1,
               meta={"rows": ["S..", ".#.", "..G"]})
ARITH = Problem(id="a", task="arith", prompt="2+3=?", answer="5", difficulty=1)
SP = Problem(id="sp", task="sumprod", prompt="3*4+5*6+2*7=?", answer="56", difficulty=2,
             meta={"products": [[3, 4], [5, 6], [2, 7]]})


def y(plan=None, answer="RRDD", think=None):
    parts = [] if plan is None else [f"<plan>{plan}</plan>"]
    parts += [] if think is None else [f"<think>{think}</think>"]
    return "".join(parts) + (f"<answer>{answer}</answer>" if answer is not None else "")


def test_plan_format_by_hand():
    ys = [
        y("R2;D2"),  # 1: well formed, two steps
        y("R2;D2", think="R2:0,2;D2:2,2"),  # 1: plan, think, answer
        y("R2;D2") + " ",  # 1: trailing whitespace is still well formed
        y(""),  # 0: an empty plan has no steps
        y(" ; ;"),  # 0: separators only
        y(None),  # 0: no plan
        y("R2;D2", answer=None),  # 0: a plan without an answer is not well formed
        "<think>t</think><plan>R2</plan><answer>RR</answer>",  # 0: plan after think
        "<plan>R2</plan>junk<answer>RR</answer>",  # 0: text between the blocks
    ]
    assert plan_format([GRID] * len(ys), ys) == [1, 1, 1, 0, 0, 0, 0, 0, 0]
    # a format reward: it does not ask whether the task is plannable, and reads Completion objects too
    assert plan_format([ARITH], [Completion(text=y("2+3", answer="5"), num_tokens=3)]) == [1.0]


def test_plan_validity_by_hand():
    cases = [
        ("R2;D2", 1.0),  # (0,2) then (1,2), (2,2) = G
        ("D2;R2", 1.0),  # (2,0) then (2,1), (2,2) = G
        ("r 2;d 2", 1.0),  # case and spaces inside a step are forgiven
        ("R;R;D;D", 1.0),  # a bare letter is one move
        ("R2", 0.5),  # legal, stops at (0,2), short of G
        ("R2;D2;U1", 0.5),  # legal, passes G and leaves it: the final cell is what counts
        ("D1;R1", 0.0),  # (1,1) is a wall
        ("R3", 0.0),  # off the grid
        ("U1;R2;D2", 0.0),  # the first step already leaves the grid
        ("R2;X;D2", 0.0),  # an unparseable step
        ("R0;R2;D2", 0.0),  # a zero count does not parse
        ("", 0.0),  # an empty plan
        (None, 0.0),  # no plan
    ]
    got = plan_validity([GRID] * len(cases), [y(plan) for plan, _ in cases])
    assert got == [want for _, want in cases]
    # the plan inside <think> is not the plan; the last plan outside counts
    assert plan_validity([GRID], ["<think><plan>R2;D2</plan></think><answer>RRDD</answer>"]) == [0.0]
    assert plan_validity([GRID], ["<plan>R3</plan><plan>R2;D2</plan><answer>RRDD</answer>"]) == [1.0]
    # a task without a simulator scores 0 whatever the plan
    assert plan_validity([ARITH, SP], [y("2+3", answer="5"), y("3*4;5*6;2*7", answer="56")]) == [0.0, 0.0]


def test_plan_validity_scores_the_plan_not_the_answer():
    # a valid plan with a wrong answer keeps its 1.0; a wrong plan with a right answer gets 0
    assert plan_validity([GRID, GRID], [y("R2;D2", answer="UU"), y("D1;R1", answer="RRDD")]) == [1.0, 0.0]


def test_plan_adherence_by_hand():
    cases = [
        ("R2;D2", "RRDD", 1.0),  # exactly the plan
        ("R2;D2", "RRLRDD", 1.0),  # a detour between steps is allowed
        ("R2;D2", "DDRR", 0.5),  # one step or the other, never both in this order
        ("R1;R1;D2", "RRDD", 1.0),  # R at 0, R at 1, DD at 2
        ("R2;X;D2", "RRDD", 2 / 3),  # the unparseable step is not carried out
        ("R2;D2", "RDRD", 0.0),  # no block appears contiguously
        ("D1;R1", "RRDD", 0.5),  # adherence does not ask if the plan is legal: D at 2, then no R after it
        ("R2;D2", "rr dd", 1.0),  # the answer's case and spaces are forgiven as the verifier does
    ]
    got = plan_adherence([GRID] * len(cases), [y(plan, moves) for plan, moves, _ in cases])
    assert got == pytest.approx([want for _, _, want in cases])
    assert plan_adherence([GRID] * 3, [y(None), y("R2;D2", answer=None), y("R2;D2", answer="R2D2")]) == [0, 0, 0]
    assert plan_adherence([ARITH], [y("2+3", answer="5")]) == [0.0]  # not plannable


def test_decomposition_by_hand():
    cases = [
        ("3*4;5*6;2*7", 1.0),  # exactly the parts
        ("2*7;4*3;6*5", 1.0),  # any order, either factor order
        ("3*4;2*7", 2 / 3),  # one part missing: 2 matched / max(2 listed, 3 parts)
        ("3*4;5*6;2*7;1*1", 3 / 4),  # one extra: 3 / max(4, 3)
        ("3*4;3*4;3*4", 1 / 3),  # a part counted once however often it is listed
        ("12+30+14", 0.0),
        ("", 0.0),
        (None, 0.0),
    ]
    got = decomposition([SP] * len(cases), [y(plan, "56") for plan, _ in cases])
    assert got == pytest.approx([want for _, want in cases])
    # a task that does not decompose scores 0, even with a plan that is valid for it
    assert decomposition([GRID, ARITH], [y("R2;D2"), y("2+3", answer="5")]) == [0.0, 0.0]


def test_plan_rewards_combine_by_weight():
    reward = combine("correct:1,plan_validity:0.5,plan_format:0.25")
    totals, parts = reward([GRID] * 3, [y("R2;D2"), y("R2", answer="RR"), y(None)])
    assert parts["plan_validity"] == [1.0, 0.5, 0.0] and parts["plan_format"] == [1.0, 1.0, 0.0]
    assert parts["correct"] == [1.0, 0.0, 1.0]
    assert totals == pytest.approx([1 + 0.5 + 0.25, 0.25 + 0.25, 1.0])


# route: start (3,1), then (0,4), then (2,2); the oracle's plan labels each leg with its two cells
ROUTE = Problem(id="r", task="route", prompt="walk 3,1>0,4>2,2", answer="U3R3D2L2", difficulty=2,
                meta={"cells": [[3, 1], [0, 4], [2, 2]], "plan": ["U3R3", "D2L2"]})


def test_route_plan_rewards_by_hand():
    """The strategy preset's plan reward on route, and what the demo's correctness-only arm sees instead."""
    ys = [
        y("3,1>0,4:U3R3;0,4>2,2:D2L2", answer="U3R3D2L2"),  # oracle: plan reaches the goal, answer right
        y("3,1>0,4:U3R3;0,4>2,2:D2L1", answer="U3R3D2L1"),  # careless: legal, misses (2,2); answer follows it
        y("3,1>0,4:U3R3;0,4>2,2:D2L1", answer="U3R3D2L2"),  # careless plan, right answer anyway
        y("3,1>0,4:U4R3;0,4>2,2:D2L2", answer="U3R3D2L2"),  # step 0 leaves the board (row -1)
        y(None, answer="U3R3D2L2"),  # a direct answer: no plan, no plan reward
    ]
    assert plan_validity([ROUTE] * 5, ys) == [1.0, 0.5, 0.5, 0.0, 0.0]
    # adherence: UUURRR then DDL appear in order in UUURRRDDLL (a detour after a step is allowed); U4R3's
    # UUUURRR does not appear in the right answer, so only the second step is carried out
    assert plan_adherence([ROUTE] * 5, ys) == [1.0, 1.0, 1.0, 0.5, 0.0]
    assert combine("correct:1,plan_validity:0.5")([ROUTE] * 5, ys)[0] == pytest.approx([1.5, 0.25, 1.25, 1.0, 1.0])
    assert combine("correct:1")([ROUTE] * 5, ys)[0] == pytest.approx([1.0, 0.0, 1.0, 1.0, 1.0])


def test_plan_progress_by_hand():
    # start 0,5, then two columns left, four right, then 0,2: legs 0,5>0,3 (L2), 0,3>0,7 (R4), 0,7>0,2 (L5)
    route = Problem(id="r", task="route", prompt="walk 0,5>-2>+4>0,2", answer="L2R4L5", difficulty=3,
                    meta={"cells": [[0, 5], [0, 3], [0, 7], [0, 2]], "plan": ["L2", "R4", "L5"]})
    cases = [
        (y("0,5>0,3:L2;0,3>0,7:R4;0,7>0,2:L5", answer="L2R4L5"), 1.0),
        (y("0,5>0,3:L2;0,3>0,7:R4;0,7>0,2:L3", answer="L2R4L3"), 2 / 3),  # the running sum dropped in the last leg
        (y("L2;R5;L5", answer="L2R4L5"), 2 / 3),  # per leg, from its true start; the right answer does not lift it
        (y("L2", answer="L2R4L5"), 1 / 3),
        (y(None, answer="L2R4L5"), 0.0),  # no plan: correctness alone scores this one
    ]
    got = plan_progress([route] * len(cases), [text for text, _ in cases])
    assert got == pytest.approx([want for _, want in cases])
    # a plannable task without per-step credit (grid) and a task that is not plannable: 0
    assert plan_progress([GRID, ARITH], [y("R2;D2"), y("2+3", answer="5")]) == [0.0, 0.0]
    total, parts = combine("correct:1,plan_progress:0.5")([route], [cases[1][0]])
    assert parts["plan_progress"] == pytest.approx([2 / 3]) and total == pytest.approx([1 / 3])
