"""`ponder curate`: estimate each problem's pass rate under a policy, keep those inside a window.

    ponder curate --model runs/sft-X/model --tasks arith --difficulties 1-5 --pool 200 \
        --window 0.1,0.9 --out runs/curate-a

Sampling is adaptive (docs/curate.md): every problem gets a first round of samples, then more in
small rounds until the evidence places it confidently inside or outside the window, at most
--max-samples each. The run directory holds:

    curated.parquet / curated.jsonl   the kept problems: Problem columns + pass_rate, samples,
                                      successes, p_keep, kept (`ponder train --problems` reads them)
    estimates.parquet                 every problem with its estimate, kept or not
    samples.parquet                   every sampled completion with its score
    config.yaml, metrics.jsonl (one row per round), summary.json, report.html
"""

from __future__ import annotations

from pathlib import Path

from ponder.errors import PonderError

HELP = "estimate pass rates adaptively and keep the problems inside a learnability window"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.curate.runner import CurateConfig

    add_config_args(p, CurateConfig)


def run(args) -> int:
    from ponder.config import resolve_config
    from ponder.curate.runner import CurateConfig, build_pool

    cfg = resolve_config(CurateConfig, args)  # bad window / confidence / prior: fails here
    if not cfg.model:
        raise PonderError("--model is required (a model directory, or a served model name with --backend openai)")
    problems = build_pool(cfg)  # unknown task / level: before anything is written
    if cfg.out and Path(cfg.out).exists() and any(Path(cfg.out).iterdir()):
        raise PonderError(f"{cfg.out} already exists and is not empty; choose another --out")
    from ponder.policy import backend_options, load_policy

    policy = load_policy(cfg.model, backend=cfg.backend, **backend_options(cfg.backend, cfg.base_url))  # missing model / unknown backend: same
    from ponder.runs import RunDir

    run_dir = RunDir.create("curate", cfg.out)
    run_dir.write_config(cfg)
    return execute(run_dir, policy, problems, cfg)


def execute(run_dir, policy, problems, cfg) -> int:
    import dataclasses
    import json

    from ponder.curate.report import summarize, write_report
    from ponder.curate.runner import curate
    from ponder.runs import write_jsonl

    result = curate(policy, problems, cfg, on_round=run_dir.log)
    kept = result.kept
    # Outputs only once everything is scored: an interrupted run leaves no curated file behind.
    run_dir.write_table("samples.parquet", result.samples)
    run_dir.write_table("estimates.parquet", result.estimates)
    run_dir.write_table("curated.parquet", kept if kept else _empty_like(result.estimates))
    write_jsonl(run_dir / "curated.jsonl", kept)
    summary = {**result.stats, "priors": result.priors,
               "by_difficulty": {str(d): g for d, g in summarize(result.estimates).items()}}
    run_dir.write_json("summary.json", summary)
    config = json.loads(json.dumps(dataclasses.asdict(cfg)))
    write_report(run_dir / "report.html", result.estimates, result.stats, result.priors, config)
    _print_summary(summary, run_dir, cfg)
    return 0


def _empty_like(rows: list[dict]):
    """A zero-row table with the estimates' schema, so an empty curation still reads back."""
    import json

    import pyarrow as pa

    rows = [{k: (json.dumps(v, sort_keys=True) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
    return pa.Table.from_pylist(rows).slice(0, 0)


def _print_summary(summary: dict, run_dir, cfg) -> None:
    print(f"{'difficulty':>10} {'problems':>8} {'kept':>5} {'samples/problem':>15} {'pass rate':>9}")
    for d, g in summary["by_difficulty"].items():
        print(f"{d:>10} {g['problems']:>8} {g['kept']:>5} {g['samples'] / max(1, g['problems']):>15.2f} {g['pass_rate']:>9.3f}")
    print(f"kept {summary['kept']}/{summary['problems']} problems with pass rate in [{cfg.window[0]}, {cfg.window[1]}]; "
          f"{summary['samples']} samples = {summary['sample_fraction']:.1%} of the fixed budget "
          f"({summary['fixed_budget_samples']} at {cfg.max_samples}/problem)")
    print(f"run directory: {run_dir}  (curated: {run_dir}/curated.parquet, report: {run_dir}/report.html)")
