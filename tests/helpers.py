"""Small pieces several test modules share (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import dataclasses

from ponder.types import Completion


def train(cfg, out):
    """check + run into a fresh run directory, as `ponder train` does; returns the RunDir."""
    from ponder.rl import check, run
    from ponder.runs import RunDir

    cfg = dataclasses.replace(cfg, out=str(out))
    check(cfg)
    run_dir = RunDir.open("train", cfg.out, cfg)
    run(cfg, run_dir, progress=False)
    return run_dir


class RecordingPolicy:
    """A stand-in policy that answers every prompt with `<answer>0</answer>` and records its sampling."""

    def __init__(self):
        self.samplings = []

    def render(self, problem, suffix=""):
        return problem.prompt

    def generate(self, prompts, n, sampling):
        self.samplings.append(sampling)
        return [[Completion(text="<answer>0</answer>", num_tokens=3, answer_tokens=3) for _ in range(n)]
                for _ in prompts]


def oracle_batch() -> tuple[list, list[str]]:
    """(problems, completions): for 3 problems at levels 1, 3, 5 of five built-in tasks, the oracle
    completion, its bare answer and a wrong answer; 135 items, each verified in milliseconds."""
    from ponder.tasks import get_task

    problems, completions = [], []
    for name in ("arith", "add", "countdown", "sumprod", "grid"):
        task = get_task(name)
        for d in (1, 3, 5):
            for p in task.sample(3, d, seed=1):
                problems += [p, p, p]
                completions += [task.oracle(p), task.oracle(p, think=False)[:-3], "<answer>12345</answer>"]
    return problems, completions
