"""The pieces of the rg/ adapter that need no reasoning-gym: the entry codec that carries rg's
entries inside a Problem, and the guards that keep answers from running as code in rg's scorers
(standard library only, so these run in the default suite)."""

from __future__ import annotations

import builtins
import json
import math
import os

import pytest

from ponder.tasks import rg_core, rg_guard
from ponder.types import Problem


def roundtrip(x):
    return rg_core.decode(json.loads(json.dumps(rg_core.encode(x))))


def test_codec_keeps_python_types_json_loses():
    meta = {"cells": [(0, 1), (2, 3)], "range": (1, 5), "seen": {3, 1, 2}, "frozen": frozenset({"a"}),
            "by_node": {0: "red", 1: "blue"}, "pair_keys": {(1, 2): [3]}, "inf": math.inf, "none": None,
            "nested": [{"t": ((1,), [2])}], "$rg": "a key that looks like the tag"}
    back = roundtrip(meta)
    assert back == meta
    assert type(back["range"]) is tuple and type(back["cells"][0]) is tuple and type(back["seen"]) is set
    assert type(back["frozen"]) is frozenset and list(back["by_node"]) == [0, 1]
    assert math.isnan(roundtrip(math.nan))


def test_codec_is_canonical_for_sets_and_refuses_objects():
    # set order must not leak into the JSON (it depends on the hash seed for strings)
    assert json.dumps(rg_core.encode({"b", "a", "c"})) == json.dumps(rg_core.encode({"c", "a", "b"}))
    with pytest.raises(TypeError, match="cannot carry a object"):
        rg_core.encode({"x": object()})
    assert rg_core.carry({"question": "q", "answer": "a", "metadata": {"x": object()}}) == {}


def test_carry_compresses_large_metadata_and_uncarry_rebuilds_the_entry():
    entry = {"question": "q?", "answer": "42", "metadata": {"grid": ["." * 100] * 400, "size": (20, 20)}}
    carried = rg_core.carry(entry)
    assert set(carried) == {"metadata_z"} and len(carried["metadata_z"]) < 2000  # 40 KB of dots
    p = Problem(id="x", task="rg/x", prompt="q?", answer="42", difficulty=1, meta={"rg": {"carried": carried}})
    assert Problem.from_json(p.to_json()) == p
    assert rg_core.uncarry(carried, "q?", "42") == entry
    small = {"question": "q", "answer": None, "metadata": {"n": 1}}  # no reference answer: None travels too
    assert rg_core.carry(small) == {"answer": None, "metadata": {"n": 1}}
    assert rg_core.uncarry(rg_core.carry(small), "q", "") == small
    assert rg_core.uncarry({}, "q", "a") is None  # nothing carried: the scorer regenerates


def test_safe_eval_gives_values_never_code():
    ev = rg_guard.safe_eval
    assert ev("[[1, 2], [3, 4]]") == [[1, 2], [3, 4]]
    assert ev("((0x3a + 0x1b) >> 1) * -2") == -84  # bitwise_arithmetic's problems: (58 + 27) >> 1 = 42
    assert ev("{'a': (1, 2.5), 'b': None}") == {"a": (1, 2.5), "b": None}
    assert ev("1 < 2 <= 2 and not False") is True
    hostile = ["__import__('os').system('true')", "open('/etc/passwd').read()", "(1).__class__",
               "[x for x in (1, 2)]", "lambda: 1", "len('abc')", "9 ** 9 ** 9", "1 << 10 ** 9", "'a' * 10 ** 9",
               "f'{1}'", "x"]
    for h in hostile:
        with pytest.raises((ValueError, SyntaxError)):
            ev(h)


@pytest.mark.parametrize("dataset, answer, ok", [
    ("countdown", "(3 + 5) * 7 - 2 / 1", True),
    ("countdown", "-(4*6)", True),
    ("countdown", "2 ** 3", False),                         # countdown's answers are + - * / only
    ("countdown", "__import__('os').system('x')", False),
    ("puzzle24", "8 / (3 - 8 / 3)", True),
    ("puzzle24", "1.5 * 16", False),                        # integers only
    ("simple_integration", "-3*X**3*sin(X) - 9*X**2*cos(X) + 18*X*sin(X) + C", True),
    ("simple_integration", "x**2/2 + log(x) + exp(2*x) + sqrt(x) + C", True),
    ("intermediate_integration", "eval(chr(95) + chr(95))", False),   # only math functions may be called
    ("intermediate_integration", "x + open", False),                  # no builtins, called or not
    ("intermediate_integration", "x.__class__", False),
    ("intermediate_integration", "Symbol('x')", False),               # no strings, no other calls
    ("intermediate_integration", "Integral(x**3*cos(x), x) + C", False),  # rg accepts this for any problem
    ("intermediate_integration", "sin(x=1)", False),
    ("polynomial_multiplication", " + ".join(f"{k}*z**{k}" for k in range(1000)), True),  # long: a flat walk
    ("n_queens", "anything at all", True),                  # not an eval-ing-by-sympy dataset: safe_eval guards it
])
def test_answer_grammar_of_the_sympy_scorers(dataset, answer, ok):
    assert rg_guard.answer_allowed(dataset, answer) is ok


def test_guard_replaces_eval_and_exec_in_the_scoring_child():
    pid = os.fork()
    if pid == 0:  # the guard is for the scoring child: install it in a throwaway fork
        try:
            rg_guard.guard("n_queens")
            ok = eval("[1, (2, 3)]") == [1, (2, 3)]
            for attack in ("__import__('os')", "exec('x = 1')"):
                try:
                    eval(attack)
                    ok = False
                except (ValueError, RuntimeError):
                    pass
            try:
                exec("x = 1")
                ok = False
            except RuntimeError:
                pass
        finally:
            os._exit(0 if ok else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert builtins.eval is not rg_guard.safe_eval  # this process is untouched
    pid = os.fork()
    if pid == 0:  # sympy's parse_expr needs the real eval: those datasets keep it (their answers are checked)
        rg_guard.guard("countdown")
        os._exit(0 if builtins.eval is not rg_guard.safe_eval else 1)
    assert os.waitpid(pid, 0)[1] == 0


def test_sandbox_process_fixes_the_hash_seed_for_the_scoring_server():
    from ponder.verify.sandbox import SandboxProcess

    def hashes(**kw):
        proc = SandboxProcess("import sys\nprint(hash('ponder'), sys.flags.isolated, sys.flags.no_user_site)", **kw)
        try:
            return proc.proc.stdout.readline().decode().split()
        finally:
            proc.close()

    fixed = hashes(hash_seed=0)
    assert fixed == hashes(hash_seed=0) and fixed[1:] == ["0", "1"]  # -s -P, not -I (which drops PYTHONHASHSEED)
    assert len({hashes()[0] for _ in range(3)}) > 1  # without it, a random seed per process
