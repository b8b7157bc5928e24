"""The `route` task by hand: its verifier, plan checker, adherence, careless plans and levels."""

import random

import pytest

from ponder.format import parse
from ponder.tasks import get_task
from ponder.tasks.route import expand, label, leg, step_moves, walk
from ponder.types import Problem

# start (3,1), then (0,4), then (2,2)
R = Problem(id="r", task="route", prompt="walk 3,1>0,4>2,2", answer="U3R3D2L2", difficulty=3,
            meta={"cells": [[3, 1], [0, 4], [2, 2]], "plan": ["U3R3", "D2L2"]})


def test_leg_and_expand_by_hand():
    assert leg((3, 1), (0, 4)) == "U3R3" and leg((0, 4), (2, 2)) == "D2L2"
    assert leg((1, 1), (1, 0)) == "L1" and leg((0, 0), (5, 0)) == "D5"
    assert expand("U3R3") == "UUURRR" and expand("r") == "R" and expand(" d 2 l ") == "DDL"
    for bad in ("U0", "X2", "3U", "", "U12", "U3;R3"):
        assert expand(bad) is None, bad


def test_plan_step_labels_by_hand():
    assert label((3, 1), (0, 4)) == "3,1>0,4:"
    assert step_moves("3,1>0,4:U3R3") == "UUURRR" and step_moves("U3R3") == "UUURRR"
    assert step_moves(" 3,1>0,4: u3 r ") == "UUUR"  # spaces and case forgiven, as in expand
    for bad in ("3,1>0,4:", "3,1>0,4U3", "3,1:U3", "31>04:U3", "3,1>0,4:U3:R3", "1>4:R3"):
        assert step_moves(bad) is None, bad


def test_a_line_level_by_hand():
    task = get_task("route")
    p = task.sample(1, 3, seed=0)[0]
    pts = [tuple(c) for c in p.meta["cells"]]
    assert all(r == 0 for r, _ in pts) and p.prompt == "walk " + ">".join(f"0,{c}" for _, c in pts)
    steps = parse(task.oracle(p)).plan_steps
    assert [s.split(":")[0] for s in steps] == [f"0,{a[1]}>0,{b[1]}" for a, b in zip(pts, pts[1:])]
    assert task.verify(task.oracle(p), p) == 1.0 and task.check_plan(";".join(steps), p).goal_reached


def test_walk_by_hand():
    pts = [(3, 1), (0, 4), (2, 2)]
    assert walk("UUURRRDDLL", pts) == (True, True)
    assert walk("RRRUUULLDD", pts) == (True, True)  # any order of moves inside a leg
    assert walk("UUURRRDDLLR", pts) == (True, False)  # ends past the last waypoint
    assert walk("URUURR", pts) == (True, False)  # (2,2) then (0,4): out of order, ends on (0,4)
    assert walk("URUURRDDLL", pts) == (True, True)  # an early pass over (2,2) does not count, nor harm
    assert walk("UUUU", pts) == (False, False)  # row -1 is off the board
    assert walk("", [(0, 0), (0, 1)]) == (True, False)


def test_verify_replays_the_answer():
    task = get_task("route")
    for moves, want in [("UUURRRDDLL", 1.0), ("uuu rrr ddll", 1.0), ("RRRUUULLDD", 1.0), ("UUURRRDDLLUD", 1.0),
                        ("U3R3D2L2", 1.0), ("u3 r3 d2 l2", 1.0), ("R3U3L2D2", 1.0), ("U3R1R2DDL2", 1.0),
                        ("UUURRRDDL", 0.0), ("U3R3D2L1", 0.0), ("URUURR", 0.0), ("U3R3;D2L2", 0.0),
                        ("0,4:U3R3D2L2", 0.0), ("U0U3R3D2L2", 0.0), ("", 0.0)]:
        assert task.verify(f"<answer>{moves}</answer>", R) == want, moves
    assert task.verify("<think><answer>UUURRRDDLL</answer></think>", R) == 0.0


def test_check_plan_by_hand():
    task = get_task("route")

    def check(plan):
        c = task.check_plan(plan, R)
        return (c.parsed, c.valid, c.goal_reached, c.first_error, c.steps)

    assert check("U3R3;D2L2") == (True, True, True, None, 2)
    assert check("3,1>0,4:U3R3;0,4>2,2:D2L2") == (True, True, True, None, 2)  # the oracle's labelled steps
    assert check("3,1>0,4:U3R3;0,4>2,2:D2L1") == (True, True, False, None, 2)
    assert check("9,9>9,9:U3R3;D2L2") == (True, True, True, None, 2)  # labels are notes: only the moves replay
    assert check("3,1>0,4:U3R3;0,4>2,2:") == (False, False, False, 1, 2)  # a label without moves
    assert check("R3U3;L2D2") == (True, True, True, None, 2)  # horizontal first is as good
    assert check("U3R3;D2L1") == (True, True, False, None, 2)  # one short of the last waypoint
    assert check("U2R3;D2L2") == (True, True, False, None, 2)  # misses (0,4), ends one row low
    assert check("U3R3") == (True, True, False, None, 1)  # first leg only
    assert check("U4R3;D2L2") == (True, False, False, 0, 2)  # row -1: off the board in step 0
    assert check("U3R3;X;D2L2") == (False, False, False, 1, 3)  # unparseable step 1
    assert check("U4;X") == (False, False, False, 0, 2)  # off the board before the bad step
    assert check("") == (False, False, False, None, 0) and check(None) == (False, False, False, None, 0)


def test_plan_adherence_by_hand():
    task = get_task("route")

    def adh(plan, moves):
        return task.plan_adherence(f"<plan>{plan}</plan><answer>{moves}</answer>", R)

    assert adh("U3R3;D2L2", "UUURRRDDLL") == 1.0
    assert adh("3,1>0,4:U3R3;0,4>2,2:D2L2", "U3R3D2L2") == 1.0  # labelled steps, answer in runs
    assert adh("3,1>0,4:U3R3;0,4>2,2:D2L2", "U3R3L2D2") == 0.5
    assert adh("U3R3;D2L2", "RRRUUULLDD") == 0.0  # same walk, other order of runs: not this plan
    assert adh("U3R3;D2L2", "UUURRRLLDD") == 0.5
    assert adh("U3R3;D2L2;U1", "UUURRRDDLL") == pytest.approx(2 / 3)
    assert adh("D2L2;U3R3", "UUURRRDDLL") == 0.5  # in order only
    assert adh("U3R3;X;D2L2", "UUURRRDDLL") == pytest.approx(2 / 3)
    assert task.plan_adherence("<answer>UUURRRDDLL</answer>", R) == 0.0


def test_oracle_and_careless_by_hand():
    task = get_task("route")
    assert task.oracle(R) == "<plan>3,1>0,4:U3R3;0,4>2,2:D2L2</plan><answer>U3R3D2L2</answer>"
    assert task.oracle(R, think=False) == "<answer>U3R3D2L2</answer>"
    for seed in range(30):
        text = task.careless(R, random.Random(seed))
        p = parse(text)
        steps, gold = p.plan_steps, R.meta["plan"]
        assert p.well_formed and len(steps) == 2
        assert [s.split(":")[0] for s in steps] == ["3,1>0,4", "0,4>2,2"]  # the labels stay right ...
        assert sum(step_moves(a) != expand(b) for a, b in zip(steps, gold)) == 1  # ... one step's moves change ...
        moved = sum(len(step_moves(a)) for a in steps) - sum(len(expand(b)) for b in gold)
        assert moved in (-1, 1)  # ... by one move, never to a zero count
        assert task.verify(text, R) == 0.0  # the answer carries out the wrong plan, so it misses
        assert task.plan_adherence(text, R) == 1.0
        assert not task.check_plan(p.plan, R).goal_reached


def test_levels_grow_in_legs():
    task = get_task("route")
    assert task.levels == (1, 2, 3, 4, 5)
    for d in task.levels:
        cfg = task.config(d)
        for p in task.sample(40, d, seed=5):
            pts = [tuple(c) for c in p.meta["cells"]]
            assert len(pts) == cfg.legs + 1 and len(set(pts)) == len(pts)
            assert all(0 <= r < cfg.rows and 0 <= c < cfg.span for r, c in pts)
            assert p.prompt == "walk " + ">".join(f"{r},{c}" for r, c in pts)
            assert len(expand(p.answer)) == sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(pts, pts[1:]))
            assert task.verify(task.oracle(p), p) == 1.0 and task.verify(task.oracle(p, think=False), p) == 1.0
        assert (cfg.legs, cfg.rows, cfg.span) == ((1, 2, 4, 6, 8)[d - 1], 1, 10)  # along row 0, up to 8 legs
