"""The training stage: GRPO-family RL from verifiable rewards (docs/train.md).

    from ponder.rl import TrainConfig, check, run
    cfg = TrainConfig(model="runs/sft-x/model", tasks=("arith",), reward="correct:1,nothink:0.25")
    check(cfg)                                              # one-line PonderError on bad input
    result = run(cfg, RunDir.open("train", cfg.out, cfg))   # TrainResult(run_dir, model, steps, final)

Modules, lowest first: `config` (TrainConfig, check), `losses` (pure tensor functions), `modes`
(mode strategies: on-policy or balanced), `data` (prompt sources), `rollout` (collect, score,
advantages), `update` (the optimisation step), `metrics`, `records` (rollouts as Parquet),
`checkpoint`, `report`, `trainer` (the loop, `run`), `presets`.
"""

from ponder.rl.config import TrainConfig, check
from ponder.rl.trainer import TrainResult, run

__all__ = ["TrainConfig", "TrainResult", "check", "run"]
