"""ponder.format: the output format's rules on hand-written completions."""

from ponder.format import extract_answer, format_completion, last_boxed, parse, segments, split_plan, strip_think


def test_round_trip_all_parts():
    text = format_completion("41", think="12+7=19;19-3=16;16+25=41", plan=["a", "b"])
    assert text == "<plan>a;b</plan><think>12+7=19;19-3=16;16+25=41</think><answer>41</answer>"
    p = parse(text)
    assert (p.answer, p.think, p.plan, p.well_formed) == ("41", "12+7=19;19-3=16;16+25=41", "a;b", True)
    assert p.plan_steps == ["a", "b"]


def test_round_trip_answer_only_and_plan_string():
    assert format_completion("7") == "<answer>7</answer>"
    p = parse("<answer>7</answer>")
    assert (p.answer, p.think, p.plan, p.has_think, p.well_formed) == ("7", None, None, False, True)
    assert format_completion("RR", plan="R2") == "<plan>R2</plan><answer>RR</answer>"


def test_last_answer_counts():
    assert extract_answer("<answer>1</answer> then <answer>2</answer>") == "2"
    assert extract_answer("<answer> 3 </answer>") == "3"  # stripped


def test_text_in_think_is_never_the_answer():
    assert extract_answer("<think><answer>5</answer></think><answer>6</answer>") == "6"
    assert extract_answer("<think>the answer is <answer>5</answer></think>") is None
    # an answer after the think block still counts
    assert extract_answer("<answer>4</answer><think><answer>5</answer></think>") == "4"


def test_unclosed_think_runs_to_the_end():
    text = "<think>12+7=19 <answer>19</answer>"
    assert extract_answer(text) is None
    p = parse(text)
    assert p.think == "12+7=19 <answer>19</answer>"
    assert not p.well_formed
    assert strip_think("a<think>b") == "a "


def test_boxed_only_for_math_with_nested_braces():
    text = r"so \boxed{\frac{1}{2}}"
    assert extract_answer(text) is None  # not math: boxed is not an answer
    assert extract_answer(text, math=True) == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{1} and \boxed{{2}+{3}}") == "{2}+{3}"
    assert last_boxed(r"\boxed{unbalanced") is None


def test_boxed_and_answer_the_later_wins():
    assert extract_answer(r"<answer>1</answer> \boxed{2}", math=True) == "2"
    assert extract_answer(r"\boxed{2} <answer>1</answer>", math=True) == "1"
    assert extract_answer(r"<think>\boxed{9}</think>\boxed{3}", math=True) == "3"
    assert extract_answer(r"<think>\boxed{9}</think>", math=True) is None


def test_plan_parsing():
    p = parse("<plan> R2 ; D1\n U3 ;; </plan><answer>x</answer>")
    assert p.plan_steps == ["R2", "D1", "U3"]
    assert split_plan("a;b\nc") == ["a", "b", "c"]
    # a plan inside <think> is not the plan; the last plan outside counts
    assert parse("<think><plan>A</plan></think><answer>x</answer>").plan is None
    assert parse("<plan>A</plan><plan>B</plan><answer>x</answer>").plan == "B"
    assert parse("<answer>x</answer>").plan_steps == []


def test_well_formed():
    good = [
        "<answer>1</answer>",
        "<think>t</think><answer>1</answer>",
        "<plan>p</plan><answer>1</answer>",
        "<plan>p</plan>\n<think>t</think>\n<answer>1</answer>\n",
    ]
    bad = [
        "",
        "1",
        "<think>t</think>",  # no answer
        "<answer>1</answer> trailing",
        "preamble <answer>1</answer>",
        "<think>t</think><plan>p</plan><answer>1</answer>",  # plan after think
        "<answer>1</answer><answer>2</answer>",
        "<think>a<think>b</think><answer>1</answer>",
    ]
    for text in good:
        assert parse(text).well_formed, text
    for text in bad:
        assert not parse(text).well_formed, text


def test_empty_and_garbage():
    p = parse("")
    assert (p.answer, p.think, p.plan, p.well_formed) == (None, None, None, False)
    assert extract_answer("<answer>unclosed") is None
    assert extract_answer("<answer></answer>") == ""


def test_segments_spans():
    text = "<plan>p</plan><think>tt</think><answer>a</answer>"
    s = segments(text)
    assert text[slice(*s["plan"])] == "<plan>p</plan>"
    assert text[slice(*s["think"])] == "<think>tt</think>"
    assert text[slice(*s["answer"])] == "<answer>a</answer>"
    assert segments("<answer>1</answer><answer>2</answer>")["answer"] == (18, 36)
    assert segments("plain")["think"] is None
