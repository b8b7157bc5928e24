"""The demo: the whole research loop on the tiny default, composed from the stages (`ponder demo`).

    from ponder.demo import DemoConfig, check, run
    check(cfg)
    summary = run(cfg, RunDir.open("demo", cfg.out, cfg))

- `config`  DemoConfig: every flag with its default, and the demo's fixed task and levels
- `stage`   the five stages (sft, baseline eval, curate, RL, trained eval), the claims, the table
"""

from ponder.demo.config import DemoConfig
from ponder.demo.stage import check, check_claims, run, summary_of

__all__ = ["DemoConfig", "check", "check_claims", "run", "summary_of"]
