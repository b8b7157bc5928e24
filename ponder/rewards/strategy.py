"""Strategy (planning) and abstraction (decomposition) rewards.

plan_format    1 if the completion is well formed and opens with a non-empty <plan>..</plan>
               (steps separated by ';'), else 0. A format reward in the DeepSeek-R1 sense,
               applied to ponder's plan-first format.
plan_validity  The task's simulator replays the plan (`task.check_plan(plan, problem)`):
               1 if every step is legal and the goal is reached, 0.5 if every step is legal but
               the goal is not reached, 0 otherwise (no plan, unparseable, illegal step, or a
               task that is not plannable).
plan_progress  Per-step partial credit from the task's simulator (`task.plan_progress(plan,
               problem)` in [0, 1]: for `route`, the fraction of legs whose plan step, replayed from
               that leg's true start, ends on its waypoint); 0 without a plan or for tasks that do
               not define it. Denser than plan_validity where whole plans are rarely right: a plan
               with 7 of 8 legs right earns more than one with 2, where correctness gives both 0.
plan_legs      Not a sequence reward: a token-level term (`ponder.rl.credit`). Per completion, None
               without a plan, else the character span of each plan step and whether it is right
               (`task.leg_spans`; for `route`, the legs `plan_progress` counts, a leg the plan
               does not reach as an empty span), as (unit, start, end, value), unit = the leg;
               the trainer puts each leg's credit, centred on the same leg's mean over the
               group's planned completions, on that leg's tokens alone.
plan_adherence `task.plan_adherence(completion, problem)` in [0, 1]: how far the worked solution
               follows the stated plan (0 for tasks that are not plannable).
decomposition  `task.check_decomposition(plan, problem)` in [0, 1] for decomposable tasks: the
               plan names valid, covering sub-problems (0 without a plan or for other tasks).
nospawn        1 if the completion is correct AND spawned no sub-call (no `<spawn>` in its text),
               else 0: sub-calls cost tokens, so where the model can answer alone it should. The
               sub-call analogue of `nothink` (AdaptThink's bonus, gated on correctness so that
               not splitting never pays where it breaks the answer); its weight plays AdaptThink's
               delta. With correctness beside it, splitting pays exactly where it is what makes
               the answer right.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.format import SPAWN_OPEN, parse
from ponder.rewards.base import CompletionLike, correctness_scores, text_of
from ponder.types import Problem


def get_task(name: str):
    from ponder.tasks import get_task as lookup  # lazy: the task registry imports every family

    return lookup(name)


def plan_format(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    out = []
    for y in completions:
        parsed = parse(text_of(y))
        out.append(float(parsed.well_formed and bool(parsed.plan_steps)))
    return out


def plan_validity(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    out = []
    for p, y in zip(problems, completions):
        task, plan = get_task(p.task), parse(text_of(y)).plan
        if plan is None or not getattr(task, "plannable", False):
            out.append(0.0)
            continue
        check = task.check_plan(plan, p)
        out.append(1.0 if check.valid and check.goal_reached else (0.5 if check.valid else 0.0))
    return out


def plan_progress(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    out = []
    for p, y in zip(problems, completions):
        task, plan = get_task(p.task), parse(text_of(y)).plan
        score = getattr(task, "plan_progress", None)
        out.append(float(score(plan, p)) if plan is not None and score is not None else 0.0)
    return out


def plan_legs(problems: Sequence[Problem], completions: Sequence[CompletionLike]
              ) -> list[list[tuple[int, int, int, float]] | None]:
    """Per completion: None without a plan (or for a task without `leg_spans`), else one
    (leg, start, end, 1.0 right / 0.0 wrong) per leg and per plan step (`task.leg_spans`).

    A plan that does not parse as a whole (`task.check_plan(...).parsed`: some step is not a step)
    earns no leg right: per-leg credit is for a plan, and a malformed one is not (the evaluation's
    plan rate does not count it either). Without this gate, RL on the 8-leg level learnt to write
    `0,6;0,0:L6` for `0,6>0,0:L6` (its plans parsed 0.07 of the time against the correctness-only
    arm's 0.94, docs/train.md "Per-leg credit")."""
    out: list[list[tuple[int, int, int, float]] | None] = []
    for p, y in zip(problems, completions):
        task, text = get_task(p.task), text_of(y)
        spans = getattr(task, "leg_spans", None)
        plan = parse(text, math=task.math).plan
        if spans is None or plan is None:
            out.append(None)
            continue
        whole = task.check_plan(plan, p).parsed if hasattr(task, "check_plan") else True
        out.append([(s.leg, s.start, s.end, float(s.right and whole)) for s in spans(text, p)])
    return out


def plan_adherence(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    out = []
    for p, y in zip(problems, completions):
        task = get_task(p.task)
        out.append(float(task.plan_adherence(text_of(y), p)) if getattr(task, "plannable", False) else 0.0)
    return out


def decomposition(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    out = []
    for p, y in zip(problems, completions):
        task, plan = get_task(p.task), parse(text_of(y)).plan
        ok = plan is not None and getattr(task, "decomposable", False)
        out.append(float(task.check_decomposition(plan, p)) if ok else 0.0)
    return out


def nospawn(problems: Sequence[Problem], completions: Sequence[CompletionLike]) -> list[float]:
    correct = correctness_scores(problems, completions)
    return [float(c >= 1.0 and SPAWN_OPEN not in text_of(y)) for y, c in zip(completions, correct)]
