"""The evaluation config: every `ponder eval` flag, with its documented default.

`__post_init__` checks each value and the rules between them; `ponder.eval.check` the rest
(tasks, levels, model, run directory), so a bad config fails before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ponder.errors import PonderError
from ponder.raytools import check_ray_fields


@dataclass
class EvalConfig:
    model: str = field(default="", metadata={"help": "model directory (hf, vllm) or served model name (openai)"})
    backend: Literal["hf", "vllm", "openai"] = field(default="hf", metadata={"help": "policy backend"})
    base_url: str = field(default="", metadata={"help": "--backend openai: the server's base URL (default: $PONDER_OPENAI_BASE_URL, else $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1)"})
    tasks: tuple[str, ...] = field(default=("arith",), metadata={"help": "comma-separated task names",
                                                                 "aliases": ("--task",)})
    levels: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={"help": "difficulty levels, e.g. 1-5 or 1,3",
                                                                      "aliases": ("--difficulties",)})
    n: int = field(default=4, metadata={"help": "samples per problem (pass@k / maj@k go up to n)",
                                        "aliases": ("-n",)})
    per_level: int = field(default=16, metadata={"help": "problems per (task, difficulty)"})
    strategy: Literal["sample", "best-of-n", "majority"] = field(
        default="sample", metadata={"help": "test-time strategy for the headline accuracy (all are reported)"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature; 0 = greedy (then use -n 1)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    max_new_tokens: int = field(default=256, metadata={"help": "generation budget per sample; also t_max of the AUC"})
    seed: int = field(default=0, metadata={"help": "sampling seed (batch b samples with seed*1000003+b)"})
    data_seed: int = field(default=9999, metadata={"help": "problem generation seed; 9999 keeps the eval set "
                                                           "apart from training's default seed 0"})
    batch_problems: int = field(default=32, metadata={"help": "problems per generate call (all n samples of each)"})
    orchestrate: bool = field(default=True, metadata={"help": "also solve decomposable tasks' problems as multi-turn "
                                                              "rollouts with the model's own parallel sub-calls, and serially, and "
                                                              "report decomposition, critical-path tokens and measured wall time"})
    tools: str = field(default="", metadata={"help": "tools the model may call, comma-separated (ponder.tools: calc, "
                       "python, or your own @tool): every sample is a multi-turn tool rollout; tool metrics per level"})
    verify_timeout: float = field(default=5.0, metadata={"help": "seconds per verified sample before it scores 0",
                                                         "aliases": ("--verify-timeout-s",)})
    verify_workers: int | None = field(default=None, metadata={"help": "verifier processes (default: CPU count)"})
    params: int | None = field(default=None, metadata={"help": "parameter count for the FLOPs estimate when "
                                                               "the backend cannot tell (openai)"})
    ray: str | None = field(default=None, metadata={"help": "shard the batches over Ray actors, each holding its own policy: "
                                                           "local (a local Ray instance) or a cluster ADDRESS (e.g. auto); "
                                                           "the samples equal a single-process run's", "metavar": "local|ADDRESS"})
    ray_actors: int = field(default=0, metadata={"help": "--ray: policy actors (0 = one per cluster CPU, or per GPU share "
                                                         "with --ray-gpus-per-actor; never more than there are batches)"})
    ray_gpus_per_actor: float = field(default=0.0, metadata={"help": "--ray: GPUs each actor requests (1 with --backend vllm "
                                                                     "on GPU nodes: one actor per GPU)"})
    out: str | None = field(default=None, metadata={"help": "run directory (default runs/eval-<time>)"})
    resume: bool = field(default=False, metadata={"help": "continue an interrupted eval in --out, skipping scored problems"})

    def __post_init__(self):
        for name in ("n", "per_level", "max_new_tokens", "batch_problems"):
            if getattr(self, name) < 1:
                raise PonderError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not self.tasks:
            raise PonderError("--tasks is empty; name at least one task (see `ponder tasks list`)")
        if not self.levels:
            raise PonderError("--levels is empty; give levels like 1-5 or 1,3 (low to high)")
        if self.temperature < 0:
            raise PonderError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise PonderError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.params is not None and self.params < 1:
            raise PonderError(f"--params must be >= 1, got {self.params}")
        if self.verify_timeout <= 0:
            raise PonderError(f"--verify-timeout must be > 0, got {self.verify_timeout}")
        if self.verify_workers is not None and self.verify_workers < 1:
            raise PonderError(f"--verify-workers must be >= 1, got {self.verify_workers}")
        if self.base_url and self.backend != "openai":
            raise PonderError(f"--base-url is for --backend openai (the {self.backend} backend runs the model itself)")
        if self.resume and not self.out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")
        check_ray_fields(self)
        if self.tools:
            from ponder.tools import select

            select(self.tools)  # an unknown tool: one line, before anything is written
            if self.ray_enabled:
                raise PonderError("--tools runs multi-turn tool rollouts in this process; --ray shards single-turn "
                                  "batches over actors (drop one of them)")

    @property
    def ray_enabled(self) -> bool:
        return self.ray is not None

