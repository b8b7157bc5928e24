"""The curation config: every `ponder curate` flag, with its documented default.

`__post_init__` checks each value and the rules between them (window, confidence, rounds and
rule name through `StopRule`, the prior's spelling); `ponder.curate.check` the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ponder.curate.estimate import RULES, StopRule
from ponder.errors import PonderError
from ponder.policy import backend_options
from ponder.raytools import check_ray_fields


@dataclass
class CurateConfig:
    """`ponder curate` options (also usable from Python)."""

    model: str | None = field(default=None, metadata={"help": "model directory (or served model name for --backend openai)"})
    backend: str = field(default="hf", metadata={"help": "policy backend: hf, vllm or openai"})
    base_url: str = field(default="", metadata={"help": "--backend openai: the server's base URL (default: $PONDER_OPENAI_BASE_URL, else $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1)"})
    api: Literal["completions", "chat"] = field(default="completions", metadata={"help": "--backend openai: completions (ponder renders the prompt) or chat (messages; the server applies the model's chat template)"})
    concurrency: int = field(default=8, metadata={"help": "--backend openai: requests in flight at once (one keep-alive connection each)"})
    tasks: tuple[str, ...] = field(default=("arith",), metadata={"help": "tasks to draw the pool from (comma-separated)",
                                                                 "aliases": ("--task",)})
    levels: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={"help": "difficulty levels, e.g. 1-5 or 2,4",
                                                                      "aliases": ("--difficulties",)})
    pool: int = field(default=200, metadata={"help": "pool size: problems generated, spread evenly over tasks x levels"})
    seed: int = field(default=0, metadata={"help": "seed for problem generation and sampling"})
    window: tuple[float, ...] = field(default=(0.1, 0.9), metadata={"help": "keep problems whose pass rate lies in LOW,HIGH", "metavar": "LOW,HIGH"})
    max_samples: int = field(default=16, metadata={"help": "sample budget per problem: the fixed budget the rule approximates"})
    confidence: float = field(default=0.95, metadata={"help": "1-confidence bounds the expected disagreement with the max-samples decision"})
    first_round: int = field(default=4, metadata={"help": "samples in every problem's first round (the prior is fitted on these)"})
    round_size: int = field(default=1, metadata={"help": "samples per later round"})
    min_batch: int = field(default=0, metadata={"help": "when few problems remain, raise the round size so a round "
                                                        "generates at least this many samples (0 = off; trades samples for fewer, fuller calls)"})
    rule: str = field(default="optimal", metadata={"help": f"stopping rule: {', '.join(RULES)} (optimal: fewest samples "
                                                      "for an expected disagreement <= 1-confidence; predictive: every stop within it)"})
    prior: str = field(default="group", metadata={"help": "Beta prior: group (fit per task+difficulty), pool (one fit) or A,B"})
    success_at: float = field(default=1.0, metadata={"help": "a sample counts as a success when its score >= this"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (pass rates are measured at the training temperature)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold"})
    max_new_tokens: int = field(default=256, metadata={"help": "generation length limit"})
    verify_timeout: float = field(default=5.0, metadata={"help": "seconds per verified sample before it scores 0"})
    batch_problems: int = field(default=0, metadata={"help": "problems per generate call within a round, each chunk "
                                                             "with its own seed (0 = the whole round in one call); --ray shards these chunks"})
    ray: str | None = field(default=None, metadata={"help": "shard each round's chunks (--batch-problems) over Ray actors, each "
                                                           "holding its own policy: local (a local Ray instance) or a cluster "
                                                           "ADDRESS (e.g. auto); the samples equal a single-process run's",
                                                   "metavar": "local|ADDRESS"})
    ray_actors: int = field(default=0, metadata={"help": "--ray: policy actors (0 = one per cluster CPU, or per GPU share "
                                                         "with --ray-gpus-per-actor; never more than the first round's chunks)"})
    ray_gpus_per_actor: float = field(default=0.0, metadata={"help": "--ray: GPUs each actor requests (1 with --backend vllm "
                                                                     "on GPU nodes: one actor per GPU)"})
    out: str | None = field(default=None, metadata={"help": "run directory (default runs/curate-<time>)"})
    resume: bool = field(default=False, metadata={"help": "continue an interrupted curation in --out: its finished "
                                                          "rounds are replayed from disk, the rest sampled"})

    def __post_init__(self) -> None:
        if len(self.window) != 2:
            raise PonderError(f"window must be LOW,HIGH (two numbers), got {','.join(map(str, self.window))}")
        if self.batch_problems < 0:
            raise PonderError(f"batch_problems must be >= 0 (0 = the whole round in one call), got {self.batch_problems}")
        if self.min_batch < 0:
            raise PonderError(f"min_batch must be >= 0, got {self.min_batch}")
        if self.pool < 1:
            raise PonderError(f"pool must be >= 1, got {self.pool}")
        if not self.tasks or not self.levels:
            raise PonderError("need at least one task and one difficulty level")
        if self.temperature < 0 or self.max_new_tokens < 1:
            raise PonderError("temperature must be >= 0 and max_new_tokens >= 1")
        if not 0 < self.top_p <= 1:
            raise PonderError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.verify_timeout <= 0:
            raise PonderError(f"verify_timeout must be > 0, got {self.verify_timeout}")
        backend_options(self.backend, self.base_url, api=self.api, concurrency=self.concurrency)  # server flags
        if self.resume and not self.out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")
        check_ray_fields(self)
        if self.ray is not None and not self.batch_problems:
            raise PonderError("--ray shards a round's chunks of --batch-problems problems over the actors; "
                              "give --batch-problems N (e.g. 64; a single-process run with the same N gives the same samples)")
        self.stop_rule()  # validates window, confidence, rounds and rule name
        self.fixed_prior()  # validates prior

    def stop_rule(self) -> StopRule:
        return StopRule(low=float(self.window[0]), high=float(self.window[1]), confidence=self.confidence,
                        max_samples=self.max_samples, first_round=self.first_round, round_size=self.round_size,
                        rule=self.rule)

    def fixed_prior(self) -> tuple[float, float] | None:
        """The prior given as "A,B", or None for the fitted ones."""
        if self.prior in ("group", "pool"):
            return None
        try:
            a, b = (float(x) for x in self.prior.split(","))
        except ValueError:
            raise PonderError(f"prior must be group, pool or A,B (two positive numbers), got {self.prior!r}") from None
        if a <= 0 or b <= 0:
            raise PonderError(f"prior Beta(A,B) needs A, B > 0, got {self.prior!r}")
        return (a, b)

    @property
    def ray_enabled(self) -> bool:
        return self.ray is not None
