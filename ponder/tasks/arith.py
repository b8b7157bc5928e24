"""`arith`: chained addition and subtraction, the demo task.

    prompt   12+7-3+25=?
    oracle   <think>12+7=19;19-3=16;16+25=41</think><answer>41</answer>
    no-think <answer>41</answer>

Built for a few-million-parameter character-level model: the prompt is a compact printable
ASCII expression and the trace is the running partial sums, one `a+b=c` step per operator, so
every step is a single two-number addition or subtraction the model can learn. Levels 1-2
(two or three one-digit terms) are learnable as a lookup without a trace; levels 4-5 (five or
six two-digit terms) carry the running sum across many steps and practically need the trace.
The longest level-5 oracle completion is 100 characters.

Verification: the last <answer> (or \\boxed{}) outside <think>, read as an integer by
`parse_int` (whitespace and a leading `+` ignored, `41.0` accepted, `41.5` not), must equal the
gold integer exactly. Answers may be negative.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.format import format_completion
from ponder.tasks.base import Task, item_rng, parse_int, problem_id, register
from ponder.types import Problem


@dataclass(frozen=True)
class ArithConfig:
    terms: int = 4  # numbers in the chain
    low: int = 1  # smallest term
    high: int = 49  # largest term
    p_minus: float = 0.5  # chance that each operator after the first term is '-'


LEVELS = {
    1: ArithConfig(terms=2, low=0, high=9),  # 2+3=?
    2: ArithConfig(terms=3, low=0, high=9),  # 7-2+5=?
    3: ArithConfig(terms=4, low=1, high=49),  # 12+7-3+25=?
    4: ArithConfig(terms=5, low=10, high=99),  # 47+18-93+55-20=?
    5: ArithConfig(terms=6, low=10, high=99),  # 63-28+91-47+12-85=?
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
    description = "chained + and - of integers (difficulty = terms and digits); trace = running sums"
    configs = LEVELS

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        terms = [rng.randint(cfg.low, cfg.high)]
        for _ in range(cfg.terms - 1):
            t = rng.randint(cfg.low, cfg.high)
            terms.append(-t if rng.random() < cfg.p_minus else t)
        prompt = str(terms[0]) + "".join(f"{'-' if t < 0 else '+'}{abs(t)}" for t in terms[1:]) + "=?"
        return Problem(
            id=problem_id(self.name, seed, index, difficulty),
            task=self.name,
            prompt=prompt,
            answer=str(sum(terms)),
            difficulty=difficulty,
            meta={"terms": terms},  # signed: 12+7-3 -> [12, 7, -3]
        )

    def verify(self, completion: str, problem: Problem) -> float:
        got = parse_int(self.extract(completion))
        return float(got is not None and got == int(problem.answer))

    def trace_values(self, problem: Problem) -> list[str]:
        """The running partial sums of the worked solution, e.g. ['19', '16', '41']."""
        return [str(new) for _, _, _, new in steps(problem.meta["terms"])]

    def oracle(self, problem: Problem, think: bool = True) -> str:
        trace = ";".join(f"{a}{op}{b}={c}" for a, op, b, c in steps(problem.meta["terms"]))
        return format_completion(problem.answer, think=trace if think else None)
