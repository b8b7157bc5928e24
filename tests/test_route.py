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
    assert p.prompt == "walk 0,5>-2>+2>0,2"  # two offsets from the walker, then an absolute cell
    assert p.meta["cells"] == [[0, 5], [0, 3], [0, 5], [0, 2]] and p.answer == "L2R2L3"
    steps = parse(task.oracle(p)).plan_steps
    assert steps == ["0,5>0,3:L2", "0,3>0,5:R2", "0,5>0,2:L3"]  # labels carry the resolved cells
    assert task.verify(task.oracle(p), p) == 1.0 and task.check_plan(";".join(steps), p).goal_reached
    assert task.verify("<answer>L2R2L5</answer>", p) == 0.0  # the last leg from 0,3: the running sum forgotten


# start 0,5, then two columns left, four right, then the absolute cell 0,2: "walk 0,5>-2>+4>0,2"
REL = Problem(id="rel", task="route", prompt="walk 0,5>-2>+4>0,2", answer="L2R4L5", difficulty=3,
              meta={"cells": [[0, 5], [0, 3], [0, 7], [0, 2]], "plan": ["L2", "R4", "L5"]})


def test_relative_waypoints_by_hand():
    from ponder.tasks.route import LEVELS, RouteConfig, offset_text

    assert offset_text((0, 5), (0, 3)) == "-2" and offset_text((0, 3), (0, 7)) == "+4"
    # which legs are offsets: runs of `relative`, each closed by an absolute cell, the last one absolute
    assert [RouteConfig(legs=8, rows=1, relative=3).is_relative(i) for i in range(8)] == [1, 1, 1, 0, 1, 1, 1, 0]
    assert [RouteConfig(legs=6, rows=1, relative=2).is_relative(i) for i in range(6)] == [1, 1, 0, 1, 1, 0]
    assert [RouteConfig(legs=3, rows=1, relative=1).is_relative(i) for i in range(3)] == [0, 1, 0]
    assert not any(RouteConfig(legs=4, rows=1).is_relative(i) for i in range(4))
    assert [(c.legs, c.relative) for c in LEVELS.values()] == [(1, 0), (2, 1), (3, 2), (6, 2), (8, 3)]
    with pytest.raises(ValueError, match="rows=1"):
        RouteConfig(rows=6, relative=1)
    task = get_task("route")
    for moves, want in [("L2R4L5", 1.0), ("LLRRRRLLLLL", 1.0), ("L2R4L3", 0.0), ("L2R4", 0.0)]:
        assert task.verify(f"<answer>{moves}</answer>", REL) == want, moves
    assert task.oracle(REL) == "<plan>0,5>0,3:L2;0,3>0,7:R4;0,7>0,2:L5</plan><answer>L2R4L5</answer>"


def test_plan_progress_by_hand():
    task = get_task("route")

    def progress(plan):
        return task.plan_progress(plan, REL)

    assert progress("0,5>0,3:L2;0,3>0,7:R4;0,7>0,2:L5") == 1.0
    assert progress("L2;R4;L5") == 1.0  # labels are notes
    assert progress("R1L3;R4;L5") == 1.0  # any walk of the leg that ends on its waypoint
    assert progress("L2;R4;L3") == pytest.approx(2 / 3)  # last leg from the unsummed start (0,5 -> 0,2)
    assert progress("L2;R3;L5") == pytest.approx(2 / 3)  # each step judged from its leg's true start
    assert progress("L6;R4;L5") == pytest.approx(2 / 3)  # column -1: off the board
    assert progress("L2;X;L5") == pytest.approx(2 / 3)  # an unparseable step earns nothing
    assert progress("L2") == pytest.approx(1 / 3)  # missing steps cost their share
    assert progress("L2;R4;L5;R1") == 0.75  # ... and so do extra ones
    assert progress("R4;L5;L2") == 0.0  # out of order
    assert progress("") == 0.0 and progress(None) == 0.0


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
            assert len(pts) == cfg.legs + 1 and all(a != b for a, b in zip(pts, pts[1:]))  # no zero-length leg
            assert all(0 <= r < cfg.rows and 0 <= c < cfg.span for r, c in pts)
            written = ["0,%d" % pts[0][1]] + [f"{b[1] - a[1]:+d}" if cfg.is_relative(i) else f"0,{b[1]}"
                                              for i, (a, b) in enumerate(zip(pts, pts[1:]))]
            assert p.prompt == "walk " + ">".join(written)
            assert len(expand(p.answer)) == sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(pts, pts[1:]))
            assert task.verify(task.oracle(p), p) == 1.0 and task.verify(task.oracle(p, think=False), p) == 1.0
            assert task.plan_progress(parse(task.oracle(p)).plan, p) == 1.0
        assert (cfg.legs, cfg.rows, cfg.span) == ((1, 2, 3, 6, 8)[d - 1], 1, 10)  # along row 0, up to 8 legs


def test_absolute_levels_draw_new_cells():
    # RouteConfig without offsets keeps the old draw: every cell new (a test task's config, not a level)
    from ponder.tasks.route import Route, RouteConfig

    class Abs(Route):
        configs = {1: RouteConfig(legs=8, span=10, rows=1)}

    for i in range(20):
        pts = [tuple(c) for c in Abs().generate(0, i, 1).meta["cells"]]
        assert len(set(pts)) == len(pts) == 9
