"""`ponder sweep SPEC --out DIR`: run every arm x seed of a spec as a Ray task, then aggregate.

    ponder sweep examples/demo-seeds.yaml --out runs/sweep-demo --max-parallel 2
    ponder sweep examples/curation.yaml --dry-run                 # validate, list the runs, run nothing
    ponder sweep --resume --out runs/sweep-demo                   # finish what a killed sweep left
    ponder sweep --aggregate-only runs/sweep-demo                 # rewrite arms.parquet, summary.json, report.html

Writes DIR/spec.yaml, DIR/arms/<arm>/seed-<s>/ (config-in.yaml, logs, status.json, run/),
DIR/arms.parquet, DIR/summary.json and DIR/report.html. Exit status 1 when any run failed.
See ponder/sweep/ and docs/scale.md.
"""

from __future__ import annotations

import sys

HELP = "run a grid of configs x seeds of any stage as Ray tasks; aggregate metrics with t-intervals over seeds"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.sweep.config import SweepConfig

    p.add_argument("spec", nargs="?", metavar="SPEC", help=SweepConfig.__dataclass_fields__["spec"].metadata["help"])
    add_config_args(p, SweepConfig)


def run(args) -> int:
    from ponder.config import resolve_config
    from ponder.runs import RunDir
    from ponder.sweep import SweepConfig, aggregate_only, check, connect, describe, load
    from ponder.sweep import run as run_sweep

    if getattr(args, "spec", None) is None:
        del args.spec  # absent, so a --config FILE may name it
    cfg = resolve_config(SweepConfig, args)
    check(cfg)
    if cfg.aggregate_only is not None:
        s = aggregate_only(cfg.aggregate_only)
        print(f"{s['runs']['done']} runs done, {s['runs']['failed']} failed; wrote {cfg.aggregate_only}/summary.json "
              f"and report.html")
        return 0
    spec = load(cfg)
    if cfg.dry_run:
        print(describe(spec, cfg.resources(spec)))
        return 0
    import ray

    connect(cfg, spec)  # a bad --address fails here, before the sweep directory is made
    try:
        run_dir = RunDir.open("sweep", cfg.out, cfg, resume=cfg.resume)
        result = run_sweep(cfg, run_dir)
    finally:
        ray.shutdown()
    t = result.summary["timing"]
    speedup = f" (speedup {t['speedup']:.2f}: the runs' own time over the sweep's)" if t["speedup"] else ""
    print(f"{result.done}/{result.runs} runs done, {result.failed} failed ({result.ran} run now, {result.skipped} "
          f"already done) in {result.wall_s:.1f}s{speedup}; report: {run_dir}/report.html")
    if result.summary["unresolved"]:
        print(f"ponder sweep: no finished run has a number at {', '.join(result.summary['unresolved'])}", file=sys.stderr)
    return 1 if result.failed else 0
