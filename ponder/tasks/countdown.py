"""`countdown`: reach a target from given numbers with + - * /.

    prompt   make 22 from 3,5,7
    oracle   <think>3*5=15;15+7=22</think><answer>3*5+7</answer>

The answer is an arithmetic expression that uses each given number at most once (not every
number has to be used) and equals the target exactly. Generation builds a random expression
over all the numbers, combining two at a time with an operator that keeps every intermediate
value a positive integer (subtraction only larger minus smaller, division only when exact), so
a solution always exists; the gold answer is that expression and the oracle's trace its steps.
Difficulty = how many numbers (2..6) and their size.

Checking is safe by construction: the expression is parsed with `ast` and only integer
literals, + - * / and unary minus are evaluated, with `fractions.Fraction` (so `7/2*2` is
exactly 7). Anything else (names, calls, attributes, `**`, floats, strings) scores 0, as do
expressions over 200 characters and literals over 6 digits. No `eval`, no code execution.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from ponder.format import format_completion
from ponder.tasks.base import Task, item_rng, problem_id, register
from ponder.types import Problem

MAX_CHARS = 200  # longest expression checked; also bounds ast nesting depth
MAX_LITERAL = 999_999  # largest integer literal accepted

_OPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,  # Fraction division; b == 0 raises ZeroDivisionError
}
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True)
class CountdownConfig:
    numbers: int = 4  # how many numbers are given
    high: int = 10  # numbers are drawn from 1..high
    max_target: int = 1000  # regenerate the expression when the target exceeds this


LEVELS = {
    1: CountdownConfig(numbers=2, high=9),
    2: CountdownConfig(numbers=3, high=9),
    3: CountdownConfig(numbers=4, high=10),
    4: CountdownConfig(numbers=5, high=12),
    5: CountdownConfig(numbers=6, high=15),
}


def evaluate(expr: str) -> tuple[Fraction, list[int]] | None:
    """(value, integer literals used) of a + - * / expression, or None if it is not one.

    Never executes anything: the `ast` tree is walked and only the whitelisted nodes are
    interpreted. Division by zero, floats, `**`, names and calls give None.
    """
    expr = expr.strip()
    if not expr or len(expr) > MAX_CHARS:
        return None
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    used: list[int] = []

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = walk(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= MAX_LITERAL:
            used.append(node.value)
            return Fraction(node.value)
        raise ValueError(f"not allowed: {type(node).__name__}")

    try:
        value = walk(tree)
    except (ValueError, ZeroDivisionError, RecursionError):
        return None
    return value, used


def _render(node) -> str:
    """Expression text with only the parentheses precedence needs. node = int | (op, l, r)."""
    if isinstance(node, int):
        return str(node)
    op, left, right = node
    ls, rs = _render(left), _render(right)
    if not isinstance(left, int) and _PREC[left[0]] < _PREC[op]:
        ls = f"({ls})"
    if not isinstance(right, int) and (_PREC[right[0]] < _PREC[op] or (_PREC[right[0]] == _PREC[op] and op in "-/")):
        rs = f"({rs})"
    return f"{ls}{op}{rs}"


def _build(rng, numbers: list[int]):
    """Combine the numbers pairwise at random; returns (tree, value, steps)."""
    items = [(n, n) for n in numbers]  # (tree, value)
    steps = []
    while len(items) > 1:
        i, j = rng.sample(range(len(items)), 2)
        (ta, a), (tb, b) = items[i], items[j]
        if a < b:  # larger first, so '-' stays positive and '/' can be exact
            (ta, a), (tb, b) = (tb, b), (ta, a)
        ops = ["+", "*"] + (["-"] if a > b else []) + (["/"] if b > 1 and a % b == 0 else [])
        op = rng.choice(ops)
        value = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]
        steps.append(f"{a}{op}{b}={value}")
        items = [it for k, it in enumerate(items) if k not in (i, j)] + [((op, ta, tb), value)]
    return items[0][0], items[0][1], steps


@register
class Countdown(Task):
    name = "countdown"
    description = "reach the target with + - * / using each given number at most once; answer = expression"
    configs = LEVELS
    math = False  # the answer is an expression, not a \\boxed number

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        numbers = [rng.randint(1, cfg.high) for _ in range(cfg.numbers)]
        for _ in range(100):  # redraw targets out of range or trivially given; deterministic via rng
            tree, target, steps = _build(rng, numbers)
            if 0 < target <= cfg.max_target and target not in numbers:
                break
        expr = _render(tree)
        return Problem(
            id=problem_id(self.name, seed, index, difficulty),
            task=self.name,
            prompt=f"make {target} from {','.join(map(str, numbers))}",
            answer=expr,
            difficulty=difficulty,
            meta={"numbers": numbers, "target": target, "steps": steps},
        )

    def verify(self, completion: str, problem: Problem) -> float:
        """1.0 iff the answer evaluates to the target using each given number at most once."""
        got = self.extract(completion)
        result = evaluate(got) if got is not None else None
        if result is None:
            return 0.0
        value, used = result
        if Counter(used) - Counter(problem.meta["numbers"]):  # a number not given, or reused
            return 0.0
        return float(value == problem.meta["target"])

    def trace_values(self, problem: Problem) -> list[str]:
        return [s.split("=")[1] for s in problem.meta["steps"]]

    def oracle(self, problem: Problem, think: bool = True) -> str:
        return format_completion(problem.answer, think=";".join(problem.meta["steps"]) if think else None)
