"""`arith`: chained addition and subtraction of digits, the demo task.

    prompt   4+5-6+4-2=?
    oracle   <think>4+5=9;9-6=3;3+4=7;7-2=5</think><answer>5</answer>
    no-think <answer>5</answer>

Difficulty is the number of terms (2, 3, 4, 6, 8 at levels 1-5). Every term is one digit and the
chain is a walk on 0..9: each partial sum is a digit too, and no signed term (`+4`, `-6`) occurs
twice in one problem. So each trace step `a+b=c` is a one-digit fact, every step has the same
width, and the next term is found in the prompt by matching the term the previous step used
(unique, so the match is unambiguous). Without the trace the answer needs up to seven chained
facts done internally. docs/tasks.md says why the task has this shape and what the tiny model
learns with and without the trace. `ArithConfig(high=...)` widens the range of the walk (larger
numbers) for harder variants. The longest level-5 oracle completion is 74 characters.

Verification: the last <answer> (or \\boxed{}) outside <think>, read as an integer by
`parse_int` (whitespace and a leading `+` ignored, `5.0` accepted, `5.5` not), must equal the
gold integer exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.format import format_completion
from ponder.tasks.base import Task, item_rng, parse_int, problem_id, register
from ponder.types import Problem


@dataclass(frozen=True)
class ArithConfig:
    terms: int = 4  # numbers in the chain
    high: int = 9  # the first term and every partial sum lie in 0..high
    distinct: bool = True  # no signed term repeats in a problem (while a fresh one exists)


LEVELS = {
    1: ArithConfig(terms=2),  # 3+4=?
    2: ArithConfig(terms=3),  # 7-2+4=?
    3: ArithConfig(terms=4),  # 1+5-3+6=?
    4: ArithConfig(terms=6),  # 4+5-6+4-2+1=?
    5: ArithConfig(terms=8),  # 0+3+5-6+4+1-7+8=?
}


def steps(terms: list[int]) -> list[tuple[int, str, int, int]]:
    """The worked solution: (running sum, op, |term|, new running sum) per operator."""
    out, acc = [], terms[0]
    for t in terms[1:]:
        new = acc + t
        out.append((acc, "-" if t < 0 else "+", abs(t), new))
        acc = new
    return out


@register
class Arith(Task):
    name = "arith"
    description = "chained + and - of digits (difficulty = number of terms); trace = running sums"
    configs = LEVELS

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        acc = rng.randint(0, cfg.high)
        terms = [acc]
        for _ in range(cfg.terms - 1):
            nexts = [v for v in range(cfg.high + 1) if v != acc]
            fresh = [v for v in nexts if v - acc not in terms[1:]]
            new = rng.choice(fresh if cfg.distinct and fresh else nexts)
            terms.append(new - acc)
            acc = new
        prompt = str(terms[0]) + "".join(f"{'-' if t < 0 else '+'}{abs(t)}" for t in terms[1:]) + "=?"
        return Problem(
            id=problem_id(self.name, seed, index, difficulty),
            task=self.name,
            prompt=prompt,
            answer=str(sum(terms)),
            difficulty=difficulty,
            meta={"terms": terms},  # signed: 4+5-6 -> [4, 5, -6]
        )

    def verify(self, completion: str, problem: Problem) -> float:
        got = parse_int(self.extract(completion))
        return float(got is not None and got == int(problem.answer))

    def trace_values(self, problem: Problem) -> list[str]:
        """The running partial sums of the worked solution, e.g. ['9', '3', '7', '5']."""
        return [str(new) for _, _, _, new in steps(problem.meta["terms"])]

    def oracle(self, problem: Problem, think: bool = True) -> str:
        trace = ";".join(f"{a}{op}{b}={c}" for a, op, b, c in steps(problem.meta["terms"]))
        return format_completion(problem.answer, think=trace if think else None)
