"""Per-dataset facts about reasoning-gym 0.1.25 that the `rg/` adapter acts on.

Each table is checked by the `gym` tests and measured by `bench/gym_coverage.py` (its output is
the coverage table in docs/tasks.md); an entry says why, in words a user reads in `ponder tasks`.
"""

from __future__ import annotations

BLOCK = 1000  # items per rg dataset object: ponder item i is item i % BLOCK of block i // BLOCK
GEN_BUDGET_S = 30.0  # wall clock to generate one item (building its dataset object included)
GEN_ATTEMPTS = 3  # an item rg's generator fails on is taken from a reseeded block, this many tries in all

# datasets `get_task` refuses, and why
REFUSED = {
    "composite": "it mixes other rg datasets named in its config (its default names none); "
                 "mix rg/ tasks in ponder instead (tasks=rg/a,rg/b)",
}

# config fields bounded after the curriculum set them: rg's curricula ask for values the
# datasets' own configs refuse (field: (lowest, highest); None = unbounded)
CLAMPS: dict[str, dict[str, tuple[int | None, int | None]]] = {
    "knight_swap": {"min_nodes": (6, None), "max_nodes": (6, None)},  # curriculum starts at 4 nodes
    "survo": {"max_empty": (None, 9)},  # at most (min_board_size - 1)**2 = 9 empty cells
    "caesar_cipher": {"max_rotation": (None, 25)},  # curriculum's top rotation is 50
    "modulo_grid": {"max_target": (1, None)},  # curriculum's level 1 asks for max_target 0
    "rubiks_cube": {"cube_size": (None, 6)},  # curriculum's top cube is 7
}

# the curriculum levels ponder's levels 1..5 are spread over, where not all of them
# (lowest, highest or None for the top, why)
RG_LEVELS: dict[str, tuple[int, int | None, str]] = {
    "jugs": (0, 1, "rg levels 2+ take 4-9 s per item to generate, 3+ over 30 s"),
    "zebra_puzzles": (0, 3, "rg levels 4+ take 3-11 s per item to generate"),
    "sokoban": (1, None, "rg level 0 (6x6 boards) takes 2-14 s per item to generate"),
}

# datasets whose items have no reference answer: rg's scorer checks a solution (by simulation
# or search), so ponder has no oracle completion for them
NO_ORACLE = frozenset({"boxnet", "graph_color", "propositional_logic", "rubiks_cube", "rush_hour"})

# scorers a policy can satisfy without solving the item (flagged in `ponder tasks`, warned
# about by a training run)
GAMEABLE = {
    "game_of_life_halting": "rg scores any non-empty answer 1.0 (it compares truthiness, and both "
                            "'True' and 'False' are true)",
    "game_of_life": "at levels 2-5 nearly every board dies out and rg compares only the cells of its own "
                    "grid: one all-zero 100x100 grid scores 1.0 on 19-20 of 20 items there",
    "puzzle24": "rg checks that the answer makes 24 from four numbers in the level's range, not from the "
                "puzzle's numbers: 4*6*1*1 scores 1.0 on every item at levels 2-5",
}
