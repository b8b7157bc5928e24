"""Reading an eval run directory (`ponder report` and `compare`; `ponder.eval.run` writes it).

    runs/eval-*/config.yaml            resolved EvalConfig
    runs/eval-*/samples.parquet        one row per sample (ponder.eval.runner.make_row)
    runs/eval-*/orchestration.parquet  one record per decomposable problem (if any)
    runs/eval-*/metrics.json           ponder.eval.aggregate.compute_metrics
    runs/eval-*/report.html            ponder.report.html.render_report
    runs/eval-*/parts/                 per-batch rows while an eval runs; merged and removed at the end
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ponder.errors import PonderError
from ponder.runs import read_parquet


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
