"""The evaluation config: every `ponder eval` flag, with its documented default.

`__post_init__` checks each value and the rules between them; `ponder.eval.check` the rest
(tasks, levels, model, run directory), so a bad config fails before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ponder.errors import PonderError
from ponder.policy import backend_options
from ponder.raytools import check_ray_fields


@dataclass
class EvalConfig:
    model: str = field(default="", metadata={"help": "model directory (hf, vllm) or served model name (openai)"})
    backend: Literal["hf", "vllm", "openai"] = field(default="hf", metadata={"help": "policy backend"})
    base_url: str = field(default="", metadata={"help": "--backend openai: the server's base URL (default: $PONDER_OPENAI_BASE_URL, else $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1)"})
    api: Literal["completions", "chat"] = field(default="completions", metadata={"help": "--backend openai: completions (ponder renders the prompt) or chat (messages; the server applies the model's chat template)"})
    concurrency: int = field(default=8, metadata={"help": "--backend openai: requests in flight at once (one keep-alive connection each)"})
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
    mode: Literal["auto", "think", "answer", "plan"] = field(
        default="auto", metadata={"help": "thinking mode: auto (the model chooses), think (every completion starts "
                                          "with <think>), answer (with <answer>: no thought) or plan (with <plan>: "
                                          "a plan first)"})
    think_budget: tuple[int, ...] = field(
        default=(), metadata={"help": "think budget in tokens, enforced by budget forcing (ponder.policy.budget); a "
                                      "comma list (8,16,32,64) evaluates each and reports accuracy vs budget (the "
                                      "headline is the largest); empty: no budget", "metavar": "N[,N...]"})
    extract: Literal["strict", "lenient"] = field(
        default="strict", metadata={"help": "answer extraction: strict (ponder's <answer> tags, \\boxed for math) or "
                                            "lenient (then the last \\boxed{}, 'the answer is X', the final number: "
                                            "for models never trained on ponder's tags; docs/real.md)"})
    instruction: str = field(
        default="", metadata={"help": "system instruction of chat models instead of ponder's: a name (ponder, boxed, "
                                      "answer-is) or the text itself; per task family: TASK=...;TASK=...;*=..."})
    pretrain_tokens: float | None = field(
        default=None, metadata={"help": "tokens the model was pre-trained on, when its ponder.json does not say: "
                                        "the cost section's post-training share counts 6*N*T pre-training FLOPs"})
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
        backend_options(self.backend, self.base_url, api=self.api, concurrency=self.concurrency)  # server flags
        if self.resume and not self.out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")
        if any(b < 1 for b in self.think_budget):
            raise PonderError(f"--think-budget values must be >= 1, got {','.join(map(str, self.think_budget))}")
        if len(set(self.think_budget)) != len(self.think_budget):
            raise PonderError(f"--think-budget lists a value twice: {','.join(map(str, self.think_budget))}")
        if self.think_budget and self.mode == "answer":
            raise PonderError("--think-budget with --mode answer: an answer-only completion has no thought to budget")
        if self.pretrain_tokens is not None and not self.pretrain_tokens > 0:
            raise PonderError(f"--pretrain-tokens must be > 0, got {self.pretrain_tokens}")
        if self.ray is not None and (self.mode != "auto" or self.think_budget or self.instruction):
            raise PonderError("--mode, --think-budget and --instruction run in this process: drop --ray to use them")
        check_ray_fields(self)
        if self.tools:
            from ponder.tools import select

            select(self.tools)  # an unknown tool: one line, before anything is written
            if self.ray_enabled:
                raise PonderError("--tools runs multi-turn tool rollouts in this process; --ray shards single-turn "
                                  "batches over actors (drop one of them)")
            if self.backend == "openai" and self.api == "chat":  # each turn would be sent as a new user message
                raise PonderError("--tools with --api chat: a tool rollout continues the model's own text after each "
                                  "result, which only --api completions can send (drop --api chat)")

    @property
    def budgets(self) -> tuple[int | None, ...]:
        """The think budgets evaluated, smallest first (None: no budget); the last is the headline."""
        return tuple(sorted(self.think_budget)) or (None,)

    @property
    def ray_enabled(self) -> bool:
        return self.ray is not None

