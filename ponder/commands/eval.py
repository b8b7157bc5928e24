"""`ponder eval`: score a policy on the four axes and write a run directory with a report.

    ponder eval --model runs/sft-.../model --tasks arith,grid --difficulties 1-5 -n 4 --out runs/eval-a

Writes config.yaml, samples.parquet (one row per sample), orchestration.parquet (decomposable
tasks), metrics.json and report.html. While running, each finished batch is written to
parts/batch-NNNNN.parquet, so an interrupted eval loses at most one batch; `--resume` skips the
problems already scored and merges the parts at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ponder.errors import PonderError

HELP = "evaluate a policy on skills, calibration, strategy and abstraction; write metrics and report.html"

# Config fields that must match for --resume to continue a run rather than mix two evaluations.
RESUME_KEYS = ("tasks", "difficulties", "n", "per_level", "temperature", "top_p", "max_new_tokens", "seed",
               "data_seed", "batch_problems")


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.eval.config import EvalConfig

    add_config_args(p, EvalConfig)


def _check_out(cfg) -> Path | None:
    """The run directory to use; PonderError before anything is written if it cannot be used."""
    import yaml

    if cfg.resume:
        if not cfg.out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")
        path = Path(cfg.out)
        if not (path / "config.yaml").exists():
            raise PonderError(f"--resume: {path} is not an eval run directory (no config.yaml)")
        old = yaml.safe_load((path / "config.yaml").read_text()) or {}
        for k in RESUME_KEYS:
            new = getattr(cfg, k)
            new = list(new) if isinstance(new, tuple) else new
            if k in old and old[k] != new:
                raise PonderError(f"--resume: {k} was {old[k]!r} in {path}, now {new!r}; use a new --out")
        return path
    if cfg.out and Path(cfg.out).exists() and any(Path(cfg.out).iterdir()):
        raise PonderError(f"{cfg.out} already exists and is not empty; use --resume to continue it, or another --out")
    return Path(cfg.out) if cfg.out else None


def run(args) -> int:
    from ponder.config import resolve_config
    from ponder.eval.config import EvalConfig
    from ponder.eval.runner import make_problems

    cfg = resolve_config(EvalConfig, args)
    if not cfg.model:
        raise PonderError("--model is required (a model directory, or a served model name with --backend openai)")
    problems = make_problems(cfg)  # unknown task / bad level: fails before anything is written
    out = _check_out(cfg)
    from ponder.policy import backend_options, load_policy

    policy = load_policy(cfg.model, backend=cfg.backend, **backend_options(cfg.backend, cfg.base_url))  # missing model dir / unknown backend: same
    from ponder.runs import RunDir

    run_dir = RunDir.create("eval", out)
    run_dir.write_config(cfg)
    return execute(run_dir, policy, problems, cfg)


def execute(run_dir, policy, problems, cfg) -> int:
    import json
    import time

    from ponder.eval.runner import evaluate, policy_params
    from ponder.report.io import load_parts, part_path, write_run
    from ponder.runs import read_jsonl, write_parquet

    done_rows = load_parts(run_dir.path) if cfg.resume else []
    done_ids = {r["problem_id"] for r in done_rows}
    if done_ids:
        print(f"resuming {run_dir}: {len(done_ids)} problems already scored", file=sys.stderr)
    # wall time across sessions: each session logs its elapsed time after every batch
    log = run_dir.path / "progress.jsonl"
    sessions: dict[str, float] = {}
    for r in read_jsonl(log) if cfg.resume else []:
        sessions[r["session"]] = max(sessions.get(r["session"], 0.0), r["elapsed_s"])
    session, t0 = f"{time.time():.0f}", time.perf_counter()

    def on_batch(b: int, rows: list[dict]) -> None:
        write_parquet(part_path(run_dir.path, b), rows)
        run_dir.log({"session": session, "batch": b, "samples": len(rows), "elapsed_s": time.perf_counter() - t0},
                    name="progress.jsonl")

    rows, metrics = evaluate(policy, problems, cfg, skip=done_ids, on_batch=on_batch)
    order = {p.id: i for i, p in enumerate(problems)}
    all_rows = sorted(done_rows + rows, key=lambda r: (order.get(r["problem_id"], 1 << 30), r["sample"]))
    wall = sum(sessions.values()) + (time.perf_counter() - t0)
    records = metrics.pop("orchestration_records")
    metrics = write_run(run_dir.path, all_rows, records, cfg, params=policy_params(policy, cfg),
                        wall_s=wall, title=f"ponder eval: {cfg.model}")
    _print_summary(metrics, run_dir)
    json.dumps(metrics)  # fail here, not in a reader, if anything is not JSON-ready
    return 0


def _print_summary(metrics: dict, run_dir) -> None:
    s = metrics["summary"]
    print(f"{'difficulty':>10} {'accuracy':>9} {'think':>6} {'tokens':>7}")
    for d, v in s["by_difficulty"].items():
        print(f"{d:>10} {v['accuracy']:>9.3f} {v['think_rate']:>6.2f} {v['mean_tokens']:>7.1f}")
    sk = metrics["skills"]
    print(f"accuracy {s['accuracy']:.3f} ({sk['strategy']}: {sk['strategy_accuracy']:.3f}) over {s['n']} samples")
    print(f"run directory: {run_dir}  (report: {run_dir}/report.html)")
