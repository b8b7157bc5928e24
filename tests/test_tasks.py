"""The task contract over every built-in task and level, plus task-specific checks.

Everything here runs the real generators, verifiers and (for `code`) the real sandbox.
"""

import json
import os
import subprocess
import sys

import pytest

from ponder.errors import PonderError
from ponder.format import parse
from ponder.runs import read_problems, write_problems
from ponder.tasks import BUILTIN_TASKS, TASKS, Task, get_task, list_tasks, parse_int, register
from ponder.tasks.add import columns
from ponder.tasks.route import expand as route_moves  # route answers are runs (U3R3)
from ponder.tasks.countdown import evaluate
from ponder.types import Problem

# Every registered task at every level: a new family is checked as soon as it registers.
CASES = [(name, d) for name in list_tasks() for d in get_task(name).levels]

# A completion that is well-formed but wrong, per task (a registered task missing here fails the contract).
WRONG = {
    "arith": lambda p: f"<answer>{int(p.answer) + 1}</answer>",
    "add": lambda p: f"<answer>{int(p.answer) + 1}</answer>",
    "toolarith": lambda p: f"<answer>{int(p.answer) + 1}</answer>",
    "sumprod": lambda p: f"<answer>{int(p.answer) - 1}</answer>",
    "countdown": lambda p: f"<answer>{p.answer}+1</answer>",  # off by one (or reuses a 1)
    "grid": lambda p: f"<answer>{p.answer[:-1]}</answer>",  # a shortest path cut one move short of G
    "route": lambda p: f"<answer>{route_moves(p.answer)[:-1]}</answer>",  # one move short of the last waypoint
    "code": lambda p: "<answer>def f(*args): return 'wrong'</answer>",
    "chains": lambda p: f"<answer>{p.answer[:-1]}{(int(p.answer[-1]) + 1) % 10}</answer>",  # last chain one digit off
}


def _n(name):
    return 2 if name == "code" else 12  # code verifies in the sandbox (~0.2 s each)


@pytest.mark.parametrize("name,difficulty", CASES)
def test_contract(name, difficulty, tmp_path):
    task = get_task(name)
    problems = task.sample(_n(name), difficulty, seed=3)
    assert len({p.id for p in problems}) == len(problems)
    assert task.sample(_n(name), difficulty, seed=3) == problems  # deterministic
    assert task.sample(_n(name), difficulty, seed=4) != problems  # and the seed matters
    for p in problems:
        assert (p.task, p.difficulty) == (name, difficulty)
        assert p.prompt.isascii() and p.prompt.isprintable(), p.prompt
        for think in (True, False):
            text = task.oracle(p, think=think)
            assert text.isascii() and parse(text).well_formed, text
            assert (parse(text).has_think or parse(text).plan is not None) == think, text  # a trace: worked or planned
            assert task.verify(text, p) == 1.0, text
        assert task.verify("", p) == 0.0
        assert name in WRONG, f"add a wrong completion for {name!r} to WRONG"
        assert task.verify(WRONG[name](p), p) == 0.0
        # the gold answer inside <think> never counts, nor does an unclosed answer
        for junk in (f"<think><answer>{p.answer}</answer></think>", f"<answer>{p.answer}", "<answer></answer>"):
            score = task.verify(junk, p)
            assert isinstance(score, float) and score == 0.0, junk
    # JSON and Parquet round trips leave problems unchanged
    for fname in ("p.jsonl", "p.parquet"):
        write_problems(tmp_path / fname, problems)
        assert read_problems(tmp_path / fname) == problems
        for a, b in zip(read_problems(tmp_path / fname), problems):
            assert a.meta == b.meta
    assert [Problem.from_json(p.to_json()) for p in problems] == problems


@pytest.mark.parametrize("name,difficulty", [c for c in CASES if get_task(c[0]).plannable or get_task(c[0]).decomposable])
def test_plan_capabilities_on_oracle(name, difficulty):
    task = get_task(name)
    for p in task.sample(8, difficulty, seed=5):
        text = task.oracle(p)
        plan = parse(text).plan
        if task.plannable:
            check = task.check_plan(plan, p)
            assert check.parsed and check.valid and check.goal_reached and check.first_error is None
            assert check.steps == len(parse(text).plan_steps)
            assert task.plan_adherence(text, p) == 1.0
        if task.decomposable:
            assert task.check_decomposition(plan, p) == 1.0
            subs = task.subproblems(p)
            assert len(subs) == len(p.meta["subproblems"])
            for sub, rec in zip(subs, p.meta["subproblems"]):
                assert (sub.prompt, sub.answer) == (rec["prompt"], rec["answer"])
                assert task.verify(task.oracle(sub), sub) == 1.0
            assert task.compose([s.answer for s in subs], p) == p.answer


def _trace_ends_at_the_answer(name, values, p):
    if name == "add":  # column sums, rightmost first: the last sum, then each earlier sum's ones digit
        return values[-1] + "".join(v[-1] for v in reversed(values[:-1])) == p.answer
    if name == "countdown":  # the steps end on the target (the answer is the expression)
        return values[-1] == str(p.meta["target"])
    return values[-1] == p.answer


@pytest.mark.parametrize("name", [n for n in list_tasks() if hasattr(get_task(n), "trace_values")])
def test_trace_values_appear_in_oracle_trace_in_order(name):
    task = get_task(name)
    for d in task.levels:
        for p in task.sample(5, d, seed=9):
            think, pos = parse(task.oracle(p)).think, 0
            values = task.trace_values(p)
            assert values and _trace_ends_at_the_answer(name, values, p), (values, p.answer)
            for v in values:
                pos = think.index(f"={v}", pos) + 1


_GEN_SCRIPT = """
import json
from ponder.tasks import get_task, list_tasks
out = {}
for name in list_tasks():  # a fresh process: the built-in families alone
    t = get_task(name)
    out[name] = [p.to_dict() for d in t.levels for p in t.sample(4, d, seed=11)]
print(json.dumps(out, sort_keys=True))
"""


def test_generation_independent_of_hash_seed_and_process():
    outs = []
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        r = subprocess.run([sys.executable, "-c", _GEN_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout))
    # importing ponder.tasks registers exactly the families BUILTIN_TASKS names, no more, no fewer
    assert sorted(outs[0]) == sorted(BUILTIN_TASKS)
    here = {name: [p.to_dict() for d in get_task(name).levels for p in get_task(name).sample(4, d, seed=11)] for name in BUILTIN_TASKS}
    assert outs[0] == outs[1] == json.loads(json.dumps(here, sort_keys=True))


# -- registry ----------------------------------------------------------------------------------
def test_list_tasks_has_the_builtins():
    assert set(BUILTIN_TASKS) <= set(list_tasks())
    assert list_tasks() == sorted(list_tasks())
    assert all(get_task(name).name == name for name in list_tasks())


def test_registry_refuses_duplicates():
    class Dup(Task):
        name = "arith"

    with pytest.raises(ValueError, match="already registered"):
        register(Dup)

    class Fresh(Task):
        name = "_test_fresh_task"

    try:
        register(Fresh)
        assert "_test_fresh_task" in list_tasks()
        with pytest.raises(ValueError, match="already registered"):
            register(Fresh)
    finally:
        TASKS.unregister("_test_fresh_task")
    assert type(get_task("arith")).__name__ == "Arith"  # the original survived


def test_unknown_task_lists_close_matches():
    with pytest.raises(PonderError) as e:
        get_task("arth")
    msg = str(e.value)
    assert "\n" not in msg and "'arth'" in msg and "did you mean arith" in msg
    with pytest.raises(PonderError, match="available: add, arith"):
        get_task("zzzzzz")


@pytest.mark.parametrize("name", list_tasks())
def test_bad_difficulty(name):
    task = get_task(name)
    for d in (0, 6, -1):
        with pytest.raises(PonderError, match="difficulty"):
            task.sample(1, d)
        with pytest.raises(PonderError, match="difficulty"):
            task.generate(0, 0, d)
    with pytest.raises(PonderError):
        task.sample(-1, 1)


# -- integer answers (arith, add, sumprod) -----------------------------------------------------
def test_parse_int():
    assert [parse_int(s) for s in ["41", " 41 ", "+41", "-7", "41.0", "41.", "4 1", "-0"]] == [41, 41, 41, -7, 41, 41, 41, 0]
    assert [parse_int(s) for s in [None, "", "41.5", "4e1", "0x29", "forty", "41 apples", "--41", "1" * 41]] == [None] * 9


def _arith(terms):
    prompt = str(terms[0]) + "".join(f"{'-' if t < 0 else '+'}{abs(t)}" for t in terms[1:]) + "=?"
    return Problem(id="x", task="arith", prompt=prompt, answer=str(sum(terms)), difficulty=3, meta={"terms": terms})


def test_arith_oracle_and_trace_by_hand():
    task, p = get_task("arith"), _arith([12, 7, -3, 25])
    assert p.prompt == "12+7-3+25=?"
    assert task.oracle(p) == "<think>12+7=19;19-3=16;16+25=41</think><answer>41</answer>"
    assert task.oracle(p, think=False) == "<answer>41</answer>"
    assert task.trace_values(p) == ["19", "16", "41"]
    neg = _arith([5, -9, -1])
    assert task.oracle(neg) == "<think>5-9=-4;-4-1=-5</think><answer>-5</answer>"
    for text, want in [
        ("<answer> 41 </answer>", 1.0), ("<answer>+41</answer>", 1.0), ("<answer>41.0</answer>", 1.0),
        (r"\boxed{41}", 1.0), ("<answer>40</answer>", 0.0), ("<answer>41.5</answer>", 0.0),
        ("<answer>41 apples</answer>", 0.0), ("<answer>41</answer><answer>40</answer>", 0.0),
        ("<answer>40</answer><answer>41</answer>", 1.0), ("41", 0.0),
    ]:
        assert task.verify(text, p) == want, text


def test_arith_levels_are_walks_on_digits():
    """Levels 2/3/4/6/8 terms; every partial sum a digit; signed terms never repeat in a problem."""
    task = get_task("arith")
    for d, n_terms in {1: 2, 2: 3, 3: 4, 4: 6, 5: 8}.items():
        for p in task.sample(300, d, seed=0):
            terms = p.meta["terms"]
            partial = [sum(terms[:i + 1]) for i in range(len(terms))]
            assert len(terms) == n_terms and all(0 <= s <= 9 for s in partial)
            assert 0 not in terms[1:] and len(set(terms[1:])) == len(terms) - 1
            assert int(p.answer) == partial[-1] and task.trace_values(p) == [str(s) for s in partial[1:]]
            assert len(task.oracle(p)) <= 74


def test_arith_wider_walk_allows_repeats_when_forced():
    from ponder.tasks.arith import LEVELS, ArithConfig

    task = get_task("arith")
    task.configs = {**LEVELS, 5: ArithConfig(terms=30, high=3)}  # instance override; the class keeps LEVELS
    try:
        terms = task.generate(0, 0, 5).meta["terms"]  # only 6 signed terms exist on 0..3, so some repeat
        assert len(terms) == 30 and all(0 <= sum(terms[:i + 1]) <= 3 for i in range(30))
    finally:
        del task.configs


def test_add_carry_trace_by_hand():
    assert columns(347, 586) == ["7+6=13", "4+8+1=13", "3+5+1=9"]
    assert columns(99, 99) == ["9+9=18", "9+9+1=19"]
    assert columns(3, 4) == ["3+4=7"]
    task = get_task("add")
    for d in task.levels:
        for p in task.sample(50, d, seed=0):
            a, b = p.meta["operands"]
            assert len(str(a)) == len(str(b)) == d and int(p.answer) == a + b


# -- countdown ---------------------------------------------------------------------------------
def _countdown(numbers, target):
    return Problem(id="c", task="countdown", prompt="", answer="", difficulty=1, meta={"numbers": numbers, "target": target, "steps": []})


def test_countdown_accepts_any_correct_expression():
    task, p = get_task("countdown"), _countdown([3, 5, 7, 9], 22)
    for expr in ["3*5+7", "7+5*3", "(3*5)+7", " 3 * 5 + 7 ", "7-(-3*5)", "+7+5*3"]:
        assert task.verify(f"<answer>{expr}</answer>", p) == 1.0, expr
    # exact rational arithmetic: 8/3 is not an integer but 8/3*6 is 16
    assert task.verify("<answer>8/3*6</answer>", _countdown([3, 6, 8], 16)) == 1.0


def test_countdown_rejects_reuse_wrong_values_and_code():
    task, p = get_task("countdown"), _countdown([3, 5, 7], 22)
    rejected = [
        "5*5-3",  # 5 used twice
        "3*5+7+3-3",  # 3 used twice
        "2*11",  # numbers not given
        "3*5-7",  # wrong value
        "22",
        "7/(5-5)",  # reuse and division by zero
        "__import__('os').system('echo pwned')",
        "(lambda: 22)()",
        "[22][0]",
        "3**5**7**99",  # powers are not an operator here (and would be huge)
        "9" * 300,  # too long
        "7.0+15",  # floats
        "3*5+7;",
        "3*5+7 if 1 else 0",
    ]
    for expr in rejected:
        assert task.verify(f"<answer>{expr}</answer>", p) == 0.0, expr
    assert evaluate("(" * 99 + "1" + ")" * 99) == (1, [1])  # 199 characters: checked
    assert evaluate("(" * 100 + "1" + ")" * 100) is None  # 201: past MAX_CHARS, refused unparsed
    assert evaluate("3**2") is None and evaluate("1/0") is None and evaluate("x") is None
    assert evaluate("2*(3+4)") == (14, [2, 3, 4])


def test_countdown_generation_is_solvable_by_construction():
    task = get_task("countdown")
    for d, k in zip(task.levels, (2, 3, 4, 5, 6)):
        for p in task.sample(50, d, seed=1):
            assert len(p.meta["numbers"]) == k
            value, used = evaluate(p.answer)
            assert value == p.meta["target"] > 0 and sorted(used) == sorted(p.meta["numbers"])
            assert p.meta["target"] not in p.meta["numbers"]  # no one-number answers


# -- grid --------------------------------------------------------------------------------------
# S . .
# . # .
# . . G
GRID = Problem(id="g", task="grid", prompt="route S../.#./..G", answer="RRDD", difficulty=1, meta={"rows": ["S..", ".#.", "..G"]})


def test_grid_verify_replays_any_legal_path():
    task = get_task("grid")
    for moves, want in [("RRDD", 1.0), ("DDRR", 1.0), ("rr dd", 1.0), ("RRDDUD", 1.0), ("RDRD", 0.0), ("RRDDU", 0.0), ("RRR", 0.0), ("UU", 0.0), ("R2D2", 0.0)]:
        assert task.verify(f"<answer>{moves}</answer>", GRID) == want, moves


def test_grid_check_plan_by_hand():
    task = get_task("grid")

    def check(plan):
        c = task.check_plan(plan, GRID)
        return (c.parsed, c.valid, c.goal_reached, c.first_error, c.steps)

    assert check("R2;D2") == (True, True, True, None, 2)
    assert check("r 2 ; d2") == (True, True, True, None, 2)
    assert check("R;R;D2") == (True, True, True, None, 3)
    assert check("R2;D1") == (True, True, False, None, 2)  # legal, stops short of G
    assert check("D1;R1") == (True, False, False, 1, 2)  # step 1 walks into the wall at (1,1)
    assert check("D2;R2;U1;L5") == (True, False, False, 3, 4)  # passes G, then hits the wall at step 3
    assert check("R3") == (True, False, False, 0, 1)  # off the grid
    assert check("U1;R2") == (True, False, False, 0, 2)
    assert check("R2;X;D2") == (False, False, False, 1, 3)  # unparseable step 1
    assert check("R0") == (False, False, False, 0, 1)
    assert check("") == (False, False, False, None, 0)
    assert check(None) == (False, False, False, None, 0)


def test_grid_plan_adherence_by_hand():
    task = get_task("grid")

    def adh(plan, moves):
        return task.plan_adherence(f"<plan>{plan}</plan><answer>{moves}</answer>", GRID)

    assert adh("R2;D2", "RRDD") == 1.0
    assert adh("R2;D2", "RRLRDD") == 1.0  # a detour between steps
    assert adh("R2;D2", "DDRR") == 0.5  # either step, not both in order
    assert adh("R1;D1;D1;R1", "DDRR") == 0.75  # best is D,D,R: greedily taking R first would give 0.5
    assert adh("R2;X9;D2", "RRDD") == pytest.approx(2 / 3)
    assert adh("D2;R2", "DR") == 0.0
    assert task.plan_adherence("<answer>RRDD</answer>", GRID) == 0.0  # no plan
    assert task.plan_adherence("<plan>R2;D2</plan>", GRID) == 0.0  # no answer


def test_grid_generation_has_a_path_of_min_length():
    task = get_task("grid")
    for d in task.levels:
        cfg = task.config(d)
        for p in task.sample(30, d, seed=2):
            rows = p.meta["rows"]
            assert len(rows) == cfg.rows and all(len(r) == cfg.cols for r in rows)
            assert "".join(rows).count("S") == 1 and "".join(rows).count("G") == 1
            assert len(p.answer) >= cfg.min_dist
            assert p.prompt == "route " + "/".join(rows)


# -- sumprod -----------------------------------------------------------------------------------
SP = Problem(id="sp", task="sumprod", prompt="3*4+5*6+2*7=?", answer="56", difficulty=2, meta={"products": [[3, 4], [5, 6], [2, 7]]})


def test_sumprod_oracle_by_hand():
    task = get_task("sumprod")
    assert task.oracle(SP) == "<plan>3*4;5*6;2*7</plan><think>3*4=12;5*6=30;2*7=14;12+30=42;42+14=56</think><answer>56</answer>"
    p = task.generate(0, 0, 2)
    assert p.meta["subproblems"] == [{"prompt": f"{a}*{b}=?", "answer": str(a * b)} for a, b in p.meta["products"]]


def test_sumprod_decomposition_scoring():
    task = get_task("sumprod")
    for plan, want in [
        ("3*4;5*6;2*7", 1.0),
        ("2*7;4*3;6 * 5", 1.0),  # any order, either factor order
        ("3*4=12;5*6=30;2*7=14", 1.0),  # results after '=' are ignored
        ("3*4;5*6", 2 / 3),  # a part missing
        ("3*4;5*6;2*7;1*1", 3 / 4),  # an extra part
        ("3*4;3*4;5*6", 2 / 3),  # a part listed twice
        ("3*4;5*6;2*8", 2 / 3),  # a wrong part
        ("12+30+14", 0.0),
        ("", 0.0),
        (None, 0.0),
    ]:
        assert task.check_decomposition(plan, SP) == pytest.approx(want), plan


def test_sumprod_subproblems_and_compose():
    task = get_task("sumprod")
    subs = task.subproblems(SP)
    assert [(s.prompt, s.answer, s.id) for s in subs] == [("3*4=?", "12", "sp/part0"), ("5*6=?", "30", "sp/part1"), ("2*7=?", "14", "sp/part2")]
    assert all(s.meta["parent"] == "sp" for s in subs)
    assert task.verify("<answer>30</answer>", subs[1]) == 1.0 and task.verify("<answer>31</answer>", subs[1]) == 0.0
    assert task.compose(["12", "30", "14"], SP) == "56"
    assert task.compose(["12", " +30", "14.0"], SP) == "56"
    assert task.compose(["12", "x", "14"], SP) == ""
    assert task.compose(["12", None, "14"], SP) == ""
    with pytest.raises(ValueError):
        task.compose(["12"], SP)


# -- chains ------------------------------------------------------------------------------------
CH = Problem(id="ch", task="chains", prompt="4>5,2>3", answer="93", difficulty=2, meta={"chains": [[4, 5], [2, 3]]})


def test_chains_oracle_by_hand():
    task = get_task("chains")
    # 4 -> 1 -> 8 -> 5 -> 2 -> 9 and 2 -> 9 -> 6 -> 3: each step adds 7 and keeps the last digit
    assert task.oracle(CH) == "<plan>4>5;2>3</plan><think>5:4,4:1,3:8,2:5,1:2,0:9;3:2,2:9,1:6,0:3</think><answer>93</answer>"
    assert task.oracle(CH, think=False) == "<answer>93</answer>"
    assert task.verify("<answer>9 3</answer>", CH) == 1.0 and task.verify("<answer>39</answer>", CH) == 0.0
    p = task.generate(0, 0, 5)
    assert len(p.meta["chains"]) == 5 and all(7 <= k <= 9 for _, k in p.meta["chains"])
    assert p.prompt == ",".join(f"{s}>{k}" for s, k in p.meta["chains"])


def test_chains_answers_keep_leading_zeros():
    task = get_task("chains")
    p = Problem(id="z", task="chains", prompt="3>1,0>0", answer="00", difficulty=1, meta={"chains": [[3, 1], [0, 0]]})
    assert task.oracle(p).endswith("<answer>00</answer>")
    assert task.verify("<answer>00</answer>", p) == 1.0 and task.verify("<answer>0</answer>", p) == 0.0


def test_chains_decomposition_scoring_and_compose():
    task = get_task("chains")
    for plan, want in [("4>5;2>3", 1.0), ("2>3;4 > 5", 1.0), ("4>5", 0.5), ("4>5;2>3;1>1", 2 / 3),
                       ("4>5;4>5", 0.5), ("5>4;2>3", 0.5), ("45", 0.0), ("", 0.0), (None, 0.0)]:
        assert task.check_decomposition(plan, CH) == pytest.approx(want), plan
    subs = task.subproblems(CH)
    assert [(s.prompt, s.answer, s.id) for s in subs] == [("4>5", "9", "ch/part0"), ("2>3", "3", "ch/part1")]
    assert task.compose(["9", " 3"], CH) == "93"
    assert task.compose(["9", "13"], CH) == "" and task.compose(["9", None], CH) == ""
    assert task.join_completion(["9", "3"], CH) == "<answer>93</answer>"
    with pytest.raises(ValueError):
        task.compose(["9"], CH)


def test_chains_subcall_trace_is_short_to_state_and_fits_where_the_serial_trace_does_not():
    """The warm start's sub-call trace for chains, and the token arithmetic the demo relies on: at the
    hardest level a chain's sub-call and the parent (results included) fit 128 tokens, the serial
    trace does not, and the critical path is under 0.6 of the serial trace."""
    from ponder.policy.tokenizer import build_tokenizer
    from ponder.sft.data import serial_completion, subcall_example

    tok, task = build_tokenizer(), get_task("chains")
    ids, mask = subcall_example(task, CH, tok)
    assert tok.decode(ids[:-1]) == ("<spawn>4>5</spawn><spawn>2>3</spawn><join>"
                                    "<result>9</result><result>3</result><answer>93</answer>")
    assert [m for t, m in zip(ids, mask) if tok.decode([t]) == "<result>"] == [0, 0]  # injected: not learnt
    def n(text):
        return len(tok.encode(text, add_special_tokens=False)) + 1  # + EOS

    for p in task.sample(20, 5, seed=1):
        serial = n(serial_completion(task, p, True))
        child = max(n(serial_completion(task, s, True)) for s in task.subproblems(p))
        ids, mask = subcall_example(task, p, tok)
        assert serial > 128 and child <= 45 and len(ids) <= 49
        assert (sum(mask) + child) / serial < 0.6


# -- code (runs the real sandbox) --------------------------------------------------------------
def test_code_answers_are_judged_by_hidden_tests_in_the_sandbox():
    task = get_task("code")
    p = next(q for q in task.sample(40, 3, seed=0) if "greater than" in q.prompt)
    k = int(p.prompt.split("greater than ")[1].split(".")[0])
    fenced = f"<answer>```python\ndef f(xs):\n    total = 0\n    for x in xs:\n        if x > {k}:\n            total += x\n    return total\n```</answer>"
    assert task.verify(fenced, p) == 1.0
    off_by_one = f"<answer>def f(xs): return sum(x for x in xs if x >= {k})</answer>"
    # hard-codes the shown examples only: the hidden tests differ from them
    shown = {json.dumps(a[0]): want for a, want in p.meta["examples"]}
    memorised = f"<answer>def f(xs): return {shown!r}.get(__import__('json').dumps(xs))</answer>"
    forged = "<answer>def f(xs):\n    print('@@ponder-results@@[]')\n    return None</answer>"
    for text in [memorised, forged, "<answer>def f(xs) return 1</answer>", "<answer>import sys; sys.exit(0)</answer>"]:
        assert task.verify(text, p) == 0.0, text
    # `>=` instead of `>` differs only on inputs holding k itself (k > 0): derived from the tests
    differs = any(k in args[0] and k != 0 for args, _ in p.meta["tests"])
    assert task.verify(off_by_one, p) == (0.0 if differs else 1.0)


def test_code_infinite_loop_scores_zero_within_the_limit():
    import time

    task = get_task("code")
    p = task.generate(0, 0, 1)
    t0 = time.monotonic()
    assert task.verify("<answer>def f(x):\n    while True:\n        pass</answer>", p, timeout_s=1.0) == 0.0
    assert time.monotonic() - t0 < 10
