"""`code`: write a small Python function from a spec and examples; hidden unit tests decide.

    prompt   Write a Python function f(xs) that returns the sum of the elements of xs greater
             than 3. Examples: f([1, 5, 7]) == 12; f([]) == 0          (one line)
    oracle   <think>keep x > 3, then sum</think><answer>def f(xs): return sum(x for x in xs if x > 3)</answer>

Problems come from templates (level 1 integer arithmetic, 2 string operations, 3 list
operations, 4 combined filters and maps, 5 loops with state), with random constants and
random inputs. The prompt shows two examples; `meta["tests"]` holds the hidden tests
(`[args, expected]` pairs, the shown examples excluded), computed by the template's trusted
reference function at generation time.

The answer is the function's source in <answer>, optionally inside a ```python fence.
Verification runs it ONLY in `ponder.verify.sandbox.run_python` (a separate, limited
process): a harness appended to the source reads the hidden tests' arguments from stdin,
calls the function and prints the results, which are compared with the expected values here,
in the caller. The expected values never enter the sandbox. Score 1.0 iff every hidden test
passes; a crash, a timeout or missing output scores 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from ponder.format import format_completion
from ponder.tasks.base import Task, item_rng, problem_id, register
from ponder.types import Problem

MAX_SOURCE = 10_000  # characters; longer answers score 0 without running
# Sandbox wall-clock limit per verification: under verify_batch's default 5 s per item, so the
# sandbox (not the pool) is what stops a slow answer.
TIMEOUT_S = 3.0
_FENCE_RE = re.compile(r"```(?:python|py)?[ \t]*\n?(.*?)```", re.S)
_MARK = "@@ponder-results@@"
_HARNESS = f"""

import json as _json, sys as _sys
_results = []
for _args in _json.loads(_sys.stdin.read()):
    try:
        _results.append(["ok", f(*_args)])
    except BaseException as _e:
        _results.append(["error", type(_e).__name__])
_sys.stdout.write("\\n{_MARK}" + _json.dumps(_results, default=repr) + "\\n")
"""


@dataclass(frozen=True)
class Template:
    arg: str  # parameter name: x (int), s (str) or xs (list of int)
    spec: str  # what f returns, formatted with the params
    how: str  # the oracle's <think>: the approach in a few words
    source: str  # the oracle's body expression, formatted with the params
    ref: Callable[..., Any]  # trusted reference: ref(params, arg) -> expected
    params: Callable[..., dict]  # rng -> params
    inputs: Callable[..., Any] | None = None  # rng -> one argument; default by `arg` (_INPUTS)


def _ints(rng, n_max=6, lo=-9, hi=20):
    return [rng.randint(lo, hi) for _ in range(rng.randint(0, n_max))]


def _word(rng, n_max=8):
    return "".join(rng.choice("abcdeiou") for _ in range(rng.randint(0, n_max)))


def _words(rng):
    return " ".join(_word(rng, 5) or "a" for _ in range(rng.randint(0, 5)))


def _longest_run(xs):
    best = run = 0
    for i, x in enumerate(xs):
        run = run + 1 if i and xs[i - 1] == x else 1
        best = max(best, run)
    return best


def _running(xs):
    out, acc = [], 0
    for x in xs:
        acc += x
        out.append(acc)
    return out


TEMPLATES: dict[int, list[Template]] = {
    1: [  # integer arithmetic
        Template("x", "x times {a} plus {b}", "multiply, then add", "x * {a} + {b}", lambda p, x: x * p["a"] + p["b"], lambda r: {"a": r.randint(2, 9), "b": r.randint(1, 20)}),
        Template("x", "x squared minus {a}", "square, then subtract", "x * x - {a}", lambda p, x: x * x - p["a"], lambda r: {"a": r.randint(1, 20)}),
        Template("x", "the larger of x and {a}", "compare with max", "max(x, {a})", lambda p, x: max(x, p["a"]), lambda r: {"a": r.randint(-5, 10)}),
        Template("x", "x modulo {a}", "use %", "x % {a}", lambda p, x: x % p["a"], lambda r: {"a": r.randint(2, 9)}),
    ],
    2: [  # string operations
        Template("s", "s reversed", "slice backwards", "s[::-1]", lambda p, s: s[::-1], lambda r: {}),
        Template("s", "s in upper case", "use upper()", "s.upper()", lambda p, s: s.upper(), lambda r: {}),
        Template("s", "s repeated {k} times", "multiply the string", "s * {k}", lambda p, s: s * p["k"], lambda r: {"k": r.randint(2, 4)}),
        Template("s", "the number of times '{c}' occurs in s", "use count()", "s.count('{c}')", lambda p, s: s.count(p["c"]), lambda r: {"c": r.choice("aeiou")}),
    ],
    3: [  # list operations
        Template("xs", "the sum of the elements of xs greater than {k}", "keep x > {k}, then sum", "sum(x for x in xs if x > {k})", lambda p, xs: sum(x for x in xs if x > p["k"]), lambda r: {"k": r.randint(0, 9)}),
        Template("xs", "the largest element of xs, or {d} if xs is empty", "max with a default", "max(xs, default={d})", lambda p, xs: max(xs, default=p["d"]), lambda r: {"d": r.randint(-3, 0)}),
        Template("xs", "the list of the elements of xs each multiplied by {k}", "map x -> x*{k}", "[x * {k} for x in xs]", lambda p, xs: [x * p["k"] for x in xs], lambda r: {"k": r.randint(2, 9)}),
        Template("xs", "the number of even elements of xs", "count x % 2 == 0", "sum(1 for x in xs if x % 2 == 0)", lambda p, xs: sum(1 for x in xs if x % 2 == 0), lambda r: {}),
    ],
    4: [  # combined filters and maps
        Template("xs", "the list of x*{k} for the elements x of xs divisible by {m}, in order", "filter x % {m} == 0, map x*{k}", "[x * {k} for x in xs if x % {m} == 0]", lambda p, xs: [x * p["k"] for x in xs if x % p["m"] == 0], lambda r: {"k": r.randint(2, 5), "m": r.randint(2, 4)}),
        Template("xs", "the sum of the squares of the odd elements of xs", "filter odd, square, sum", "sum(x * x for x in xs if x % 2)", lambda p, xs: sum(x * x for x in xs if x % 2), lambda r: {}),
        Template("s", "s with every vowel (a, e, i, o, u) removed", "keep non-vowels, join", "''.join(c for c in s if c not in 'aeiou')", lambda p, s: "".join(c for c in s if c not in "aeiou"), lambda r: {}),
        Template("xs", "the distinct elements of xs in decreasing order", "set, then sort reversed", "sorted(set(xs), reverse=True)", lambda p, xs: sorted(set(xs), reverse=True), lambda r: {}),
    ],
    5: [  # loops with state
        Template("xs", "the list of running sums of xs (the i-th item is xs[0] + ... + xs[i])", "accumulate a running total", "[sum(xs[:i + 1]) for i in range(len(xs))]", lambda p, xs: _running(xs), lambda r: {}),
        Template("xs", "the second largest distinct value in xs, or None if there is none", "sort the distinct values, take the second", "(sorted(set(xs))[-2] if len(set(xs)) > 1 else None)", lambda p, xs: sorted(set(xs))[-2] if len(set(xs)) > 1 else None, lambda r: {}),
        Template("xs", "the length of the longest run of equal adjacent elements in xs (0 if empty)", "scan, counting the current run", "max([j - i for i in range(len(xs)) for j in range(i + 1, len(xs) + 1) if len(set(xs[i:j])) == 1], default=0)", lambda p, xs: _longest_run(xs), lambda r: {}),
        Template("s", "the number of words (separated by spaces) in s that start with '{c}'", "split on spaces, count by first letter", "sum(1 for w in s.split() if w.startswith('{c}'))", lambda p, s: sum(1 for w in s.split() if w.startswith(p["c"])), lambda r: {"c": r.choice("abcde")}, _words),
    ],
}

_INPUTS = {  # arg name -> rng -> one argument
    "x": lambda r: r.randint(-20, 20),
    "s": _word,
    "xs": lambda r: [r.choice([1, 2, 2, 3]) for _ in range(r.randint(0, 7))] if r.random() < 0.3 else _ints(r),
}


@dataclass(frozen=True)
class CodeConfig:
    examples: int = 2  # shown in the prompt
    hidden: int = 6  # hidden tests that decide the score


LEVELS = {d: CodeConfig() for d in range(1, 6)}


def extract_source(answer: str) -> str:
    """The function source: the first ```python fenced block of the answer, else the answer."""
    m = _FENCE_RE.search(answer)
    return (m.group(1) if m else answer).strip()


@register
class Code(Task):
    name = "code"
    description = "write a Python function from a spec and examples (hidden tests run in the sandbox)"
    configs = LEVELS
    math = False

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        t_index = rng.randrange(len(TEMPLATES[difficulty]))
        t = TEMPLATES[difficulty][t_index]
        params = t.params(rng)
        gen = t.inputs or _INPUTS[t.arg]
        seen: list = []
        for _ in range(200):  # distinct inputs; deterministic via rng
            a = gen(rng)
            if a not in seen:
                seen.append(a)
            if len(seen) == cfg.examples + cfg.hidden:
                break
        cases = [[[a], t.ref(params, a)] for a in seen]
        shown, hidden = cases[: cfg.examples], cases[cfg.examples :]
        examples = "; ".join(f"f({a[0]!r}) == {want!r}" for a, want in shown)
        prompt = f"Write a Python function f({t.arg}) that returns {t.spec.format(**params)}. Examples: {examples}"
        source = f"def f({t.arg}): return {t.source.format(**params)}"
        return Problem(
            id=problem_id(self.name, seed, index, difficulty),
            task=self.name,
            prompt=prompt,
            answer=source,
            difficulty=difficulty,
            meta={"template": t_index, "how": t.how.format(**params), "tests": hidden, "examples": shown},
        )

    def verify(self, completion: str, problem: Problem, timeout_s: float = TIMEOUT_S, memory_mb: int = 512) -> float:
        """1.0 iff the answer's function passes every hidden test, run in the sandbox."""
        from ponder.verify.sandbox import run_python  # only here: the sandbox is the one way in

        got = self.extract(completion)
        if not got:
            return 0.0
        source = extract_source(got)
        if not source or len(source) > MAX_SOURCE:
            return 0.0
        tests = problem.meta["tests"]
        result = run_python(source + _HARNESS, stdin=json.dumps([args for args, _ in tests]), timeout_s=timeout_s, memory_mb=memory_mb)
        if result.timed_out:
            return 0.0
        lines = [ln for ln in result.stdout.splitlines() if ln.startswith(_MARK)]
        if not lines:
            return 0.0
        try:
            results = json.loads(lines[-1][len(_MARK):])
        except ValueError:
            return 0.0
        if not isinstance(results, list) or len(results) != len(tests):
            return 0.0
        return float(all(r == ["ok", want] for r, (_, want) in zip(results, tests)))

    def oracle(self, problem: Problem, think: bool = True) -> str:
        return format_completion(problem.answer, think=problem.meta["how"] if think else None)
