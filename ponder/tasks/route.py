"""`route`: walk through waypoints in order on an open 10x10 board; the plannable task the tiny
model learns.

    prompt   walk 0,5>-2>+4>0,2
    oracle   <plan>0,5>0,3:L2;0,3>0,7:R4;0,7>0,2:L5</plan><answer>L2R4L5</answer>
    direct   <answer>L2R4L5</answer>

The prompt is the start cell, then the waypoints in order: a cell `row,col` (one digit each: the
board is rows and columns 0..9), or an offset `+4` / `-2`, that many columns right / left of the
previous waypoint (relative waypoints; only on levels along a line). The answer is a move string
in runs: a direction letter U/D/L/R (U: row - 1, R: col + 1) and an optional count 1-9, so `U3R3`
is `UUURRR` (whitespace and case ignored; the oracle writes runs). It scores 1.0 when every move
stays on the board, the walk passes the waypoints (resolved to cells) in the given order, and it
ends on the last one. The verifier replays it.

A plan has one step per leg: an optional label `from>to:` (the leg's two cells, resolved) and the
leg's runs, e.g. `0,3>0,7:R4`. `check_plan` replays the plan's moves (the labels are annotations,
not replayed) on the board: valid when every step parses and no move leaves the board, goal
reached when the replayed walk is one the verifier accepts. `plan_progress` is per-leg partial
credit: the fraction of legs whose step, replayed from the leg's true start, ends on its waypoint
(the `plan_progress` reward); `leg_spans` says where in a completion each such step is written
(the per-leg, token-level credit of `ponder.rl.credit`). `plan_adherence` is the fraction of plan steps whose moves the
answer carries out, in order (as `grid` measures it). The oracle plans each leg vertical-first
and answers with the plan's runs (a shortest walk).

Why this shape: the planned trace writes down the state a direct answer must keep silently. A
step's label copies the previous step's target and then either copies the next prompt cell or adds
a one-digit offset to the cell just written; its runs are the difference of the two columns just
written, and the answer copies the runs. A direct answer to an offset is a copy (`+4` -> `R4`), but
to an absolute cell after k offsets it needs the running sum of those k offsets and a difference,
unwritten. The levels walk along row 0 (10 columns) through 1, 2, 3, 6 and 8 legs, with 0, 1, 2,
2 and 3 offsets before each absolute cell (`LEVELS`). Before the offsets every waypoint was a cell,
and a well-trained tiny warm start answered even 8 legs directly at 0.95-1.00, so a plan could not
raise its accuracy (docs/train.md "Strategy runs" has the measurements, and the variants that did
not work: a 6x6 board, plans as counts without labels, moves written out letter by letter). A
level-5 planned completion is ~107 tokens, inside the 128-token budget. Why not `grid`: finding a
path around walls is a search the 0.87M tiny model does not learn in minutes. `careless` writes
the plausible-but-wrong plans (one run's count off by one, the answer carrying it out) that the
strategy warm start mixes in.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ponder.format import PLAN_CLOSE, PLAN_OPEN, PLAN_SEP, format_completion, parse, split_plan
from ponder.tasks.base import PlanCheck, Task, item_rng, problem_id, register
from ponder.tasks.grid import MOVES  # the board tasks share their moves
from ponder.types import Problem

BOARD = 10  # rows and columns 0..9: every coordinate is one digit
_SEG_RE = re.compile(r"([UDLR])(\d?)")
_STEP_RE = re.compile(r"(?:[UDLR]\d?)+")
_LABEL_RE = re.compile(r"\d,\d>\d,\d:")  # a plan step's optional `from>to:` label
MAX_MOVES = 1000


@dataclass(frozen=True)
class LegSpan:
    """Where a plan step is written in a completion and whether it is right."""

    leg: int  # 0-based step index (== leg index; >= the problem's legs for an extra step)
    start: int  # character span [start, end) of the completion: the step's text and its ';' if one follows
    end: int
    right: bool  # as `Route.plan_progress` judges the step (an extra step is never right)


@dataclass(frozen=True)
class RouteConfig:
    legs: int = 2  # waypoints after the start
    span: int = 6  # waypoints are drawn from columns 0..span-1
    rows: int = 6  # ... and rows 0..rows-1 (1: every waypoint on row 0, a walk along a line)
    # relative waypoints (`+3`: three columns right of the previous waypoint) before each absolute
    # one, the last waypoint always absolute; 0: every waypoint absolute. Only along a line (rows=1).
    relative: int = 0

    def __post_init__(self):
        if self.relative and self.rows != 1:
            raise ValueError(f"relative waypoints are column offsets: they need rows=1, got rows={self.rows}")

    def is_relative(self, i: int) -> bool:
        """Whether leg i's waypoint (0-based) is written as an offset: runs of `relative` offsets,
        each closed by an absolute cell, counted back from the last (absolute) waypoint."""
        return (self.legs - 1 - i) % (self.relative + 1) != 0


# level -> (legs, relative waypoints before each absolute one), all along row 0 of the board
LEVELS = {d: RouteConfig(legs=legs, span=10, rows=1, relative=rel)
          for d, (legs, rel) in zip((1, 2, 3, 4, 5), ((1, 0), (2, 1), (3, 2), (6, 2), (8, 3)))}


def cells(problem: Problem) -> list[tuple[int, int]]:
    """Start and waypoints, in order."""
    return [tuple(c) for c in problem.meta["cells"]]


def leg(a: tuple[int, int], b: tuple[int, int]) -> str:
    """The oracle's plan step from a to b: vertical run first, e.g. (3,1)->(0,4) is 'U3R3'."""
    dr, dc = b[0] - a[0], b[1] - a[1]
    return (("D" if dr > 0 else "U") + str(abs(dr)) if dr else "") + (("R" if dc > 0 else "L") + str(abs(dc)) if dc else "")


def offset_text(a: tuple[int, int], b: tuple[int, int]) -> str:
    """A relative waypoint as prompts write it: the signed column offset from a to b, '+3' or '-2'."""
    return f"{b[1] - a[1]:+d}"


def cell_text(cell: tuple[int, int]) -> str:
    """A cell as prompts and labels write it: `row,col`."""
    return f"{cell[0]},{cell[1]}"


def label(a: tuple[int, int], b: tuple[int, int]) -> str:
    """A plan step's label for the leg from a to b, as the prompt writes the two cells: '3,1>0,4:'."""
    return f"{cell_text(a)}>{cell_text(b)}:"


def expand(step: str) -> str | None:
    """'U3R2' -> 'UUURR'; 'R' -> 'R'; None unless the step is runs of a letter and an optional
    nonzero digit (case and spaces forgiven), at most MAX_MOVES moves in all."""
    s = "".join(step.split()).upper()
    if not _STEP_RE.fullmatch(s) or len(s) > MAX_MOVES:
        return None
    out = []
    for m in _SEG_RE.finditer(s):
        if m.group(2) == "0":
            return None
        out.append(m.group(1) * int(m.group(2) or 1))
    return "".join(out)


def step_moves(step: str) -> str | None:
    """A plan step's moves: its runs expanded after an optional `from>to:` label; None if it does not parse."""
    s = "".join(step.split())
    m = _LABEL_RE.match(s)
    return expand(s[m.end():] if m else s)


def step_right(step: str, leg: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    """Whether a plan step parses and its moves, replayed from the leg's own start (the true cell,
    whatever earlier steps did), stay on the board and end on the leg's waypoint."""
    moves = step_moves(step)
    return moves is not None and walk(moves, list(leg)) == (True, True)


def walk(moves: str, waypoints: list[tuple[int, int]]) -> tuple[bool, bool]:
    """(every move stays on the board, the walk passes `waypoints[1:]` in order and ends on the
    last), replaying `moves` from `waypoints[0]`; stops at the first move off the board."""
    (r, c), nxt = waypoints[0], 1
    for m in moves:
        dr, dc = MOVES[m]
        r, c = r + dr, c + dc
        if not (0 <= r < BOARD and 0 <= c < BOARD):
            return False, False
        if nxt < len(waypoints) and (r, c) == waypoints[nxt]:
            nxt += 1
    return True, nxt == len(waypoints) and (r, c) == waypoints[-1]


@register
class Route(Task):
    name = "route"
    description = "walk through waypoints in order on a 10x10 board (answer = U/D/L/R moves); plan = one step per leg"
    configs = LEVELS
    math = False
    plannable = True

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        pts = [(rng.randrange(cfg.rows), rng.randrange(cfg.span))]
        while len(pts) <= cfg.legs:
            p = (rng.randrange(cfg.rows), rng.randrange(cfg.span))
            # all absolute: every cell new (as the levels before relative waypoints drew them); with
            # relative waypoints only a zero-length leg is refused (the walk counts a waypoint only
            # once the previous one is reached, so a cell seen before does no harm)
            if (p not in pts) if not cfg.relative else p != pts[-1]:
                pts.append(p)
        plan = [leg(a, b) for a, b in zip(pts, pts[1:])]
        written = [cell_text(pts[0])] + [offset_text(a, b) if cfg.is_relative(i) else cell_text(b)
                                         for i, (a, b) in enumerate(zip(pts, pts[1:]))]
        return Problem(
            id=problem_id(self.name, seed, index, difficulty),
            task=self.name,
            prompt="walk " + ">".join(written),
            answer="".join(plan),
            difficulty=difficulty,
            meta={"cells": [list(p) for p in pts], "plan": plan},
        )

    # -- answer ----------------------------------------------------------------------------
    def moves(self, completion: str) -> str | None:
        """The answer's moves, runs expanded (`U3R2` -> `UUURR`), or None if the answer is not runs of moves."""
        answer = self.extract(completion)
        return None if answer is None else expand(answer)

    def verify(self, completion: str, problem: Problem) -> float:
        """1.0 iff the answer's moves stay on the board and pass the waypoints in order, ending on the last."""
        moves = self.moves(completion)
        return float(moves is not None and walk(moves, cells(problem)) == (True, True))

    # -- plans -----------------------------------------------------------------------------
    def check_plan(self, plan_text: str | None, problem: Problem) -> PlanCheck:
        """Replay a plan (`3,1>0,4:U3R3;0,4>2,2:D2L2`, labels optional) from the start, step by step.

        parsed: at least one step and every step parses. valid: parsed and no move leaves the
        board. goal_reached: valid and the plan's moves, replayed, pass every waypoint in order
        and end on the last (the verifier's test). first_error: 0-based index of the first step
        that does not parse or leaves the board; None if there is none.
        """
        steps = split_plan(plan_text or "")
        if not steps:
            return PlanCheck(parsed=False, valid=False, goal_reached=False, first_error=None, steps=0)
        blocks = [step_moves(s) for s in steps]
        bad = next((i for i, b in enumerate(blocks) if b is None), None)
        pts, moves = cells(problem), ""
        for i, b in enumerate(blocks[: len(blocks) if bad is None else bad]):
            moves += b
            if not walk(moves, pts)[0]:
                return PlanCheck(parsed=bad is None, valid=False, goal_reached=False, first_error=i, steps=len(steps))
        if bad is not None:
            return PlanCheck(parsed=False, valid=False, goal_reached=False, first_error=bad, steps=len(steps))
        return PlanCheck(parsed=True, valid=True, goal_reached=walk(moves, pts)[1], first_error=None, steps=len(steps))

    def plan_progress(self, plan_text: str | None, problem: Problem) -> float:
        """Per-leg partial credit: the fraction of legs the plan gets right, step i judged against
        leg i alone. A step is right when it parses and its moves, replayed from leg i's own start
        (the true cell, whatever earlier steps did), stay on the board and end on leg i's waypoint.
        Divided by the larger of the plan's steps and the problem's legs (a missing or extra step
        costs its share); labels are notes, as in `check_plan`. 0.0 without a plan."""
        steps = split_plan(plan_text or "")
        pts = cells(problem)
        legs = list(zip(pts, pts[1:]))
        if not steps:
            return 0.0
        right = sum(step_right(step, leg) for step, leg in zip(steps, legs))
        return right / max(len(steps), len(legs))

    def leg_spans(self, completion: str, problem: Problem) -> list[LegSpan]:
        """The character span of each plan step in `completion` and whether it is right, step i
        judged against leg i from its true start exactly as `plan_progress` judges it: one span
        per step and per leg, max(steps, legs) in all, so `mean(s.right)` is `plan_progress` of
        the completion's plan. A step's span is its text, surrounding whitespace excluded, plus
        the separator after it; a leg the plan does not reach gets an empty span where the plan
        closes (it is nowhere written), an extra step is never right. [] without a plan, or
        where the plan `parse` reads is not the last literal <plan>..</plan> of the text (a plan
        inside <think>: the offsets would not be the text's)."""
        plan = parse(completion, math=self.math).plan
        start = completion.rfind(PLAN_OPEN)
        if plan is None or start < 0:
            return []
        start += len(PLAN_OPEN)
        end = completion.find(PLAN_CLOSE, start)
        if end < 0 or completion[start:end] != plan:
            return []
        pts = cells(problem)
        legs = list(zip(pts, pts[1:]))
        out = []
        for m in re.finditer(r"[^;\n]+", plan):  # the steps `split_plan` reads, with their offsets
            text = m.group()
            if not text.strip():
                continue
            k = len(out)
            lo = start + m.start() + (len(text) - len(text.lstrip()))
            after = start + m.end()
            # the separator after the step is the step's own (it says "another step follows")
            hi = after + 1 if completion[after:after + 1] in (PLAN_SEP, "\n") else start + m.start() + len(text.rstrip())
            out.append(LegSpan(leg=k, start=lo, end=hi, right=k < len(legs) and step_right(text.strip(), legs[k])))
        # a leg the plan does not reach: an empty span where the plan closes, never right
        return out + [LegSpan(leg=k, start=end, end=end, right=False) for k in range(len(out), len(legs))]

    def plan_adherence(self, completion: str, problem: Problem) -> float:
        """Fraction of plan steps whose moves appear in the answer contiguously and in order
        (detours between them allowed; the largest such number of steps over the plan's length).
        Unparseable steps count as not carried out; 0.0 without a plan or a move answer."""
        steps = parse(completion, math=self.math).plan_steps
        moves = self.moves(completion)
        if not steps or moves is None:
            return 0.0
        # longest in-order chain of non-overlapping block matches: DP over (step, end position)
        best = {0: 0}  # end position in moves -> most steps carried out ending there
        for b in map(step_moves, steps):
            new = dict(best)
            if b:
                for j, count in best.items():
                    k = moves.find(b, j)
                    if k >= 0:
                        new[k + len(b)] = max(new.get(k + len(b), 0), count + 1)
            best = new
        return max(best.values()) / len(steps)

    def oracle(self, problem: Problem, think: bool = True) -> str:
        """With think=True the planned completion (labelled plan, then the answer); else the answer alone."""
        if not think:
            return format_completion(problem.answer)
        return planned(problem.meta["plan"], cells(problem))

    def careless(self, problem: Problem, rng: random.Random) -> str:
        """A plausible-but-wrong planned completion: one segment's count off by one (never to 0),
        and the answer carrying out that plan, so it misses its waypoint."""
        plan = list(problem.meta["plan"])
        i = rng.randrange(len(plan))
        segs = _SEG_RE.findall(plan[i])
        j = rng.randrange(len(segs))
        letter, count = segs[j][0], int(segs[j][1] or 1)
        segs[j] = (letter, str(count + 1 if count == 1 or rng.random() < 0.5 else count - 1))
        plan[i] = "".join(a + b for a, b in segs)
        return planned(plan, cells(problem))


def planned(plan: list[str], pts: list[tuple[int, int]]) -> str:
    """The completion that states `plan` (one step per leg, labelled with the leg's two cells) and
    answers with the plan's runs, whatever they are (so a wrong plan is carried out)."""
    steps = [label(a, b) + step for a, b, step in zip(pts, pts[1:], plan)]
    return format_completion("".join(plan), plan=steps)
