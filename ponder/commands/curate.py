"""`ponder curate`: estimate each problem's pass rate under a policy, keep those inside a window.

    ponder curate --model runs/sft-X/model --tasks arith --levels 1-5 --pool 200 \
        --window 0.1,0.9 --out runs/curate-a
    ponder curate --out runs/curate-a --resume      # after a kill: replay the finished rounds

Sampling is adaptive (docs/curate.md): every problem gets a first round of samples, then more in
small rounds until the evidence places it confidently inside or outside the window, at most
--max-samples each. The pipeline is `ponder.curate` (check, run); see ponder/curate/stage.py for
what the run directory holds.
"""

from __future__ import annotations

HELP = "estimate pass rates adaptively and keep the problems inside a learnability window"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.curate.config import CurateConfig

    add_config_args(p, CurateConfig)


def run(args) -> int:
    import json

    from ponder import curate as stage
    from ponder.config import resolve_config
    from ponder.runs import RunDir

    cfg = resolve_config(stage.CurateConfig, args)  # bad window / confidence / prior: fails here
    stage.check(cfg)  # unknown task / level, unusable --out, missing model: here
    policy = stage.load(cfg)  # a model that does not load: before the run directory exists
    run_dir = RunDir.open("curate", cfg.out, cfg, resume=cfg.resume)
    stage.run(cfg, run_dir, policy=policy)
    _print_summary(json.loads((run_dir / "summary.json").read_text()), run_dir, cfg)
    return 0


def _print_summary(summary: dict, run_dir, cfg) -> None:
    print(f"{'difficulty':>10} {'problems':>8} {'kept':>5} {'samples/problem':>15} {'pass rate':>9}")
    for d, g in summary["by_difficulty"].items():
        print(f"{d:>10} {g['problems']:>8} {g['kept']:>5} {g['samples'] / max(1, g['problems']):>15.2f} {g['pass_rate']:>9.3f}")
    print(f"kept {summary['kept']}/{summary['problems']} problems with pass rate in [{cfg.window[0]}, {cfg.window[1]}]; "
          f"{summary['samples']} samples = {summary['sample_fraction']:.1%} of the fixed budget "
          f"({summary['fixed_budget_samples']} at {cfg.max_samples}/problem)")
    print(f"run directory: {run_dir}  (curated: {run_dir}/curated.parquet, report: {run_dir}/report.html)")
