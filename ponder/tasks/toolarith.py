"""`toolarith`: arithmetic where a calculator pays only at the hard levels, the tools demo's task.

    level 1  3+4=?          a one-digit sum: the tiny model answers it from memory
    level 2  7*8=?          a one-digit product (100 facts)
    level 3  37*6=?         two digits by one
    level 4  23*17=?        two digits by two, both under 32
    level 5  47*86=?        two digits by two, both 32 or more: out of reach of the tiny model without a tool

    oracle      <answer>4042</answer>   (with think: partial products, then their sum, in <think>)
    tool trace  <tool name="calc">47*86</tool><output>4042</output><answer>4042</answer>

`tool_input(problem)` is the text a `calc` call takes (the expression); the warm start uses it to
write tool traces (`ponder sft --tool-prob p`, the output masked out of the loss as a runtime
would inject it). The demo's warm start writes no traces (`--think-prob 0`), so its only ways to a
right answer at level 5 are memory and the tool. Verification: integer exact match
(`parse_int`), like `arith`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.format import format_completion
from ponder.tasks.base import Task, item_rng, parse_int, problem_id, register
from ponder.types import Problem


@dataclass(frozen=True)
class ToolArithConfig:
    a: tuple[int, int] = (0, 9)  # range of the first operand (inclusive)
    b: tuple[int, int] = (0, 9)  # range of the second
    op: str = "*"  # '+' or '*'


# Short operands and results: the tiny model must copy the operands into its call and the result
# into its answer, and it copies few digits reliably (with 3-4 digit operands and 5-7 digit results
# the warm start's calls were right 0% of the time at levels 4-5: docs/tools.md). From level 3 up
# every answer of a level has one length (3, 3, 4 digits), so the result sits at one fixed distance.
LEVELS = {
    1: ToolArithConfig((0, 9), (0, 9), "+"),  # 3+4=?
    2: ToolArithConfig((0, 9), (0, 9), "*"),  # 7*8=?
    3: ToolArithConfig((20, 99), (5, 9), "*"),  # 37*6=?   (100..891)
    4: ToolArithConfig((10, 31), (10, 31), "*"),  # 23*17=?  (100..961)
    5: ToolArithConfig((32, 99), (32, 99), "*"),  # 47*86=?  (1024..9801)
}


@register
class ToolArith(Task):
    name = "toolarith"
    description = "sums and products whose hard levels (big operands) need a calculator; the tools demo's task"
    configs = LEVELS

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        a, b = rng.randint(*cfg.a), rng.randint(*cfg.b)
        value = a + b if cfg.op == "+" else a * b
        return Problem(id=problem_id(self.name, seed, index, difficulty), task=self.name, prompt=f"{a}{cfg.op}{b}=?",
                       answer=str(value), difficulty=difficulty, meta={"a": a, "b": b, "op": cfg.op})

    def verify(self, completion: str, problem: Problem) -> float:
        got = parse_int(self.extract(completion))
        return float(got is not None and got == int(problem.answer))

    def tool_input(self, problem: Problem) -> str:
        """What a `calc` call for this problem takes: the expression of the prompt."""
        return f"{problem.meta['a']}{problem.meta['op']}{problem.meta['b']}"

    def oracle(self, problem: Problem, think: bool = True) -> str:
        return format_completion(problem.answer, think=trace(problem) if think else None)


def trace(problem: Problem) -> str:
    """The long-hand trace: `3+4=7`, or one partial product per digit of b, then their sum
    (`47*80=3760;47*6=282;3760+282=4042`)."""
    a, b, op = problem.meta["a"], problem.meta["b"], problem.meta["op"]
    if op == "+" or b < 10:
        return f"{a}{op}{b}={problem.answer}"
    digits = str(b)
    parts = [(a, int(d) * 10 ** (len(digits) - 1 - i)) for i, d in enumerate(digits)]
    steps = [f"{x}*{y}={x * y}" for x, y in parts]
    return ";".join([*steps, "+".join(str(x * y) for x, y in parts) + f"={problem.answer}"])
