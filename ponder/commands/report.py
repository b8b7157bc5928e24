"""`ponder report RUN`: recompute metrics.json and re-render report.html from samples.parquet."""

from __future__ import annotations

from dataclasses import dataclass, field

from ponder.errors import PonderError

HELP = "re-render an eval run's metrics.json and report.html from its samples"


@dataclass
class ReportConfig:
    run: str = field(default="", metadata={"help": "an eval run directory (holds samples.parquet)",
                                           "positional": True, "metavar": "RUN"})

    def __post_init__(self):
        if not self.run:
            raise PonderError("RUN is required (an eval run directory), as an argument or `run:` in --config")


def add_arguments(p) -> None:
    from ponder.config import add_config_args

    add_config_args(p, ReportConfig)


def run(args) -> int:
    from pathlib import Path

    from ponder.config import resolve_config
    from ponder.eval.aggregate import compute_metrics, headline_rows
    from ponder.eval.stage import effort_section
    from ponder.report.html import render_report
    from ponder.report.io import load_run
    from ponder.runs import atomic_write_text, write_json

    cfg = resolve_config(ReportConfig, args)
    rows, records, old, config = load_run(cfg.run)  # not an eval run: before anything is written
    cost = old.get("cost", {})
    metrics = compute_metrics(rows, orchestration=records, params=cost.get("params") or None,
                              wall_s=float(cost.get("wall_s") or 0.0),
                              max_new_tokens=int(config.get("max_new_tokens", old.get("calibration", {}).get("t_max", 256))),
                              strategy=config.get("strategy", "sample"))
    # what the rows cannot say: the run's effort settings and the model's ledger
    metrics["effort"] = {**old.get("effort", {}), **metrics["effort"]}
    if "ledger" in cost:
        metrics["cost"]["ledger"] = cost["ledger"]
    run = Path(cfg.run)
    write_json(run / "metrics.json", metrics)
    html = render_report(metrics, headline_rows(rows), title=f"ponder eval: {config.get('model', run.name)}", subtitle=str(run))
    atomic_write_text(run / "report.html", html.replace("</body>", effort_section(metrics["effort"]) + "</body>", 1))
    print(f"wrote {run / 'report.html'}")
    return 0
