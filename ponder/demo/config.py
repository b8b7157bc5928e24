"""The demo's config: every `ponder demo` flag, with its documented default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ponder.errors import PonderError

TASK = "arith"  # the demo's one task: its levels separate "answer directly" from "needs a trace"
LEVELS = (1, 2, 3, 4, 5)
EVAL_MAX_NEW_TOKENS = 128  # the longest level-5 oracle completion is 46 tokens
CURATE_SEED_OFFSET = 7  # curation's pool is drawn apart from the eval set and the RL prompts
NO_RESUME = ("strategy", "all")  # axes whose stages are not run through ponder/demo/resume.py
# Fields that must match for --resume to continue a demo rather than mix two (threads only changes speed).
RESUME_KEYS = ("axis", "seed", "size", "sft_steps", "rl_steps", "eval_per_level", "eval_n", "eval_temperature",
               "curate_pool", "window", "long")


@dataclass
class DemoConfig:
    out: str | None = field(default=None, metadata={"help": "run directory (default runs/demo-<time>)"})
    axis: Literal["calibration", "strategy", "abstraction", "tools", "all"] = field(
        default="calibration", metadata={"help": "which claim to reproduce (ponder/demo/axes.py): calibration (effort "
                                                 "follows difficulty), strategy (RL teaches planning), abstraction "
                                                 "(decompose into parallel sub-calls where it pays), tools (call a "
                                                 "calculator where it pays), or all of them, "
                                                 "each in its own sub-directory"})
    seed: int = field(default=0, metadata={"help": "seed of every stage"})
    size: str = field(default="tiny", metadata={"help": "model size: tiny or small"})
    sft_steps: int = field(default=0, metadata={"help": "warm-start steps (0: the tuned default, longer with --long; on the strategy axis, its first, plan-heavy stage; the second is an eighth as long)"})
    rl_steps: int = field(default=0, metadata={"help": "RL steps (0: the calibration preset's, longer with --long)"})
    eval_per_level: int = field(default=0, metadata={"help": "held-out problems per difficulty level (0: the axis's "
                                                        "default: 50 for calibration, 12 for abstraction)"})
    eval_n: int = field(default=2, metadata={"help": "samples per evaluation problem"})
    eval_temperature: float = field(default=1.0, metadata={"help": "evaluation sampling temperature (1.0: the policy itself)"})
    curate_pool: int = field(default=1000, metadata={"help": "problems in the curation pool (RL draws 2000 prompts; "
                                                       "a small pool is memorised instead of learnt)"})
    window: tuple[float, ...] = field(default=(0.05, 1.0), metadata={"help": "curation pass-rate window LOW,HIGH (see ponder/demo/stage.py)",
                                                                              "metavar": "LOW,HIGH"})
    long: bool = field(default=False, metadata={"help": "the longer version: twice the warm start and RL steps"})
    threads: int = field(default=1, metadata={"help": "torch CPU threads for sampling, RL and evaluation; the tiny model's small matrix products run faster on one thread than on two (0: torch's default)"})
    sft_threads: int = field(default=2, metadata={"help": "torch CPU threads for the warm start (SFT), capped at the machine's cores: its "
                                                 "batched forward and backward use a second core well and give the same weights "
                                                 "to the bit (docs/train.md); 1 on a busy machine, where a second thread spins (0: torch's default)"})
    resume: bool = field(default=False, metadata={"help": "continue an interrupted demo in --out: finished stages are "
                                                 "skipped, the interrupted one continues through its own --resume "
                                                 "(not for --axis strategy or all)"})

    def __post_init__(self):
        if self.axis not in ("calibration", "strategy", "abstraction", "tools", "all"):
            raise PonderError(f"--axis must be calibration, strategy, abstraction, tools or all, got {self.axis!r}")
        if self.size not in ("tiny", "small"):
            raise PonderError(f"--size must be tiny or small, got {self.size!r}")
        if self.eval_per_level < 0:
            raise PonderError(f"--eval-per-level must be >= 0, got {self.eval_per_level}")
        for name in ("eval_n", "curate_pool"):
            if getattr(self, name) < 1:
                raise PonderError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.sft_steps < 0 or self.rl_steps < 0:
            raise PonderError("--sft-steps and --rl-steps must be >= 0")
        if self.eval_temperature < 0:
            raise PonderError(f"--eval-temperature must be >= 0, got {self.eval_temperature}")
        for name in ("threads", "sft_threads"):
            if getattr(self, name) < 0:
                raise PonderError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.resume and not self.out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")
        if self.resume and self.axis in NO_RESUME:
            raise PonderError(f"--resume is not available for --axis {self.axis} (its RL arms run side by side "
                              "outside the demo's stage record); start a new --out")


def sft_threads(cfg: DemoConfig) -> int:
    """The warm start's torch threads: cfg.sft_threads, at most this process's usable cores."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cfg.sft_threads, cores) if cfg.sft_threads else 0
