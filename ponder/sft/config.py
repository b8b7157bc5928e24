"""The warm start's config: every `ponder sft` flag, with its documented default."""

from __future__ import annotations

from dataclasses import dataclass, field

from ponder.errors import PonderError

DATA_SEED_OFFSET = 1000  # task seed of the training problems: seed + this, away from eval's seeds
BUCKET_POOL = 8  # batches per length-sorted pool
DEFAULT_LEVEL_WEIGHT = {1: 1.0, 2: 5.0}  # without --level-weights; other levels weigh 1


@dataclass
class SFTConfig:
    model: str = field(default="", metadata={"help": "model directory to warm-start (e.g. from `ponder model init`)"})
    tasks: tuple[str, ...] = field(default=("arith",), metadata={"help": "tasks whose oracle traces to train on",
                                                                 "aliases": ("--task",)})
    out: str | None = field(default=None, metadata={"help": "run directory (default runs/sft-<time>)"})
    levels: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={"help": "difficulty levels to draw, e.g. 1-5 or 1,3",
                                                                      "aliases": ("--difficulties",)})
    level_weights: tuple[float, ...] = field(
        default=(), metadata={"help": "relative weight per level in --levels (default: 1 for level 1, 5 for level 2, "
                                      "1 above: level 2's three-term answer-only sums need the most examples)",
                              "aliases": ("--difficulty-weights",)})
    think_prob: float = field(default=0.75, metadata={"help": "chance an example carries a <think> trace, drawn "
                                                      "independently of difficulty (default 0.75: the model overthinks, "
                                                      "like a reasoning model on easy requests, and sees enough traces "
                                                      "to learn the long ones)"})
    subcall_prob: float = field(default=0.0, metadata={"help": "for decomposable tasks (sumprod): chance an example "
                                "is a sub-call trace (spawn the parts, <join>, results injected and masked out of the loss, "
                                "then the join step), and again that it is one part solved as a sub-call; the rest are "
                                "serial traces. 0 = the oracle as for other tasks; at most 0.5"})
    careless_prob: float = field(default=0.0, metadata={"help": "chance a traced example of a task that writes "
                                                    "careless plans (`task.careless`, e.g. route) carries one instead of "
                                                    "the oracle's: a plausible-but-wrong plan and the answer it leads to "
                                                    "(default 0: oracle plans only)"})
    tool_prob: float = field(default=0.0, metadata={"help": "for tasks with a calculator input (`task.tool_input`, e.g. "
                             "toolarith): chance an example calls the calc tool first (the call, the result a runtime "
                             "would inject, masked out of the loss, then the answer), drawn independently of difficulty "
                             "(0.5: the model calls at random, for RL to calibrate; default 0: no tool traces)"})
    steps: int = field(default=1500, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=32, metadata={"help": "sequences per step (small batches: more updates per CPU second)"})
    lr: float = field(default=2e-3, metadata={"help": "peak learning rate (AdamW); tiny models like it high"})
    warmup: int = field(default=50, metadata={"help": "linear warmup steps, then cosine decay to lr/10"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    grad_clip: float = field(default=1.0, metadata={"help": "max gradient norm (0 = off)"})
    seed: int = field(default=0, metadata={"help": "seed for init order, data and mode draws"})
    checkpoint_every: int = field(default=250, metadata={"help": "steps between atomic checkpoints (0 = only at the end)"})
    log_every: int = field(default=10, metadata={"help": "steps between metrics.jsonl rows"})
    resume: bool = field(default=False, metadata={"help": "continue --out RUN from its last checkpoint, with its saved "
                                                          "config (flags given now override it, e.g. a larger --steps); a run killed "
                                                          "before its first checkpoint starts over from --model"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0 = torch's default)"})
    device: str = field(default="auto", metadata={"help": "cpu, cuda or auto"})

    def __post_init__(self):
        if not self.tasks:
            raise PonderError("--tasks needs at least one task")
        if not self.levels:
            raise PonderError("--levels is empty; give levels like 1-5 or 1,3 (low to high)")
        if self.level_weights and len(self.level_weights) != len(self.levels):
            raise PonderError(f"--level-weights has {len(self.level_weights)} values for {len(self.levels)} levels "
                              f"in --levels")
        if any(w < 0 for w in self.level_weights) or (self.level_weights and sum(self.level_weights) <= 0):
            raise PonderError("--level-weights must be non-negative with a positive sum")
        for name in ("think_prob", "careless_prob", "tool_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise PonderError(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.subcall_prob <= 0.5:
            raise PonderError(f"--subcall-prob must be in [0, 0.5], got {self.subcall_prob}")
        for name in ("steps", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise PonderError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup", "checkpoint_every", "threads"):
            if getattr(self, name) < 0:
                raise PonderError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.lr <= 0:
            raise PonderError(f"--lr must be > 0, got {self.lr}")
        if self.resume and not self.out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")
