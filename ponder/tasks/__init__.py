"""Verifiable tasks: the registry and the built-in procedural families.

    from ponder.tasks import get_task, list_tasks
    task = get_task("arith")
    problems = task.sample(n=4, difficulty=2, seed=0)
    task.verify(task.oracle(problems[0]), problems[0])  # 1.0

Built-in tasks register when their module is imported below; `tests/test_tasks.py` checks the
list, so a family that silently stops registering fails a test.
"""

from ponder.tasks.base import LEVELS, PlanCheck, Task, get_task, item_rng, list_tasks, parse_int, problem_id, register

# Built-in families, imported for their @register side effect (checked by tests).
from ponder.tasks import add, arith, code, countdown, grid, sumprod  # noqa: E402,F401  (registers them)

BUILTIN_MODULES = (
    "ponder.tasks.arith",
    "ponder.tasks.add",
    "ponder.tasks.countdown",
    "ponder.tasks.grid",
    "ponder.tasks.sumprod",
    "ponder.tasks.code",
)
BUILTIN_TASKS = ("arith", "add", "countdown", "grid", "sumprod", "code")

__all__ = ["BUILTIN_MODULES", "BUILTIN_TASKS", "LEVELS", "PlanCheck", "Task", "get_task", "item_rng", "list_tasks", "parse_int", "problem_id", "register"]
