"""`ponder demo`: the whole research loop on the tiny default (see ponder/demo/)."""

from __future__ import annotations

HELP = ("run the research loop on the tiny default and check an axis's claims: --axis calibration (default: warm "
        "start, eval, curate, RL, eval, compare report), strategy (warm start, eval, RL with and without plan "
        "rewards, eval of both), tools (warm start that calls a calculator at random, eval, RL with a price per "
        "call, eval), or all")


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.demo.config import DemoConfig

    add_config_args(p, DemoConfig)


def run(args) -> int:
    from ponder import demo
    from ponder.config import resolve_config
    from ponder.runs import RunDir

    cfg = resolve_config(demo.DemoConfig, args)
    demo.check(cfg)
    run_dir = RunDir.open("demo", cfg.out, cfg, resume=cfg.resume)
    demo.run(cfg, run_dir)  # prints the table and the run directory
    return 0
