"""Where training prompts come from: task generators or a `ponder curate` file, optionally
steered by a curriculum. The whole state is a JSON-able dict, so a checkpoint restores it.

    source = PromptSource.from_tasks(("arith",), levels=(1, 2, 3, 4, 5), seed=12345)
    problems = source.take(8)            # deterministic in (seed, cursor, curriculum state)
    source.state_dict() -> {"cursor": 8, "curriculum": {...}}

A task source generates item i = `cursor` from task `tasks[i % T]` at level
`levels[(i // T) % L]` (T tasks, L open levels), so the task and level mix is balanced, every
(task, level) pair comes up, and every problem is reproducible from the cursor alone. A file source walks a
seeded permutation of the file's problems (a new permutation per pass), skipping problems whose
level the curriculum has not opened.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ponder.errors import PonderError
from ponder.types import Problem


class PromptSource:
    def __init__(self, *, tasks: Sequence[str] = (), problems: Sequence[Problem] | None = None,
                 levels: Sequence[int] = (1, 2, 3, 4, 5), seed: int = 0, curriculum: Any = None):
        self.tasks, self.pool = tuple(tasks), list(problems) if problems is not None else None
        self.levels, self.seed, self.curriculum = tuple(levels), seed, curriculum
        self.cursor = 0
        if self.pool is not None and not self.pool:
            raise PonderError("the problems file holds no problems")

    @classmethod
    def from_tasks(cls, names: Sequence[str], **kw) -> "PromptSource":
        from ponder.tasks import get_task

        if not names:
            raise PonderError("a task source needs at least one task")
        tasks = [get_task(n) for n in names]
        levels = kw.pop("levels", tasks[0].levels)
        for task in tasks:
            for d in levels:
                task.check_difficulty(d)
        return cls(tasks=names, levels=levels, **kw)

    @classmethod
    def from_task(cls, name: str, **kw) -> "PromptSource":
        return cls.from_tasks((name,), **kw)

    @classmethod
    def from_file(cls, path: str, **kw) -> "PromptSource":
        from ponder.runs import read_problems

        return cls(problems=read_problems(path), **kw)

    def open_levels(self) -> tuple[int, ...]:
        levels = tuple(self.curriculum.levels()) if self.curriculum is not None else self.levels
        return levels or self.levels

    def take(self, n: int) -> list[Problem]:
        return [self._next() for _ in range(n)]

    def _next(self) -> Problem:
        levels = self.open_levels()
        if self.pool is None:
            from ponder.tasks import get_task

            i, n = self.cursor, len(self.tasks)
            self.cursor += 1
            return get_task(self.tasks[i % n]).generate(self.seed, i, levels[(i // n) % len(levels)])
        any_open = any(p.difficulty in levels for p in self.pool)
        while True:  # terminates: within one pass over the pool an open problem comes up
            epoch, k = divmod(self.cursor, len(self.pool))
            order = list(range(len(self.pool)))
            random.Random(f"ponder/rl/data/{self.seed}/{epoch}").shuffle(order)
            self.cursor += 1
            p = self.pool[order[k]]
            if p.difficulty in levels or not any_open:
                return p

    def state_dict(self) -> dict:
        return {"cursor": self.cursor,
                "curriculum": self.curriculum.state_dict() if self.curriculum is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.cursor = int(state["cursor"])
        if self.curriculum is not None and state.get("curriculum") is not None:
            self.curriculum.load_state_dict(state["curriculum"])


def make_curriculum(levels: Sequence[int]):
    """A `ponder.curate.curriculum.Curriculum` over these levels (it starts on the easiest)."""
    from ponder.curate.curriculum import Curriculum

    return Curriculum(levels=tuple(levels))
