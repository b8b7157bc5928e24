"""Resuming a demo (`ponder demo --resume --out RUN`): each stage continues from its own
sub-directory through that stage's own `--resume`, and a finished stage is skipped.

    stages = Stages(root, resume=cfg.resume)
    if not stages.done("rl"):
        tcfg = stages.prepare(configs.train)      # resume=True when train/ already holds a run
        train_check(tcfg); train_run(tcfg, stages.open("train", tcfg))
        stages.mark("rl")

Which stages finished is in RUN/stages.json (written atomically after each stage). A stage that
finished but was killed before its mark is resumed by its own `--resume`, which finds nothing left
to do. Every stage is deterministic given its config (CPU), so a resumed demo writes the same
samples and models as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

DONE_NAME = "stages.json"


class Stages:
    """The finished-stage record of one demo run directory."""

    def __init__(self, root: Path, *, resume: bool):
        self.root, self.resume = Path(root), resume
        path = self.root / DONE_NAME
        self._done: list[str] = json.loads(path.read_text()) if resume and path.exists() else []

    def done(self, key: str) -> bool:
        return key in self._done

    def mark(self, key: str) -> None:
        from ponder.runs import write_json

        self._done.append(key)
        write_json(self.root / DONE_NAME, self._done)

    def prepare(self, stage_cfg):
        """`stage_cfg`, with resume=True when resuming and its directory already holds a run."""
        from ponder.runs import CONFIG_NAME

        started = self.resume and stage_cfg.out and (Path(stage_cfg.out) / CONFIG_NAME).exists()
        return dataclasses.replace(stage_cfg, resume=True) if started else stage_cfg

    def open(self, command: str, stage_cfg):
        """The stage's RunDir: reopened when `stage_cfg.resume`, else created."""
        from ponder.runs import RunDir

        return RunDir.open(command, stage_cfg.out, stage_cfg, resume=bool(getattr(stage_cfg, "resume", False)))
