"""The curation stage: `check(cfg)`, then `run(cfg, run_dir)` into a run directory.

    from ponder.curate import CurateConfig, check, run
    cfg = CurateConfig(model="runs/sft-a/model", tasks=("arith",), levels=(1, 2, 3), out="runs/curate-a")
    check(cfg)
    result = run(cfg, RunDir.open("curate", cfg.out, cfg))      # a CurateResult

The run directory holds:

    curated.parquet / curated.jsonl   the kept problems: Problem columns + pass_rate, samples,
                                      successes, p_keep, kept (`ponder train --problems` reads them)
    estimates.parquet                 every problem with its estimate, kept or not
    samples.parquet                   every sampled completion with its score
    config.yaml, metrics.jsonl (one row per round), summary.json, report.html

While it runs, each finished round's samples go to parts/round-NNNNN.parquet; the outputs above
are written only once everything is scored, so an interrupted run leaves no curated file behind.
With cfg.resume, the finished rounds are replayed from the parts (or samples.parquet) and the
rest sampled: the result is the one an uninterrupted run gives.
"""

from __future__ import annotations

import shutil
import sys
from collections import defaultdict
from pathlib import Path

from ponder.curate.config import CurateConfig

# Config fields that must match for --resume to continue a run rather than mix two curations.
RESUME_KEYS = ("model", "tasks", "levels", "pool", "seed", "window", "max_samples", "confidence", "first_round",
               "round_size", "min_batch", "rule", "prior", "success_at", "temperature", "top_p", "max_new_tokens")


def check(cfg: CurateConfig) -> None:
    """The checks that need the outside world, before anything is written: tasks and levels exist,
    the run directory is usable (and, resuming, holds the same curation), the model opens."""
    from ponder.curate.runner import build_pool
    from ponder.runs import check_out
    from ponder.stages import check_policy

    build_pool(cfg)
    check_out(cfg.out, resume=cfg.resume, cfg=cfg, keys=RESUME_KEYS)
    check_policy(cfg.model or "", cfg.backend, cfg.base_url)


def load(cfg: CurateConfig):
    """The policy `run` samples (the command opens it before creating the run directory)."""
    from ponder.stages import open_policy

    return open_policy(cfg.model or "", cfg.backend, cfg.base_url)


def part_path(run: Path, rnd: int) -> Path:
    return Path(run) / "parts" / f"round-{rnd:05d}.parquet"


def stored_rounds(run: Path) -> list[list[dict]]:
    """The sample rows of each round finished in `run` (samples.parquet, then part files), from
    round 0 up to the first missing one."""
    from ponder.runs import read_parquet

    run = Path(run)
    files = ([run / "samples.parquet"] if (run / "samples.parquet").exists() else []) + sorted(
        (run / "parts").glob("round-*.parquet"))
    by_round: dict[int, dict[tuple, dict]] = defaultdict(dict)
    for f in files:
        for r in read_parquet(f):
            by_round[int(r["round"])][(r["problem_id"], r["sample"])] = r
    rounds = []
    while len(rounds) in by_round:
        rounds.append(list(by_round[len(rounds)].values()))
    return rounds


def run(cfg: CurateConfig, run_dir, *, progress: bool = True, policy=None):
    """Curate into `run_dir` (a `ponder.runs.RunDir`, config.yaml written); returns the
    `CurateResult`. `policy`: an already loaded policy to use instead of opening cfg.model."""
    from ponder.curate.report import summarize, write_report
    from ponder.curate.runner import build_pool, curate
    from ponder.runs import write_jsonl, write_parquet

    problems = build_pool(cfg)
    policy = load(cfg) if policy is None else policy
    done, elapsed = [], 0.0
    if cfg.resume:
        done = stored_rounds(run_dir.path)
        # rounds past the last stored one were logged by the killed process; they are sampled again
        logged = [r for r in run_dir.metrics() if r.get("round", 0) < len(done)]
        write_jsonl(run_dir / "metrics.jsonl", logged)
        elapsed = max((r.get("elapsed_s", 0.0) for r in logged), default=0.0)
        if done:
            print(f"resuming {run_dir}: {len(done)} rounds already sampled", file=sys.stderr)

    result = curate(policy, problems, cfg, progress=progress, on_round=run_dir.log,
                    on_samples=lambda rnd, rows: write_parquet(part_path(run_dir.path, rnd), rows),
                    done_rounds=done, elapsed_s=elapsed)
    kept = result.kept
    run_dir.write_table("samples.parquet", result.samples)
    run_dir.write_table("estimates.parquet", result.estimates)
    run_dir.write_table("curated.parquet", kept if kept else _empty_like(result.estimates))
    write_jsonl(run_dir / "curated.jsonl", kept)
    summary = {**result.stats, "priors": result.priors,
               "by_difficulty": {str(d): g for d, g in summarize(result.estimates).items()}}
    run_dir.write_json("summary.json", summary)
    write_report(run_dir / "report.html", result.estimates, result.stats, result.priors, _plain(cfg))
    shutil.rmtree(run_dir / "parts", ignore_errors=True)  # everything in parts/ is now in samples.parquet
    return result


def _plain(cfg: CurateConfig) -> dict:
    import dataclasses
    import json

    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _empty_like(rows: list[dict]):
    """A zero-row table with the estimates' schema, so an empty curation still reads back."""
    import json

    import pyarrow as pa

    rows = [{k: (json.dumps(v, sort_keys=True) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
    return pa.Table.from_pylist(rows).slice(0, 0)

