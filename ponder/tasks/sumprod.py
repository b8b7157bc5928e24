"""`sumprod`: decomposable sum of products.

    prompt   3*4+5*6+2*7=?
    oracle   <plan>3*4;5*6;2*7</plan><think>3*4=12;5*6=30;2*7=14;12+30=42;42+14=56</think><answer>56</answer>

The parts (the products) are independent sub-problems whose answers combine by summing.
`meta["subproblems"]` records them as `{"prompt": "3*4=?", "answer": "12"}`, and
`subproblems(problem)` returns them as `sumprod` Problems with a single product each (so they
are verified, and have an oracle, exactly like any `sumprod` problem: integer exact match).
`compose(answers, problem)` sums the sub-answers.

A decomposition is written as a plan listing the parts, `<plan>3*4;5*6;2*7</plan>`;
`check_decomposition` scores it (see its docstring). Difficulty = number of products and the
digits of their first factor.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ponder.format import format_completion, split_plan
from ponder.tasks.base import Task, item_rng, parse_int, problem_id, register
from ponder.types import Problem

_PART_RE = re.compile(r"(\d{1,6})\*(\d{1,6})(?:=[+-]?\d*)?")


@dataclass(frozen=True)
class SumProdConfig:
    products: int = 3  # number of a*b parts
    a_high: int = 9  # first factor drawn from 2..a_high
    b_high: int = 9  # second factor drawn from 2..b_high


LEVELS = {
    1: SumProdConfig(products=2, a_high=9, b_high=9),  # 3*4+5*6
    2: SumProdConfig(products=3, a_high=9, b_high=9),  # 3*4+5*6+2*7
    3: SumProdConfig(products=3, a_high=99, b_high=9),  # 13*4+5*6+27*7
    4: SumProdConfig(products=4, a_high=99, b_high=9),
    5: SumProdConfig(products=5, a_high=99, b_high=9),
}


def _part(a: int, b: int) -> str:
    return f"{a}*{b}"


def _norm_part(text: str) -> tuple[int, int] | None:
    """'3 * 4' / '3*4=12' -> (3, 4) in sorted order (a*b and b*a name the same part)."""
    m = _PART_RE.fullmatch("".join(text.split()))
    return tuple(sorted((int(m.group(1)), int(m.group(2))))) if m else None


@register
class SumProd(Task):
    name = "sumprod"
    description = "sum of products a*b+c*d+... (difficulty = parts and digits); decomposes into the products"
    configs = LEVELS
    decomposable = True

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        products = [[rng.randint(2, cfg.a_high), rng.randint(2, cfg.b_high)] for _ in range(cfg.products)]
        return self._problem(problem_id(self.name, seed, index, difficulty), products, difficulty)

    def _problem(self, pid: str, products: list[list[int]], difficulty: int, **extra) -> Problem:
        return Problem(
            id=pid,
            task=self.name,
            prompt="+".join(_part(a, b) for a, b in products) + "=?",
            answer=str(sum(a * b for a, b in products)),
            difficulty=difficulty,
            meta={
                "products": products,
                "subproblems": [{"prompt": f"{_part(a, b)}=?", "answer": str(a * b)} for a, b in products],
                **extra,
            },
        )

    def verify(self, completion: str, problem: Problem) -> float:
        got = parse_int(self.extract(completion))
        return float(got is not None and got == int(problem.answer))

    def trace_values(self, problem: Problem) -> list[str]:
        """The products, then the running sums, as in the oracle's trace."""
        return [step.split("=")[1] for step in self._trace(problem)]

    def _trace(self, problem: Problem) -> list[str]:
        products = problem.meta["products"]
        out = [f"{_part(a, b)}={a * b}" for a, b in products]
        acc = products[0][0] * products[0][1]
        for a, b in products[1:]:
            out.append(f"{acc}+{a * b}={acc + a * b}")
            acc += a * b
        return out

    # -- decomposition ---------------------------------------------------------------------
    def subproblems(self, problem: Problem) -> list[Problem]:
        """One single-product `sumprod` Problem per part, ids `<parent id>/part<i>`."""
        return [
            self._problem(f"{problem.id}/part{i}", [[a, b]], problem.difficulty, parent=problem.id, part=i)
            for i, (a, b) in enumerate(problem.meta["products"])
        ]

    def compose(self, answers: list[str | None], problem: Problem) -> str:
        """The sum of the sub-answers as a string; '' when any sub-answer is not an integer.

        Raises ValueError when the number of answers differs from the number of parts.
        """
        if len(answers) != len(problem.meta["products"]):
            raise ValueError(f"{problem.id}: {len(answers)} answers for {len(problem.meta['products'])} parts")
        values = [parse_int(a) for a in answers]
        return "" if any(v is None for v in values) else str(sum(values))

    def join_completion(self, answers: list[str], problem: Problem) -> str:
        """The join step after sub-calls returned the products: the running sums, then the answer
        (`<think>12+30=42;42+14=56</think><answer>56</answer>`), as the serial trace ends."""
        values = [int(a) for a in answers]
        steps, acc = [], values[0]
        for v in values[1:]:
            steps.append(f"{acc}+{v}={acc + v}")
            acc += v
        return format_completion(str(acc), think=";".join(steps) if steps else None)

    def check_decomposition(self, plan_text: str | None, problem: Problem) -> float:
        """Score a decomposition plan such as `3*4;5*6;2*7` against the problem's parts.

        Steps are `a*b` (order of factors and of steps free; a trailing `=value` is ignored).
        Score = (parts matched, counted as multisets) / max(steps listed, parts), so 1.0 iff
        the listed steps are exactly the parts; missing, extra or malformed steps lower it
        proportionally (partial credit). No plan or an empty one scores 0.0.
        """
        steps = split_plan(plan_text or "")
        if not steps:
            return 0.0
        listed = Counter(p for p in map(_norm_part, steps) if p is not None)
        parts = Counter(tuple(sorted(p)) for p in problem.meta["products"])
        matched = sum((listed & parts).values())
        return matched / max(len(steps), sum(parts.values()))

    def oracle(self, problem: Problem, think: bool = True) -> str:
        if not think:
            return format_completion(problem.answer)
        plan = [_part(a, b) for a, b in problem.meta["products"]]
        return format_completion(problem.answer, think=";".join(self._trace(problem)), plan=plan)
