"""The Task contract and the task registry.

A task generates `Problem`s deterministically from (seed, index, difficulty), verifies a
completion against a problem (a float in [0, 1]) and can write an oracle completion in ponder's
output format that scores 1.0. Training rewards and evaluation call the same `verify`.

Determinism: every item draws from `random.Random(item_seed(...))`, seeded with a string, which
CPython hashes with SHA-512, so generation is independent of PYTHONHASHSEED and of the process,
and any item is reproducible on its own.
"""

from __future__ import annotations

import importlib
import random
import re
from dataclasses import dataclass
from typing import Callable

from ponder.errors import PonderError
from ponder.format import extract_answer
from ponder.registry import Registry
from ponder.types import Problem

LEVELS = (1, 2, 3, 4, 5)


def item_rng(task: str, seed: int, index: int, difficulty: int) -> random.Random:
    """The RNG for one item: reproducible from its coordinates alone."""
    return random.Random(f"ponder/{task}/{seed}/{difficulty}/{index}")


def problem_id(task: str, seed: int, index: int, difficulty: int) -> str:
    return f"{task}/d{difficulty}/s{seed}/{index}"


class NoOracle(NotImplementedError):
    """The task has no reference answer for this problem (`task.has_oracle` is False)."""


@dataclass(frozen=True)
class PlanCheck:
    """Result of replaying a plan in a task's simulator."""

    parsed: bool  # the plan text parses into steps
    valid: bool  # every step is legal in the state it is applied to
    goal_reached: bool  # the final state is a goal state
    first_error: int | None  # index of the first illegal/unparseable step, or None
    steps: int  # number of steps in the plan


class Task:
    """Base class for tasks. Subclasses set `name`, `description` and implement `generate`.

    Optional capabilities, each `None`/absent by default so metrics can ask for them:
    - `check_plan(plan_text, problem) -> PlanCheck` (plannable tasks)
    - `subproblems(problem) -> list[Problem]` and `compose(answers, problem) -> str` (decomposable)
    - `trace_values(problem) -> list[str]` intermediate results of the worked solution
    """

    name: str = ""
    description: str = ""
    levels: tuple[int, ...] = LEVELS
    math: bool = True  # parse \\boxed{} answers too
    plannable: bool = False
    decomposable: bool = False
    has_oracle: bool = True  # False: `oracle` raises NoOracle (the items carry no reference answer)
    gameable: str = ""  # why the verifier can be satisfied without solving the item ("" if not known to)
    # difficulty level -> the family's config dataclass for that level (reasoning-gym style)
    configs: dict = {}

    # -- generation ---------------------------------------------------------------------
    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        raise NotImplementedError

    def sample(self, n: int, difficulty: int, seed: int = 0, start: int = 0) -> list[Problem]:
        self.check_difficulty(difficulty)
        if n < 0:
            raise PonderError(f"n must be >= 0, got {n}")
        return [self.generate(seed, start + i, difficulty) for i in range(n)]

    def config(self, difficulty: int):
        """The config of one difficulty level (PonderError for a level the task lacks)."""
        self.check_difficulty(difficulty)
        return self.configs[difficulty]

    def check_difficulty(self, difficulty: int) -> None:
        if difficulty not in self.levels:
            raise PonderError(
                f"task {self.name!r} has difficulty levels {self.levels[0]}..{self.levels[-1]}, got {difficulty}"
            )

    # -- verification ---------------------------------------------------------------------
    def extract(self, completion: str) -> str | None:
        return extract_answer(completion, math=self.math)

    def verify(self, completion: str, problem: Problem) -> float:
        """Score in [0, 1]. Default: exact match of the extracted answer, whitespace-insensitive."""
        got = self.extract(completion)
        if got is None:
            return 0.0
        return float("".join(got.split()) == "".join(problem.answer.split()))

    def oracle(self, problem: Problem, think: bool = True) -> str:
        """A completion scoring 1.0; with think=True it carries the worked trace in <think>."""
        raise NotImplementedError

    def info(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "levels": list(self.levels),
            "plannable": self.plannable,
            "decomposable": self.decomposable,
            "has_oracle": self.has_oracle,
            "gameable": self.gameable,
        }


_INT_RE = re.compile(r"[+-]?\d+(?:\.0*)?")


def parse_int(text: str | None) -> int | None:
    """An integer answer, or None: whitespace anywhere, a leading '+' and a zero fraction
    (`41.0`) are accepted; anything else (`41.5`, `4e1`, `forty-one`, `41 apples`) is not."""
    if text is None:
        return None
    s = "".join(text.split())
    if not _INT_RE.fullmatch(s) or len(s) > 40:  # 40 digits: no int() of a huge string
        return None
    return int(s.split(".")[0])


# -- registry --------------------------------------------------------------------------------
TASKS: Registry[Task] = Registry("task", hint="also rg/<name>, file:<path>")
# name prefixes resolved on demand: "rg/<dataset>" (reasoning-gym), "file:<path>" (datasets)
_RESOLVERS: dict[str, str] = {
    "rg/": "ponder.tasks.gym:resolve",
    "file:": "ponder.tasks.files:resolve",
}


def register(task_cls: type[Task] | None = None, *, name: str | None = None) -> Callable:
    """Class decorator: instantiate and register a task under `name` (default `cls.name`).

    Duplicate names are refused (ValueError).
    """

    def deco(cls: type[Task]) -> type[Task]:
        task = cls()
        key = name or task.name
        if not key:
            raise ValueError(f"{cls.__name__} has no name")
        task.name = key
        TASKS.register(key, task)
        return cls

    return deco(task_cls) if task_cls is not None else deco


def register_instance(task: Task) -> Task:
    """Register an already-built task under its own name (file datasets given a name)."""
    return TASKS.register(task.name, task)


def list_tasks() -> list[str]:
    """Names of the registered tasks, sorted (rg/ and file: tasks resolve on demand)."""
    return TASKS.names()


def get_task(name: str) -> Task:
    """Look a task up by name; unknown names fail with one line listing close matches."""
    if name in TASKS:
        return TASKS.get(name)
    for prefix, target in _RESOLVERS.items():
        if name.startswith(prefix):
            module, fn = target.split(":")
            return getattr(importlib.import_module(module), fn)(name[len(prefix):])
    raise TASKS.unknown(name)


def warnings_for(task_names) -> list[str]:
    """One line per task whose verifier can be gamed, for a training run to print before it starts."""
    out = []
    for name in task_names:
        reason = get_task(name).gameable
        if reason:
            out.append(f"warning: {name}'s reward can be gamed: {reason}")
    return out
