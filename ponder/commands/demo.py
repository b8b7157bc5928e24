"""`ponder demo`: the whole research loop on the tiny default (see ponder/demo.py)."""

from __future__ import annotations

HELP = "run the research loop on the tiny default: warm start, eval, curate, RL, eval, compare report"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.demo import DemoConfig

    add_config_args(p, DemoConfig)


def run(args) -> int:
    from ponder.config import resolve_config
    from ponder.demo import DemoConfig, run_demo

    run_demo(resolve_config(DemoConfig, args))
    return 0
