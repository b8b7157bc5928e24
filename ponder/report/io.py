"""Reading and writing an eval run directory (shared by `ponder eval`, `report` and `compare`).

    runs/eval-*/config.yaml            resolved EvalConfig
    runs/eval-*/samples.parquet        one row per sample (ponder.eval.runner.make_row)
    runs/eval-*/orchestration.parquet  one record per decomposable problem (if any)
    runs/eval-*/metrics.json           ponder.eval.aggregate.compute_metrics
    runs/eval-*/report.html            ponder.report.html.render_report
    runs/eval-*/parts/                 per-batch rows while an eval runs; merged and removed at the end
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from ponder.errors import PonderError
from ponder.runs import atomic_write_text, read_parquet, write_json, write_parquet


def part_path(run: Path, batch: int) -> Path:
    return Path(run) / "parts" / f"batch-{batch:05d}.parquet"


def load_parts(run: Path) -> list[dict]:
    """Rows already scored in `run`: samples.parquet plus any part files, one per (problem, sample)."""
    run = Path(run)
    files = ([run / "samples.parquet"] if (run / "samples.parquet").exists() else []) + sorted((run / "parts").glob("batch-*.parquet"))
    seen: dict[tuple, dict] = {}
    for f in files:
        for r in read_parquet(f):
            seen[(r["problem_id"], r["sample"])] = r
    return list(seen.values())


def write_run(run: Path, rows: list[dict], records: list[dict], cfg, *, params: int | None, wall_s: float,
              title: str) -> dict:
    """Merge into samples.parquet, write metrics.json and report.html, then drop the part files."""
    from ponder.eval.aggregate import compute_metrics
    from ponder.report.html import render_report

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


def load_run(run: str | Path) -> tuple[list[dict], list[dict], dict, dict]:
    """(rows, orchestration records, metrics, config) of a finished eval run; PonderError if it is not one."""
    run = Path(run)
    if not (run / "samples.parquet").exists():
        raise PonderError(f"{run} is not a finished eval run (no samples.parquet)")
    rows = read_parquet(run / "samples.parquet")
    records = read_parquet(run / "orchestration.parquet") if (run / "orchestration.parquet").exists() else []
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
    config = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").exists() else {}
    return rows, records, metrics, config or {}
