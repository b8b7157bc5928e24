"""Curation: keep the problems the policy can learn from (pass rate inside a window).

The stage (`ponder curate`):

    from ponder.curate import CurateConfig, check, run
    check(cfg)                                                # PonderError before anything is written
    result = run(cfg, RunDir.open("curate", cfg.out, cfg))    # curated.parquet, report.html, ...

- `config`     CurateConfig: every flag with its default
- `estimate`   the adaptive stopping rule (pure; Beta-binomial predictive, empirical-Bayes prior)
- `runner`     `curate(policy, problems, cfg)`: lockstep rounds of generation + verification
- `stage`      `check` / `run`: the run directory, resume, the outputs
- `curriculum` `Curriculum`: raise the difficulty levels drawn from as the pass rate rises
- `export`     verl Parquet and TRL dataset layouts
- `report`     report.html for a curate run
See docs/curate.md.
"""

from ponder.curate.config import CurateConfig
from ponder.curate.runner import CurateResult, build_pool, curate
from ponder.curate.stage import check, load, run

__all__ = ["CurateConfig", "CurateResult", "build_pool", "check", "curate", "load", "run"]
