"""`route`'s leg spans: where each plan step is written and whether it is right (hand-derived)."""

from ponder.format import parse
from ponder.tasks import get_task
from ponder.types import Problem

ROUTE = get_task("route")
# start (0,1), waypoints (0,4) then (0,2): leg 0 is R3, leg 1 is L2
P = Problem(id="r", task="route", prompt="walk 0,1>0,4>0,2", answer="R3L2", difficulty=2,
            meta={"cells": [[0, 1], [0, 4], [0, 2]], "plan": ["R3", "L2"]})


def spans(text):
    return [(s.leg, s.start, s.end, s.right) for s in ROUTE.leg_spans(text, P)]


def test_labelled_steps_span_their_text_and_separator():
    text = "<plan>0,1>0,4:R3;0,4>0,2:L1</plan><answer>R3L1</answer>"
    # "<plan>" is 6 chars: step 0 "0,1>0,4:R3;" is chars 6..16, step 1 "0,4>0,2:L1" 17..26 (L1 misses 0,2)
    assert spans(text) == [(0, 6, 17, True), (1, 17, 27, False)]
    assert text[6:17] == "0,1>0,4:R3;" and text[17:27] == "0,4>0,2:L1"


def test_whitespace_is_outside_a_span_and_the_separator_inside():
    text = "<plan> R3 ; L2</plan><answer>R3L2</answer>"
    # plan " R3 ; L2": step " R3 " at 6..9 -> [7, 11) = "R3 ;"; step " L2" -> [12, 14) = "L2"
    assert spans(text) == [(0, 7, 11, True), (1, 12, 14, True)]
    assert text[7:11] == "R3 ;" and text[12:14] == "L2"


def test_each_leg_judged_from_its_true_start():
    # step 0 wrong (R2 ends on 0,3), step 1 still judged from (0,4): L2 ends on 0,2, right
    assert [s[3] for s in spans("<plan>R2;L2</plan><answer>R2L2</answer>")] == [False, True]


def test_missing_leg_is_an_empty_wrong_span_and_an_extra_step_is_never_right():
    text = "<plan>R3</plan><answer>R3</answer>"
    assert spans(text) == [(0, 6, 8, True), (1, 8, 8, False)]  # the plan closes at 8
    extra = "<plan>R3;L2;R1</plan><answer>R3L2R1</answer>"
    assert spans(extra) == [(0, 6, 9, True), (1, 9, 12, True), (2, 12, 14, False)]


def test_mean_of_the_spans_is_plan_progress():
    for text in ("<plan>R3</plan><answer>R3</answer>", "<plan>R3;L2;R1</plan><answer>x</answer>",
                 "<plan>R2;L2</plan><answer>x</answer>", "<plan>U1;L2</plan><answer>x</answer>"):
        legs = ROUTE.leg_spans(text, P)
        assert sum(s.right for s in legs) / len(legs) == ROUTE.plan_progress(parse(text).plan, P)
    p = ROUTE.generate(0, 3, 5)  # the oracle's 8-leg plan: every leg right
    assert [s.right for s in ROUTE.leg_spans(ROUTE.oracle(p), p)] == [True] * 8


def test_no_plan_or_a_plan_inside_think_has_no_spans():
    assert spans("<answer>R3L2</answer>") == []
    assert spans("<plan>R3;L2") == []  # unclosed: no plan
    assert spans("<plan>R3;L2</plan><think><plan>x</think><answer>R3L2</answer>") == []


def test_plan_legs_credits_no_leg_of_a_plan_that_does_not_parse_as_a_whole():
    from ponder.rewards.strategy import plan_legs

    # three legs: 0,1 -> 0,4 (R3) -> 0,2 (L2) -> 0,6 (R4)
    p = Problem(id="r3", task="route", prompt="walk 0,1>0,4>0,2>0,6", answer="R3L2R4", difficulty=3,
                meta={"cells": [[0, 1], [0, 4], [0, 2], [0, 6]], "plan": ["R3", "L2", "R4"]})
    good = "<plan>0,1>0,4:R3;0,4>0,2:L2;0,2>0,6:R4</plan><answer>R3L2R4</answer>"
    # the label's ">" written as ";": the steps read "0,4", "0,2:L2" (neither parses), "0,2>0,6:R4"
    typo = "<plan>0,1>0,4:R3;0,4;0,2:L2;0,2>0,6:R4</plan><answer>R3L2R4</answer>"
    assert [r for *_, r in plan_legs([p], [good])[0]] == [1.0, 1.0, 1.0]
    assert [s.right for s in ROUTE.leg_spans(typo, p)] == [True, False, False, False]  # leg 0 alone is right
    assert [r for *_, r in plan_legs([p], [typo])[0]] == [0.0, 0.0, 0.0, 0.0]  # but the plan is not a plan
    assert plan_legs([p], ["<answer>R3L2R4</answer>"]) == [None]
