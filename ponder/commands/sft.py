"""`ponder sft --model DIR --tasks arith --out RUN`: supervised warm start on oracle traces.

Writes RUN/config.yaml, RUN/metrics.jsonl (loss per step), RUN/loss.png, RUN/checkpoints/last
(atomic, every --checkpoint-every steps; `--resume` continues from it) and the final model in
RUN/model (Hugging Face format, with the SFT FLOPs added to its ponder.json). Prints RUN/model.
"""

from __future__ import annotations

from pathlib import Path

from ponder.errors import PonderError

HELP = "supervised warm start of a model on the tasks' oracle traces (mixed think / answer-only)"


def add_arguments(p) -> None:
    from ponder.config import add_config_args
    from ponder.sft import SFTConfig

    add_config_args(p, SFTConfig)


def _resume_config(out: Path, args):
    """The run's saved config, overridden only by flags given now (e.g. a larger --steps)."""
    import dataclasses

    import yaml

    from ponder.config import build_config, load_config_file
    from ponder.sft import SFTConfig

    values = yaml.safe_load((out / "config.yaml").read_text()) or {}
    if getattr(args, "config", None):
        values.update(load_config_file(args.config))
    names = {f.name for f in dataclasses.fields(SFTConfig)}
    values.update({k: v for k, v in vars(args).items() if k in names})
    return build_config(SFTConfig, values, str(out / "config.yaml"))


def run(args) -> int:
    from ponder.config import resolve_config
    from ponder.runs import RunDir
    from ponder.sft import SFTConfig, train
    from ponder.tasks import get_task

    cfg = resolve_config(SFTConfig, args)
    if cfg.resume and cfg.out and (Path(cfg.out) / "config.yaml").exists():
        cfg = _resume_config(Path(cfg.out), args)
    for t in cfg.tasks:  # unknown task: fail before anything is written
        get_task(t)
    if cfg.resume:
        if not cfg.out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")
        if not (Path(cfg.out) / "checkpoints" / "last").is_dir():
            raise PonderError(f"--resume: no checkpoint in {cfg.out}/checkpoints/last")
    else:
        if not cfg.model:
            raise PonderError("--model is required (a model directory; build one with `ponder model init`)")
        from ponder.policy import check_model_dir

        check_model_dir(cfg.model)
        if cfg.out and Path(cfg.out).exists() and any(Path(cfg.out).iterdir()):
            raise PonderError(f"{cfg.out} already exists and is not empty; use --resume to continue it, or another --out")
    run_dir = RunDir.create("sft", cfg.out)
    if not cfg.resume:
        run_dir.write_config(cfg)
    print(train(cfg, run_dir))
    return 0
