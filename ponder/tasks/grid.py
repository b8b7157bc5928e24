"""`grid`: plannable route finding on a small grid.

    prompt   route S..#/.#../...G
    oracle   <plan>D2;R3</plan><think>D2:2,0;R3:2,3</think><answer>DDRRR</answer>

The prompt lists the grid's rows, top first, separated by `/`: `.` free, `#` wall, `S` start,
`G` goal. The answer is a move string over U/D/L/R (whitespace ignored); any legal path (never
off the grid, never into a wall) that ends on G scores 1.0; the verifier replays it.

Plans are run-length segments, e.g. `<plan>R2;D2</plan>`: a direction letter and a count
(a bare letter means 1), steps separated by `;`. `check_plan` replays a plan step by step;
`plan_adherence` measures how much of the plan the answer carries out. The oracle writes a
shortest path with the fewest turns (so the fewest plan steps); its <think> gives the cell
`row,col` reached after each segment.

Generation draws walls at the level's density and S, G at least `min_dist` apart, redrawing
until a path exists (BFS), all from the item's RNG, so it is deterministic.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass

from ponder.format import format_completion, parse, split_plan
from ponder.tasks.base import PlanCheck, Task, item_rng, problem_id, register
from ponder.types import Problem

MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}


def move_string(answer: str | None) -> str | None:
    """An answer as a move string (whitespace removed, upper-cased; at most 1000 moves), or None if
    it is not one (shared by the board tasks: grid, route)."""
    if answer is None:
        return None
    moves = "".join(answer.split()).upper()
    return moves if moves and set(moves) <= set(MOVES) and len(moves) <= 1000 else None
_STEP_RE = re.compile(r"([UDLR])(\d{0,3})")


@dataclass(frozen=True)
class GridConfig:
    rows: int = 5
    cols: int = 5
    wall_p: float = 0.25  # chance that a cell is a wall
    min_dist: int = 4  # shortest S->G path length at least this


LEVELS = {
    1: GridConfig(rows=3, cols=3, wall_p=0.0, min_dist=2),
    2: GridConfig(rows=4, cols=4, wall_p=0.15, min_dist=3),
    3: GridConfig(rows=5, cols=5, wall_p=0.2, min_dist=4),
    4: GridConfig(rows=6, cols=6, wall_p=0.25, min_dist=6),
    5: GridConfig(rows=7, cols=7, wall_p=0.3, min_dist=8),
}


def _find(rows: list[str], ch: str) -> tuple[int, int]:
    for r, row in enumerate(rows):
        if ch in row:
            return r, row.index(ch)
    raise ValueError(f"no {ch!r} in grid")


def _free(rows: list[str], r: int, c: int) -> bool:
    return 0 <= r < len(rows) and 0 <= c < len(rows[0]) and rows[r][c] != "#"


def shortest_path(rows: list[str]) -> str | None:
    """Moves of a shortest S->G path with the fewest turns among them, or None.

    Dijkstra on (cell, last direction) with cost (steps, turns); ties break in U, D, L, R
    order, so the result is deterministic.
    """
    start, goal = _find(rows, "S"), _find(rows, "G")
    heap = [(0, 0, "", start)]
    best: dict[tuple, tuple[int, int]] = {}
    while heap:
        steps, turns, path, (r, c) = heapq.heappop(heap)
        if (r, c) == goal:
            return path
        key = ((r, c), path[-1:])
        if key in best:
            continue
        best[key] = (steps, turns)
        for m, (dr, dc) in MOVES.items():
            if _free(rows, r + dr, c + dc):
                turn = int(bool(path) and path[-1] != m)
                heapq.heappush(heap, (steps + 1, turns + turn, path + m, (r + dr, c + dc)))
    return None


def run_length(moves: str) -> list[str]:
    """'RRDDD' -> ['R2', 'D3']."""
    return [m.group(0)[0] + str(len(m.group(0))) for m in re.finditer(r"U+|D+|L+|R+", moves)]


def parse_step(step: str) -> tuple[str, int] | None:
    """'R2' -> ('R', 2); 'R' -> ('R', 1); anything else (incl. 'R0') -> None."""
    m = _STEP_RE.fullmatch("".join(step.split()).upper())
    if not m or m.group(2) in ("0", "00", "000"):
        return None
    return m.group(1), int(m.group(2) or 1)


def replay(moves: str, rows: list[str]) -> tuple[bool, tuple[int, int]]:
    """(every move legal, final cell) of a move string from S; stops at the first illegal move."""
    r, c = _find(rows, "S")
    for m in moves:
        dr, dc = MOVES[m]
        if not _free(rows, r + dr, c + dc):
            return False, (r, c)
        r, c = r + dr, c + dc
    return True, (r, c)


@register
class Grid(Task):
    name = "grid"
    description = "route from S to G on a small grid (answer = U/D/L/R moves); plan = run-length segments"
    configs = LEVELS
    math = False
    plannable = True

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        cfg = self.config(difficulty)
        rng = item_rng(self.name, seed, index, difficulty)
        cells = [(r, c) for r in range(cfg.rows) for c in range(cfg.cols)]
        for _ in range(10_000):  # a few draws suffice: the levels leave most cells free
            grid = [["#" if rng.random() < cfg.wall_p else "." for _ in range(cfg.cols)] for _ in range(cfg.rows)]
            s, g = rng.sample(cells, 2)
            grid[s[0]][s[1]], grid[g[0]][g[1]] = "S", "G"
            rows = ["".join(row) for row in grid]
            path = shortest_path(rows)
            if path is not None and len(path) >= cfg.min_dist:
                break
        else:
            raise RuntimeError(f"grid: no solvable {cfg} grid in 10000 draws")
        return Problem(
            id=problem_id(self.name, seed, index, difficulty),
            task=self.name,
            prompt="route " + "/".join(rows),
            answer=path,
            difficulty=difficulty,
            meta={"rows": rows},
        )

    # -- answer ----------------------------------------------------------------------------
    def moves(self, completion: str) -> str | None:
        """The answer's move string (whitespace removed, upper-cased), or None if not moves."""
        return move_string(self.extract(completion))

    def verify(self, completion: str, problem: Problem) -> float:
        """1.0 iff the answer's moves are all legal and end on G."""
        moves = self.moves(completion)
        if moves is None:
            return 0.0
        rows = problem.meta["rows"]
        legal, end = replay(moves, rows)
        return float(legal and end == _find(rows, "G"))

    # -- plans -----------------------------------------------------------------------------
    def check_plan(self, plan_text: str | None, problem: Problem) -> PlanCheck:
        """Replay a run-length plan (`R2;D2`) from S, step by step.

        parsed: there is at least one step and every step parses (`R2`, `r 2`, `R`).
        valid: parsed and no step leaves the grid or enters a wall.
        goal_reached: valid and the last step ends on G.
        first_error: 0-based index of the first step that does not parse or whose moves hit a
        wall / the edge (replay stops there); None if there is none. steps: number of steps.
        """
        steps = split_plan(plan_text or "")
        rows = problem.meta["rows"]
        if not steps:
            return PlanCheck(parsed=False, valid=False, goal_reached=False, first_error=None, steps=0)
        parsed_steps = [parse_step(s) for s in steps]
        all_parsed = all(p is not None for p in parsed_steps)
        r, c = _find(rows, "S")
        for i, p in enumerate(parsed_steps):
            if p is None:
                return PlanCheck(parsed=False, valid=False, goal_reached=False, first_error=i, steps=len(steps))
            dr, dc = MOVES[p[0]]
            for _ in range(p[1]):
                if not _free(rows, r + dr, c + dc):
                    return PlanCheck(parsed=all_parsed, valid=False, goal_reached=False, first_error=i, steps=len(steps))
                r, c = r + dr, c + dc
        return PlanCheck(parsed=True, valid=True, goal_reached=(r, c) == _find(rows, "G"), first_error=None, steps=len(steps))

    def plan_adherence(self, completion: str, problem: Problem) -> float:
        """Fraction of the plan's steps that the answer's moves carry out, in order.

        Each plan step expands to a block of moves (`R2` -> `RR`). A step is carried out when
        its block appears contiguously in the answer's move string after the blocks of the
        previously carried-out steps (detours in between are allowed; blocks do not overlap).
        Adherence = (largest number of steps carried out this way) / (number of plan steps),
        so an answer that is exactly the plan's moves scores 1.0. Unparseable steps count as
        not carried out. 0.0 when the completion has no plan or no move-string answer.
        """
        parsed = parse(completion, math=self.math)
        steps = parsed.plan_steps
        moves = self.moves(completion)
        if not steps or moves is None:
            return 0.0
        blocks = [(p[0] * p[1]) if (p := parse_step(s)) else None for s in steps]
        # Forward DP over the Pareto front {end position in moves: most steps carried out}:
        # a step is either skipped or matched at its earliest occurrence after the end position.
        front = {0: 0}
        for b in blocks:
            new = dict(front)
            for j, count in front.items():
                k = moves.find(b, j) if b else -1
                if k >= 0:
                    end = k + len(b)
                    new[end] = max(new.get(end, 0), count + 1)
            best, front = -1, {}
            for j in sorted(new):  # keep only states not beaten by an earlier end position
                if new[j] > best:
                    front[j], best = new[j], new[j]
        return max(front.values()) / len(blocks)

    def oracle(self, problem: Problem, think: bool = True) -> str:
        if not think:
            return format_completion(problem.answer)
        segs = run_length(problem.answer)
        r, c = _find(problem.meta["rows"], "S")
        trace = []
        for seg in segs:
            dr, dc = MOVES[seg[0]]
            r, c = r + dr * int(seg[1:]), c + dc * int(seg[1:])
            trace.append(f"{seg}:{r},{c}")
        return format_completion(problem.answer, think=";".join(trace), plan=segs)
