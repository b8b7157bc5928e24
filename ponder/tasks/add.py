"""`add`: multi-digit addition of two numbers, with a column-by-column carry trace.

    prompt   347+586=?
    oracle   <think>7+6=13;4+8+1=13;3+5+1=9</think><answer>933</answer>

The trace adds one column per step, rightmost first: `a+b[+carry]=s`. The carry into the next
column is the tens digit of `s` (written as `+1` only when it is 1), and the answer's digits
are the units digits of the steps read in reverse, led by a final carry. Difficulty is the
number of digits (1..5); both numbers have exactly that many digits (level 1: 0..9).
Verification: integer exact match, like `arith`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.format import format_completion
from ponder.tasks.base import Task, item_rng, parse_int, problem_id, register
from ponder.types import Problem


@dataclass(frozen=True)
class AddConfig:
    digits: int = 3  # digits of each operand


LEVELS = {d: AddConfig(digits=d) for d in range(1, 6)}  # 3+4, 47+85, 347+586, ...


def columns(a: int, b: int) -> list[str]:
    """The carry trace: one `x+y[+1]=s` step per column, rightmost column first."""
    out, carry = [], 0
    da, db = str(a)[::-1], str(b)[::-1]
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        s = x + y + carry
        out.append(f"{x}+{y}{'+1' if carry else ''}={s}")
        carry = s // 10
    return out


@register
class Add(Task):
    name = "add"
    description = "multi-digit addition (difficulty = digits); trace = column sums with carries"
    configs = LEVELS

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        lo = 0 if cfg.digits == 1 else 10 ** (cfg.digits - 1)
        a, b = rng.randint(lo, 10**cfg.digits - 1), rng.randint(lo, 10**cfg.digits - 1)
        return Problem(
            id=problem_id(self.name, seed, index, difficulty),
            task=self.name,
            prompt=f"{a}+{b}=?",
            answer=str(a + b),
            difficulty=difficulty,
            meta={"operands": [a, b]},
        )

    def verify(self, completion: str, problem: Problem) -> float:
        got = parse_int(self.extract(completion))
        return float(got is not None and got == int(problem.answer))

    def trace_values(self, problem: Problem) -> list[str]:
        """The column sums of the worked solution, rightmost column first."""
        return [step.split("=")[1] for step in columns(*problem.meta["operands"])]

    def oracle(self, problem: Problem, think: bool = True) -> str:
        trace = ";".join(columns(*problem.meta["operands"]))
        return format_completion(problem.answer, think=trace if think else None)
