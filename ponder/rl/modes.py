"""How a group's modes (think or answer directly) are sampled and credited: one strategy object,
picked by `TrainConfig.modes` from MODE_STRATEGIES.

    modes = mode_strategy("balanced", weight=10.0)
    completions = modes.rollout(policy, problems, group_size, sampling, suffix)   # [P * G]
    adv = modes.advantages(rewards, scale)                # rewards [P, G] -> [N] or [N, 2]
    a = modes.token_advantages(adv_micro, mask, old_logp, forced)  # in the update: [n, .] -> [n, T] or [n]
    modes.metrics(policy, batch, temperature)              # extra per-step metrics

`on_policy` is plain GRPO: every token sampled from the policy, one advantage per sample.

`subcalls` is `on_policy` over multi-turn rollouts in which the policy may spawn sub-calls of
itself (APR, Pan et al. 2025): the root's group advantage is every tree token's (see SubCallTree).

`tools` is `on_policy` over multi-turn rollouts in which the policy may call tools
(`ponder.tools`): the injected results are masked out of the loss, the rest as `on_policy`.

`balanced` is AdaptThink's mode-balanced sampling (Zhang et al. 2025, "AdaptThink: Reasoning
Models Can Learn When to Think", sec. 3.2): half of every group is started with `<think>` and half
with `<answer>`, the forced first token becoming part of the completion, so both modes are
compared on every prompt however rarely the policy would pick one (on-policy, a group of 8 that
all think teaches nothing about answering directly). Every later token is sampled on-policy and
scored against its own half's mean; the forced token is scored by its half's mean reward against
the group's (`ponder.rl.losses.mode_advantages`), its negative advantages importance-weighted by
pi_old / 0.5 and its positive ones not (`first_token_split`). Departures: AdaptThink forces
`</think>` (an empty thought) vs a common first word of thought (ponder's two first tokens are
`<think>` and `<answer>`), and it takes the PPO ratio of the forced token against the 0.5 draw.
docs/train.md ("Mode-balanced groups") has the measurements behind each choice.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, Protocol

from ponder.errors import PonderError
from ponder.stats import mean
from ponder.types import Completion, Problem, Sampling

MODES = ("<think>", "<answer>")  # the forced first tokens of a mode-balanced group, G/2 each
FORCED_LOGPROB = math.log(0.5)  # the probability each forced first token was drawn with


class ModeStrategy(Protocol):
    """The four hooks the loop calls; everything mode balancing changes lives behind them."""

    multi_turn: ClassVar[bool]  # rollouts of several turns with injected text (sub-call results, tool results)

    def check(self, group_size: int, prompt_suffix: str) -> None: ...

    def check_tokenizer(self, tokenizer) -> None: ...

    def rollout(self, policy, problems: list[Problem], group_size: int, sampling: Sampling,
                suffix: str) -> list[Completion]: ...

    def advantages(self, rewards, scale: str, levels=None, sums=None): ...

    def token_advantages(self, adv, mask, old, forced=None):
        """Per-token advantages of a micro-batch; `forced` [n] bool marks the rows whose first
        completion token was forced (a sub-call's row was sampled from its first token on);
        None: every row."""
        ...

    def advantage_columns(self, adv) -> dict[str, list[float]]: ...

    def metrics(self, policy, batch, temperature: float) -> dict[str, float]: ...


@dataclass(frozen=True)
class OnPolicy:
    """Every token from the policy; group advantages (`ponder.rl.losses.group_advantages`)."""

    multi_turn: ClassVar[bool] = False  # one completion per sample, no injected text

    def check(self, group_size: int, prompt_suffix: str) -> None:
        pass

    def check_tokenizer(self, tokenizer) -> None:
        pass

    def rollout(self, policy, problems, group_size, sampling, suffix):
        prompts = [policy.render(p, suffix) for p in problems]
        return [c for group in policy.generate(prompts, group_size, sampling) for c in group]

    def advantages(self, rewards, scale, levels=None, sums=None):
        from ponder.rl.losses import group_advantages

        return group_advantages(rewards, scale)  # [N]

    def token_advantages(self, adv, mask, old, forced=None):
        return adv

    def advantage_columns(self, adv):
        return {"advantage": adv.tolist()}

    def metrics(self, policy, batch, temperature):
        return {}


@dataclass(frozen=True)
class Balanced:
    """Half of each group forced to think, half to answer (see the module docstring)."""

    multi_turn: ClassVar[bool] = False  # one completion per sample, no injected text

    baseline: Literal["group", "batch"] = "group"  # "batch": also centre each mode's first-token advantage over the batch
    weight: float = 1.0  # the forced first token's weight in the loss, in tokens
    # the least divisor of the forced token's advantage (`mode_advantages`' floor; 0: the group's scale as is)
    std_floor: float = 0.0
    # the least divisor of the forced token's advantage as a multiple of its level's RMS gap
    # (`level_floors`; 0: none)
    level_floor: float = 0.0
    tags = MODES  # the two forced first tokens (a class constant, not an option)
    # the first completion token was forced, not sampled from the policy: the KL penalty's k3
    # estimator is not valid there (and explodes once the policy makes a forced mode rare)
    forced_first = True

    def __post_init__(self):
        if self.baseline not in ("group", "batch"):
            raise PonderError(f"mode_baseline must be group or batch, got {self.baseline!r}")
        if not self.weight > 0:
            raise PonderError(f"mode_weight must be > 0, got {self.weight}")
        if not self.std_floor >= 0:
            raise PonderError(f"mode_std_floor must be >= 0, got {self.std_floor}")
        if not self.level_floor >= 0:
            raise PonderError(f"mode_level_floor must be >= 0, got {self.level_floor}")

    def check(self, group_size: int, prompt_suffix: str) -> None:
        if group_size % 2 or prompt_suffix:
            raise PonderError("--modes balanced needs an even --group-size and no --prompt-suffix "
                              "(it starts half of each group with <think>, half with <answer>)")

    def check_tokenizer(self, tokenizer) -> None:
        mode_token_ids(tokenizer, self.tags)

    def rollout(self, policy, problems, group_size, sampling, suffix):
        half, ids = group_size // 2, mode_token_ids(policy.tokenizer, self.tags)
        by_mode = [policy.generate([policy.render(p, tag) for p in problems], half, sampling) for tag in self.tags]
        return [force_prefix(policy, tag, tid, c) for i in range(len(problems))
                for tag, tid, outs in zip(self.tags, ids, by_mode) for c in outs[i]]

    def advantages(self, rewards, scale, levels=None, sums=None):
        """[N, 2]: the forced first token's advantage, then every later token's. With `level_floor`,
        `levels` (each group's difficulty) and `sums` (the run's per-level statistics, updated in
        place) give each group its floor (`ponder.rl.losses.level_floors`)."""
        import torch

        from ponder.rl.losses import level_floors, mode_advantages, mode_gaps

        group_size = rewards.shape[1]
        floor = self.std_floor
        if self.level_floor and levels is not None:
            sums = {} if sums is None else sums  # None: this batch's statistics alone
            floor = torch.clamp(level_floors(mode_gaps(rewards), levels, sums, self.level_floor), min=self.std_floor)
        adv = mode_advantages(rewards, scale, floor)
        if self.baseline == "batch":  # each forced mode's first-token advantage, centred over the batch
            half = adv.view(-1, 2, group_size // 2, 2)[:, :, :, 0]  # [P, mode, G/2]
            half -= half.mean(dim=(0, 2), keepdim=True)
        adv[:, 0] *= self.weight
        return adv

    def token_advantages(self, adv, mask, old, forced=None):
        return first_token_split(adv, mask, old, forced)

    def advantage_columns(self, adv):
        return {"advantage_mode": adv[:, 0].tolist(), "advantage": adv[:, 1].tolist()}

    def metrics(self, policy, batch, temperature):
        """`p_think` (overall and per level): the policy's own probability of starting with <think>
        on the batch's prompts (the batch's sampled think-rate is forced to 1/2)."""
        firsts = batch.problems[:: batch.group_size]
        if not firsts:
            return {}
        probs = think_probability(policy, firsts, temperature, self.tags[0])
        name = "p_" + self.tags[0].strip("<>")
        m = {name: mean(probs)}
        by_level: dict[int, list[float]] = defaultdict(list)
        for p, x in zip(firsts, probs):
            by_level[p.difficulty].append(x)
        for d, xs in sorted(by_level.items()):
            m[f"{name}/d{d}"] = mean(xs)
        return m


@dataclass(frozen=True)
class PlanBalanced(Balanced):
    """`balanced` with `<plan>` in place of `<think>`: half of each group starts with a plan, half
    answers directly, so plan and direct answer are compared on every prompt and the planned half
    is trained however rarely the policy plans (logs p_plan, the policy's own plan rate)."""

    tags = ("<plan>", "<answer>")


@dataclass(frozen=True)
class SubCallTree(OnPolicy):
    """Multi-turn rollouts in which the policy may spawn sub-calls of itself (`ponder.rollout`):
    `<spawn>..</spawn>`s then `<join>`, the children run in one batched generate, their answers
    are pasted back and the root goes on. Credit as on-policy: one group advantage per root,
    which `ponder.rl.update.train_rows` / `row_owners` give to every token the root and its
    children generated (injected results are masked out). Limits per rollout: `max_turns` policy
    turns, and `max_new_tokens` tokens per turn and in all (results included)."""

    multi_turn: ClassVar[bool] = True  # rollouts are trees of turns with injected results

    max_turns: int = 4  # policy turns per rollout: 2 is decompose-then-answer

    def __post_init__(self):
        if self.max_turns < 1:
            raise PonderError(f"max_turns must be >= 1, got {self.max_turns}")

    def rollout(self, policy, problems, group_size, sampling, suffix):
        from ponder.rollout import Limits, SubCalls, as_completion, run_multiturn

        prompts = [policy.render(p, suffix) for p in problems]
        limits = Limits(max_turns=self.max_turns, max_tokens=sampling.max_new_tokens)
        return [as_completion(policy, r) for r in run_multiturn(policy, prompts, SubCalls(), sampling, limits, n=group_size)]

    def metrics(self, policy, batch, temperature):
        """The share of rollouts that spawned, sub-calls per rollout, mean critical-path tokens."""
        trees = [c.rollout for c in batch.completions if getattr(c, "rollout", None) is not None]
        if not trees:
            return {}
        return {"decompose_rate": mean(float(bool(r.children)) for r in trees),
                "subcalls": mean(float(len(r.children)) for r in trees),
                "critical_path_tokens": mean(float(r.critical_path_tokens) for r in trees)}


@dataclass(frozen=True)
class ToolRollouts(OnPolicy):
    """Multi-turn rollouts with tools (`ponder.tools.Tools`): the policy writes a call, the runtime
    runs it and injects the result, the policy goes on. Credit as on-policy, one group advantage per
    rollout; `ponder.rl.update.train_rows` masks the injected results out of the loss
    (`Rollout.loss_mask`). Limits per rollout: `max_turns` policy turns (so max_turns - 1 calls)
    and `max_new_tokens` tokens per turn and in all (results included). Whether a call pays is the
    reward's to say: a cost per call (`tool_calls` with a negative weight) lets easy prompts learn
    to answer directly."""

    multi_turn: ClassVar[bool] = True  # rollouts are turns with injected tool results

    tools: str = ""  # the tools the policy may call: `ponder.tools.select` names, comma-separated
    max_turns: int = 4  # policy turns per rollout: up to max_turns - 1 calls, then the answer

    def __post_init__(self):
        from ponder.tools import select

        if self.max_turns < 1:
            raise PonderError(f"max_turns must be >= 1, got {self.max_turns}")
        if not self.tools:
            raise PonderError("--modes tools needs --tools NAME[,NAME...] (e.g. --tools calc)")
        select(self.tools)  # unknown tool: one line, before anything runs

    def rollout(self, policy, problems, group_size, sampling, suffix):
        from ponder.rollout import Limits, as_completion, run_multiturn
        from ponder.tools import Tools, format_for, render_tool_prompt

        tok = getattr(policy, "tokenizer", None)
        env = Tools.from_spec(self.tools, fmt=format_for(tok))
        prompts = [render_tool_prompt(tok, p, env.tools, suffix) for p in problems]
        limits = Limits(max_turns=self.max_turns, max_tokens=sampling.max_new_tokens)
        return [as_completion(policy, r) for r in run_multiturn(policy, prompts, env, sampling, limits, n=group_size)]

    def metrics(self, policy, batch, temperature):
        """tool_rate (share of rollouts with a call; overall and per level), calls and errors per
        rollout, tool seconds per call."""
        rs = [(p.difficulty, c.rollout) for p, c in zip(batch.problems, batch.completions)
              if getattr(c, "rollout", None) is not None]
        if not rs:
            return {}
        calls = [c for _, r in rs for c in r.tool_calls]
        m = {"tool_rate": mean(float(bool(r.tool_calls)) for _, r in rs),
             "tool_calls": mean(float(len(r.tool_calls)) for _, r in rs),
             "tool_errors": mean(float(sum(c.error is not None for c in r.tool_calls)) for _, r in rs),
             "tool_latency_s": mean(c.latency_s for c in calls)}
        by_level: dict[int, list[float]] = defaultdict(list)
        for d, r in rs:
            by_level[d].append(float(bool(r.tool_calls)))
        for d, xs in sorted(by_level.items()):
            m[f"tool_rate/d{d}"] = mean(xs)
        return m


class _ForcedFirst:
    """A policy whose first `generate` starts every completion with a forced token (`tag`, id
    `tid`, drawn with probability 1/2), kept in the completion's text and ids as `force_prefix`
    does; later turns (a multi-turn rollout's continuations) pass through unchanged."""

    def __init__(self, policy, tag: str, tid: int):
        self.policy, self.tag, self.tid, self.first = policy, tag, tid, True

    def __getattr__(self, name):
        return getattr(self.policy, name)

    def generate(self, prompts, n, sampling):
        if not self.first:
            return self.policy.generate(prompts, n, sampling)
        self.first = False
        outs = self.policy.generate([p + self.tag for p in prompts], n, sampling)
        return [[replace(c, text=self.tag + c.text, token_ids=[self.tid, *c.token_ids], num_tokens=c.num_tokens + 1,
                         logprobs=None if c.logprobs is None else [FORCED_LOGPROB, *c.logprobs]) for c in cs]
                for cs in outs]


def _forced_halves(policy, prompts, env, group_size, sampling, tags, max_turns):
    """Multi-turn rollouts of mode-balanced groups, prompt-major: per prompt, the first half of
    its group forced to open with tags[0], the second half with tags[1]."""
    from ponder.rollout import Limits, as_completion, run_multiturn

    half, ids = group_size // 2, mode_token_ids(policy.tokenizer, tags)
    limits = Limits(max_turns=max_turns, max_tokens=sampling.max_new_tokens)
    by_mode = [run_multiturn(_ForcedFirst(policy, tag, tid), prompts, env, sampling, limits, n=half)
               for tag, tid in zip(tags, ids)]
    return [as_completion(policy, by_mode[m][i * half + j]) for i in range(len(prompts))
            for m in range(len(tags)) for j in range(half)]


@dataclass(frozen=True)
class ToolBalanced(Balanced):
    """`tools` in mode-balanced groups (`balanced`'s credit): half of each group is forced to open a
    tool call (its first token `<`, the first character of `<tool name=..>`), half to answer
    directly (`<answer>`), so calling and answering are compared on every prompt however rarely
    the policy picks one, and the forced token is credited by its half's mean reward against the
    group's (`first_token_split`). The plain tag format only (the tiny default). Logs p_call, the
    policy's own probability of opening a call, beside the tool metrics."""

    multi_turn: ClassVar[bool] = True  # rollouts are turns with injected tool results

    tools: str = ""  # as ToolRollouts
    max_turns: int = 4
    tags = ("<", "<answer>")

    def __post_init__(self):
        super().__post_init__()
        ToolRollouts(tools=self.tools, max_turns=self.max_turns)  # the same checks

    def rollout(self, policy, problems, group_size, sampling, suffix):
        from ponder.tools import Tools, render_tool_prompt

        env = Tools.from_spec(self.tools, fmt="tag")
        prompts = [render_tool_prompt(policy.tokenizer, p, env.tools) for p in problems]
        return _forced_halves(policy, prompts, env, group_size, sampling, self.tags, self.max_turns)

    def metrics(self, policy, batch, temperature):
        m = ToolRollouts.metrics(self, policy, batch, temperature)
        firsts = batch.problems[:: batch.group_size]
        if firsts:
            m["p_call"] = mean(think_probability(policy, firsts, temperature, self.tags[0]))
        return m


@dataclass(frozen=True)
class SubCallBalanced(Balanced):
    """`subcalls` in mode-balanced groups (`balanced`'s credit): half of each group is forced to
    open with `<spawn>` (decompose), half with `<think>` (solve serially), so the two are compared
    on every prompt however rarely the policy picks one, and the forced token is credited by its
    half's mean reward against the group's (`first_token_split`); every later token of the root and
    of its children takes the root's group advantage (column 1), as in `subcalls`; a child's first
    token included: it was sampled, not forced (`ponder.rl.update.Tensors.forced`), so it takes
    neither the forced token's credit nor its exemption from the KL penalty. (Given the forced
    credit, 10x weighted and importance-weighted x2 where negative, a child's `<think>` was pushed
    down on every easy prompt where splitting lost and the children degenerated within 60 steps:
    docs/abstraction.md, run 21.) Why balanced: on-policy, the spawn choice moves as one bias shared
    by every level (splitting pays at the hard levels and spreads to the easy one); a balanced group
    shows each prompt both modes. Logs p_spawn (overall and per level) beside the sub-call metrics."""

    multi_turn: ClassVar[bool] = True  # rollouts are trees of turns with injected results

    max_turns: int = 4  # as SubCallTree
    tags = ("<spawn>", "<think>")

    def __post_init__(self):
        super().__post_init__()
        SubCallTree(max_turns=self.max_turns)  # the same checks

    def rollout(self, policy, problems, group_size, sampling, suffix):
        from ponder.rollout import SubCalls

        prompts = [policy.render(p) for p in problems]
        return _forced_halves(policy, prompts, SubCalls(), group_size, sampling, self.tags, self.max_turns)

    def metrics(self, policy, batch, temperature):
        return {**SubCallTree.metrics(self, policy, batch, temperature), **Balanced.metrics(self, policy, batch, temperature)}


MODE_STRATEGIES: dict[str, type] = {"on_policy": OnPolicy, "balanced": Balanced, "plan_balanced": PlanBalanced,
                                   "subcalls": SubCallTree, "tools": ToolRollouts, "tool_balanced": ToolBalanced,
                                   "subcall_balanced": SubCallBalanced}
# TrainConfig field -> the strategy option it sets (a strategy without that option refuses it)
MODE_OPTIONS = {"mode_baseline": "baseline", "mode_weight": "weight", "mode_std_floor": "std_floor",
                "mode_level_floor": "level_floor",
                "max_turns": "max_turns", "tools": "tools"}


def mode_options(name: str) -> set[str]:
    """The options (dataclass fields) the strategy `name` takes."""
    return {f.name for f in dataclasses.fields(MODE_STRATEGIES[name])}


def mode_strategy(name: str, **options: Any) -> ModeStrategy:
    """The strategy `name` built with the options it takes (the others must be left at their
    defaults; TrainConfig checks that)."""
    if name not in MODE_STRATEGIES:
        raise PonderError(f"unknown modes {name!r}; choose from {', '.join(MODE_STRATEGIES)}")
    accepted = mode_options(name)
    return MODE_STRATEGIES[name](**{k: v for k, v in options.items() if k in accepted})


# -- the parts of mode balancing, importable and tested alone (tests/test_rl_modes.py) ---------
def mode_token_ids(tokenizer, tags: tuple[str, ...] = MODES) -> list[int]:
    """The token id of each tag (default MODES); PonderError if a tag is not a single token."""
    ids = [tokenizer.encode(tag, add_special_tokens=False) for tag in tags]
    if any(len(i) != 1 for i in ids):
        raise PonderError(f"mode-balanced groups need {' and '.join(tags)} to be single tokens of the tokenizer")
    return [i[0] for i in ids]


def force_prefix(policy, tag: str, tid: int, c: Completion) -> Completion:
    """`c` sampled after a forced `tag` (token id `tid`), as one completion that starts with the tag."""
    from ponder.policy import segment_token_counts

    text = tag + c.text
    think, answer = segment_token_counts(text, policy.count_tokens)
    return replace(c, text=text, token_ids=[tid, *c.token_ids], num_tokens=c.num_tokens + 1,
                   logprobs=None if c.logprobs is None else [FORCED_LOGPROB, *c.logprobs],
                   think_tokens=think, answer_tokens=answer)


def think_probability(policy, problems: list[Problem], temperature: float, tag: str = MODES[0]) -> list[float]:
    """pi(tag | prompt) at the first completion token (default <think>), per problem: the policy's
    own think-rate (what a mode-balanced batch's forced think-rate of 0.5 hides)."""
    import torch

    from ponder.policy.prompts import encode_prompt

    think_id = mode_token_ids(policy.tokenizer, (tag,))[0]
    model, tok = policy.model, policy.tokenizer
    out = []
    with torch.no_grad():
        for p in problems:
            ids = torch.tensor([encode_prompt(tok, policy.render(p))], device=policy.device)
            logits = model(input_ids=ids).logits[0, -1].float() / temperature
            out.append(float(torch.softmax(logits, -1)[think_id]))
    return out


def first_token_split(adv, mask, old, forced=None):
    """Per-token advantages [n, T] from [n, 2] (first token, later tokens) of a mode-balanced
    batch: column 1 everywhere, column 0 at each row's first completion position (the first 1 of
    `mask`) in the rows `forced` marks ([n] bool; None: every row; a sub-call's row is not forced:
    its first token was sampled, and takes column 1 like the rest). The forced token was drawn with probability 0.5, not from the policy; where its
    advantage is negative it is weighted by pi_old(token) / 0.5, so pushing a losing mode down
    fades as that mode becomes rare (unweighted, its log-probability is pushed toward minus
    infinity); where it is positive it is left unweighted, so a winning mode keeps being pulled up
    however rare it still is, and that pull fades by itself as its probability nears 1. The PPO
    ratio stays pi / pi_old (a trust region around the policy that sampled)."""
    import torch

    out = adv[:, 1:2].expand(-1, mask.shape[1]).clone()
    rows, first = torch.arange(mask.shape[0]), mask.argmax(1)
    a0 = adv[:, 0]
    weight = torch.exp(old[rows, first].detach() - FORCED_LOGPROB)
    split = torch.where(a0 < 0, a0 * weight, a0)
    out[rows, first] = split if forced is None else torch.where(forced, split, out[rows, first])
    return out
