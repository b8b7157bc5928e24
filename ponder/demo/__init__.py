"""The demo: the whole research loop on the tiny default, composed from the stages (`ponder demo`).

    from ponder.demo import DemoConfig, check, run
    check(cfg)
    summary = run(cfg, RunDir.open("demo", cfg.out, cfg))

- `config`    DemoConfig: every flag with its default, and the demo's fixed task and levels
- `axes`      AXES: axis name -> its module; `check` / `run` dispatch on `cfg.axis`
- `stage`     the calibration axis: sft, baseline eval, curate, RL, trained eval, the claims, the table
- `strategy`  the strategy axis: sft with careless plans, baseline eval, RL with plan rewards and
              with correctness alone, both evaluated, the three side by side
- `abstraction` the abstraction axis: sub-call warm start on sumprod, eval, RL through the tree, eval
"""

from ponder.demo.axes import check, run
from ponder.demo.config import DemoConfig
from ponder.demo.stage import check_claims, summary_of

__all__ = ["DemoConfig", "check", "check_claims", "run", "summary_of"]
