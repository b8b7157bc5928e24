"""What a training run keeps of its rollouts: one Parquet file per step, one row per trained
completion.

    run/rollouts/step-000001.parquet   step, group, problem_id, task, level, prompt, completion,
                                       num_tokens, finish_reason, reward, correct, reward_<name>
                                       per reward term, advantage (and advantage_mode with
                                       --modes balanced: the forced first token's)

Each file is written atomically; a resumed run first removes the files after its checkpoint,
so the directory always matches metrics.jsonl. Read the whole run with
`pandas.read_parquet("run/rollouts")` (or DuckDB's `read_parquet('run/rollouts/*.parquet')`).
Groups dropped by dynamic sampling were not trained on and are not recorded.
"""

from __future__ import annotations

from pathlib import Path

ROLLOUTS = "rollouts"


def _path(run_dir, step: int) -> Path:
    return run_dir / ROLLOUTS / f"step-{step:06d}.parquet"


def rollout_rows(batch, advantage_columns: dict[str, list[float]], step: int) -> list[dict]:
    """One row per completion of `batch` (its advantages given per column, as the mode strategy
    names them)."""
    rows = []
    for i, (p, c) in enumerate(zip(batch.problems, batch.completions)):
        row = {"step": step, "group": i // batch.group_size, "problem_id": p.id, "task": p.task,
               "level": p.difficulty, "prompt": p.prompt, "completion": c.text, "num_tokens": c.num_tokens,
               "finish_reason": c.finish_reason, "reward": batch.rewards[i], "correct": batch.correct[i]}
        row.update({f"reward_{name}": xs[i] for name, xs in batch.parts.items()})
        row.update({name: xs[i] for name, xs in advantage_columns.items()})
        rows.append(row)
    return rows


def write_rollouts(run_dir, step: int, rows: list[dict]) -> Path | None:
    """Write step `step`'s rows atomically (nothing for a step that trained on nothing)."""
    from ponder.runs import write_parquet

    return write_parquet(_path(run_dir, step), rows) if rows else None


def rewind_rollouts(run_dir, step: int) -> None:
    """Remove the files of steps after `step` (a resumed run recomputes them)."""
    for f in (run_dir / ROLLOUTS).glob("step-*.parquet"):
        if int(f.stem.split("-")[1]) > step:
            f.unlink()
