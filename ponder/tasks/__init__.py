"""Verifiable tasks: the registry and the built-in procedural families.

    from ponder.tasks import get_task, list_tasks
    task = get_task("arith")
    problems = task.sample(n=4, difficulty=2, seed=0)
    task.verify(task.oracle(problems[0]), problems[0])  # 1.0

Built-in tasks register when their module is imported below (`@register`, into the `TASKS`
registry). `BUILTIN_TASKS` names them, and `tests/test_tasks.py` checks that each is registered,
so a family that silently stops registering fails a test; the task contract test runs over every
name `list_tasks()` returns.
"""

from ponder.tasks.base import (LEVELS, TASKS, NoOracle, PlanCheck, Task, get_task, item_rng, list_tasks, parse_int,
                               problem_id, register, warnings_for)

# Built-in families, imported for their @register side effect (checked by tests).
from ponder.tasks import add, arith, chains, code, countdown, grid, route, sumprod  # noqa: E402,F401  (registers them)
from ponder.tasks import toolarith  # noqa: E402,F401  (registers it)

BUILTIN_TASKS = ("arith", "add", "countdown", "grid", "route", "sumprod", "chains", "code", "toolarith")

__all__ = ["BUILTIN_TASKS", "LEVELS", "NoOracle", "PlanCheck", "TASKS", "Task", "get_task", "item_rng", "list_tasks",
           "parse_int", "problem_id", "register", "warnings_for"]
