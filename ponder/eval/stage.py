"""The evaluation stage: `check(cfg)`, then `run(cfg, run_dir)` into a run directory.

    from ponder.eval import EvalConfig, check, run
    cfg = EvalConfig(model="runs/sft-a/model", tasks=("arith",), levels=(1, 2, 3), out="runs/eval-a")
    check(cfg)
    metrics = run(cfg, RunDir.open("eval", cfg.out, cfg))

The run directory holds config.yaml, samples.parquet (one row per sample), orchestration.parquet
(decomposable tasks), metrics.json and report.html (layout: ponder/report/io.py). While running,
each finished batch is written to parts/batch-NNNNN.parquet, so an interrupted eval loses at most
one batch; with cfg.resume, `run` skips the problems already scored and merges the parts at the
end. progress.jsonl logs each session's elapsed time, so the cost section counts every session.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from ponder.eval.config import EvalConfig

# Config fields that must match for --resume to continue a run rather than mix two evaluations.
RESUME_KEYS = ("model", "tasks", "levels", "n", "per_level", "temperature", "top_p", "max_new_tokens", "seed",
               "data_seed", "batch_problems")


def check(cfg: EvalConfig) -> None:
    """The checks that need the outside world, before anything is written: tasks and levels exist,
    the run directory is usable (and, resuming, holds the same evaluation), the model opens."""
    from ponder.eval.runner import make_problems
    from ponder.runs import check_out
    from ponder.stages import check_policy

    make_problems(cfg)
    check_out(cfg.out, resume=cfg.resume, cfg=cfg, keys=RESUME_KEYS)
    check_policy(cfg.model, cfg.backend, cfg.base_url)


def load(cfg: EvalConfig):
    """The policy `run` samples (the command opens it before creating the run directory)."""
    from ponder.stages import open_policy

    return open_policy(cfg.model, cfg.backend, cfg.base_url)


def run(cfg: EvalConfig, run_dir, *, progress: bool = True, policy=None) -> dict:
    """Evaluate into `run_dir` (a `ponder.runs.RunDir`, config.yaml written); returns metrics.json's
    content. `policy`: an already loaded policy to use instead of opening cfg.model."""
    from ponder.eval.runner import evaluate, make_problems, policy_params
    from ponder.runs import read_jsonl, write_parquet

    problems = make_problems(cfg)
    policy = load(cfg) if policy is None else policy
    done_rows = load_parts(run_dir.path) if cfg.resume else []
    done_ids = {r["problem_id"] for r in done_rows}
    if done_ids:
        print(f"resuming {run_dir}: {len(done_ids)} problems already scored", file=sys.stderr)
    # wall time across sessions: each session logs its elapsed time after every batch
    sessions: dict[str, float] = {}
    for r in read_jsonl(run_dir / "progress.jsonl") if cfg.resume else []:
        sessions[r["session"]] = max(sessions.get(r["session"], 0.0), r["elapsed_s"])
    session, t0 = str(time.time_ns()), time.perf_counter()  # unique even for two sessions in one second

    def on_batch(b: int, rows: list[dict]) -> None:
        write_parquet(part_path(run_dir.path, b), rows)
        run_dir.log({"session": session, "batch": b, "samples": len(rows), "elapsed_s": time.perf_counter() - t0},
                    name="progress.jsonl")

    rows, metrics = evaluate(policy, problems, cfg, skip=done_ids, on_batch=on_batch, progress=progress)
    order = {p.id: i for i, p in enumerate(problems)}
    all_rows = sorted(done_rows + rows, key=lambda r: (order.get(r["problem_id"], 1 << 30), r["sample"]))
    wall = sum(sessions.values()) + (time.perf_counter() - t0)
    records = metrics.pop("orchestration_records")
    return write_run(run_dir.path, all_rows, records, cfg, params=policy_params(policy, cfg),
                     wall_s=wall, title=f"ponder eval: {cfg.model}")


# -- the run directory -------------------------------------------------------------------------
def part_path(run: Path, batch: int) -> Path:
    return Path(run) / "parts" / f"batch-{batch:05d}.parquet"


def load_parts(run: Path) -> list[dict]:
    """Rows already scored in `run`: samples.parquet plus any part files, one per (problem, sample)."""
    from ponder.runs import read_parquet

    run = Path(run)
    files = ([run / "samples.parquet"] if (run / "samples.parquet").exists() else []) + sorted((run / "parts").glob("batch-*.parquet"))
    seen: dict[tuple, dict] = {}
    for f in files:
        for r in read_parquet(f):
            seen[(r["problem_id"], r["sample"])] = r
    return list(seen.values())


def write_run(run: Path, rows: list[dict], records: list[dict], cfg: EvalConfig, *, params: int | None, wall_s: float,
              title: str) -> dict:
    """Merge into samples.parquet, write metrics.json and report.html, then drop the part files."""
    from ponder.eval.aggregate import compute_metrics
    from ponder.report.html import render_report
    from ponder.runs import atomic_write_text, write_json, write_parquet

    run = Path(run)
    write_parquet(run / "samples.parquet", rows)
    if records:
        write_parquet(run / "orchestration.parquet", records)
    metrics = compute_metrics(rows, orchestration=records, params=params, wall_s=wall_s,
                              max_new_tokens=cfg.max_new_tokens, strategy=cfg.strategy)
    write_json(run / "metrics.json", metrics)
    atomic_write_text(run / "report.html", render_report(metrics, rows, title=title, subtitle=str(run)))
    # everything in parts/ is now in samples.parquet (a kill mid-write can leave a .tmp there too)
    shutil.rmtree(run / "parts", ignore_errors=True)
    return metrics
