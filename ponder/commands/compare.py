"""`ponder compare RUN_A RUN_B`: a side-by-side report of two eval runs, with deltas."""

from __future__ import annotations

from dataclasses import dataclass, field

from ponder.errors import PonderError

HELP = "compare two eval runs side by side (deltas and overlaid curves) in one HTML report"


@dataclass
class CompareConfig:
    run_a: str = field(default="", metadata={"help": "the first eval run directory (e.g. the baseline)",
                                             "positional": True, "metavar": "RUN_A"})
    run_b: str = field(default="", metadata={"help": "the second eval run directory (deltas are B - A)",
                                             "positional": True, "metavar": "RUN_B"})
    names: tuple[str, ...] = field(default=(), metadata={"help": "labels for the two runs, comma-separated "
                                                                 "(default: directory names)", "metavar": "A,B"})
    out: str | None = field(default=None, metadata={"help": "run directory for report.html (default runs/compare-<time>)"})

    def __post_init__(self):
        if not self.run_a or not self.run_b:
            raise PonderError("RUN_A and RUN_B are required (two eval run directories), as arguments or in --config")
        if self.names and (len(self.names) != 2 or not all(self.names)):
            raise PonderError(f"--names needs two comma-separated labels, got {','.join(self.names)!r}")


def add_arguments(p) -> None:
    from ponder.config import add_config_args

    add_config_args(p, CompareConfig)


def run(args) -> int:
    from ponder.config import resolve_config
    from ponder.report.compare import write_compare
    from ponder.report.io import load_run
    from ponder.runs import RunDir

    cfg = resolve_config(CompareConfig, args)
    load_run(cfg.run_a), load_run(cfg.run_b)  # both must be eval runs before anything is written
    run_dir = RunDir.open("compare", cfg.out, cfg)  # refuses a non-empty --out before creating anything
    path = write_compare(cfg.run_a, cfg.run_b, run_dir / "report.html", tuple(cfg.names) or None)
    print(f"wrote {path}")
    return 0
