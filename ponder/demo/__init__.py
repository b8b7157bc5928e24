"""The demo: the whole research loop on the tiny default, composed from the stages (`ponder demo`).

    from ponder.demo import DemoConfig, check, run
    check(cfg)
    summary = run(cfg, RunDir.open("demo", cfg.out, cfg))

- `config`       DemoConfig: every flag with its default (`axis` picks the claim)
- `axes`         AXES: axis name -> its module; `check` / `run` dispatch on cfg.axis
- `stage`        calibration: sft, baseline eval, curate, RL, trained eval, the claims, the table
- `abstraction`  abstraction: sub-call warm start on sumprod, eval, RL through the tree, eval
"""

from ponder.demo.axes import check, run
from ponder.demo.config import DemoConfig
from ponder.demo.stage import check_claims, summary_of

__all__ = ["DemoConfig", "check", "check_claims", "run", "summary_of"]
