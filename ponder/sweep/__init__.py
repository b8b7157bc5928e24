"""Sweeps: ablations and seeds of any stage (or pipeline of stages) as Ray tasks, then aggregated.

    ponder sweep examples/demo-seeds.yaml --out runs/sweep-demo          # local Ray, one run per core
    ponder sweep spec.yaml --out /shared/sweeps/a --address auto --gpus-per-arm 1
    ponder sweep --resume --out runs/sweep-demo                          # after a crash or kill -9
    ponder sweep --aggregate-only runs/sweep-demo                        # re-read the runs, rewrite the report

A spec (ponder/sweep/config.py) names a command or a pipeline, a base config, a grid and seeds;
every arm x seed runs `python -m ponder COMMAND --config RUN/config-in.yaml --out RUN/run` in its
own Ray task (ponder/sweep/arm.py), so runs talk only through their directories and the driver
never loads a model. The aggregate (ponder/sweep/aggregate.py) gives per arm the mean and 95%
t-interval over seeds of each metric. docs/scale.md maps this onto a cluster.
"""

from ponder.stats import interval
from ponder.sweep.aggregate import aggregate
from ponder.sweep.config import SWEEPABLE, SweepConfig, SweepSpec, load_spec, parse_spec
from ponder.sweep.grid import arms, describe, plan, runs
from ponder.sweep.runner import SweepResult, aggregate_only, check, connect, load, run

__all__ = ["SWEEPABLE", "SweepConfig", "SweepResult", "SweepSpec", "aggregate", "aggregate_only", "arms", "check",
           "connect", "describe", "interval", "load", "load_spec", "parse_spec", "plan", "run", "runs"]
