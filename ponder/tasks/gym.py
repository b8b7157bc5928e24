"""reasoning-gym datasets as ponder tasks: `rg/<name>` (extra `gym`: pip install 'ponder[gym]').

    task = get_task("rg/countdown")             # binary reward: 1.0 only when rg scores 1.0
    task = get_task("rg/countdown?partial=1")   # rg's partial-credit float, as is
    problems = task.sample(8, difficulty=3, seed=0)

Which datasets work, and how each was checked: docs/tasks.md ("reasoning-gym coverage").
The per-dataset facts acted on here live in `ponder.tasks.rg_tables`: datasets refused at
`get_task` (with the reason), config fields clamped to what the dataset accepts, curriculum
levels left out because they generate too slowly, datasets without a reference answer
(`has_oracle = False`) and scorers that can be gamed (`gameable`, warned about by training).

Difficulty. A dataset with a reasoning-gym curriculum gets ponder's levels 1..5 spread evenly
over the curriculum's global levels lo..hi (0..N by default, N = the longest attribute ladder
minus one; minus two for range attributes, whose level L already spans ladder steps L..L+1):
`rg_level = lo + ((difficulty - 1) * (hi - lo) + 2) // 4`, so 1 -> lo and 5 -> hi. The
configuration is rg's default INCLUSIVE mode (ranges run from the easiest step up to that level),
as rg's own curriculum training does. Datasets without a curriculum (gsm_symbolic, acre,
list_functions) have one level, 1, with rg's config defaults.

Generation (`ponder.tasks.rg_gen`) runs rg in a helper process with PYTHONHASHSEED=0 and a time
budget per item. Item `index` is item `index % BLOCK` of a dataset object ("block"
`index // BLOCK`) seeded from (name, seed, difficulty, block); rg generates it from
`Random(block_seed + index % BLOCK)`, so any item is reproducible on its own, in any process.
Blocks keep rg's dataset sizes small (word_ladder refuses more than 20,000 items; acre builds all
of its items up front). An item rg fails to generate (tsumego, now and then) comes from a
reseeded block instead. `meta["rg"]` holds the coordinates, the `recipe` of the block's dataset
object and what the scorer needs of rg's entry (`carried`: its metadata, see `rg_core.carry`).
The answer is rg's reference answer; oracle = `<answer>{answer}</answer>`.

Scoring. The answer is the last <answer> outside <think> (ponder's format, not rg's own
extractor); no answer scores 0 without consulting rg. rg's `score_answer` runs in a sandbox
(`ponder.tasks.rg_score`): one confined server per process, a forked child per item, against the
entry the problem carries (no regeneration, so milliseconds per item and no dependence on the
scorer's hash seed). Several rg scorers evaluate the answer; `ponder.tasks.rg_guard` keeps an
answer from running as code there, so it cannot change its own verdict.
"""

from __future__ import annotations

import copy
import difflib
import importlib.util
import random
from functools import lru_cache
from urllib.parse import parse_qsl

from ponder.errors import PonderError
from ponder.format import format_completion
from ponder.tasks.base import NoOracle, Task
from ponder.tasks.rg_tables import BLOCK, CLAMPS, GAMEABLE, GEN_ATTEMPTS, GEN_BUDGET_S, NO_ORACLE, REFUSED, RG_LEVELS
from ponder.types import Problem


def _factory():
    try:
        from reasoning_gym import factory
    except ImportError:
        raise PonderError("rg/ tasks need reasoning-gym: pip install 'ponder[gym]'") from None
    return factory


def installed() -> bool:
    """Whether reasoning-gym is importable, found without importing it (which takes seconds)."""
    return importlib.util.find_spec("reasoning_gym") is not None


def dataset_names() -> list[str]:
    """Every rg dataset, refused ones included."""
    return sorted(_factory().DATASETS)


def category(name: str) -> str:
    """rg's package for the dataset (algebra, games, ...), from its module path."""
    parts = _factory().DATASETS[name][0].__module__.split(".")
    return parts[1] if len(parts) > 2 else "other"


@lru_cache(maxsize=None)
def num_rg_levels(name: str) -> int:
    """Distinct global levels of a dataset's curriculum (0 without one)."""
    f = _factory()
    if name not in f.CURRICULA:
        return 0
    attrs = f.create_curriculum(name).attributes.values()
    return max(1, max(len(a.levels) - (1 if getattr(a, "ensure_interval", False) else 0) for a in attrs))


def level_range(name: str) -> tuple[int, int] | None:
    """The curriculum levels ponder's 1..5 span (None without a curriculum)."""
    n = num_rg_levels(name)
    if not n:
        return None
    lo, hi, _ = RG_LEVELS.get(name, (0, None, ""))
    return lo, min(n - 1, n - 1 if hi is None else hi)


def rg_level(difficulty: int, lo: int, hi: int) -> int:
    """ponder difficulty 1..5 -> rg global level lo..hi, spread evenly."""
    return lo + ((difficulty - 1) * (hi - lo) + 2) // 4


def recipe(name: str, difficulty: int, seed: int, block: int, attempt: int = 0) -> dict:
    """The rg dataset object behind block `block` of (name, difficulty, seed) (see rg_core);
    `attempt` > 0 reseeds it, for items rg fails to generate."""
    span = level_range(name)
    tail = f"/{attempt}" if attempt else ""
    return {
        "name": name,
        "level": None if span is None else rg_level(difficulty, *span),
        "seed": random.Random(f"ponder/rg/{name}/{seed}/{difficulty}/{block}{tail}").getrandbits(31),
        "size": BLOCK,
        "clamps": {k: list(v) for k, v in CLAMPS.get(name, {}).items()},
    }


@lru_cache(maxsize=512)
def _entry(name: str, difficulty: int, seed: int, index: int) -> tuple[dict, dict]:
    """(recipe, generated item) of one ponder item; rg items that fail to generate are taken
    from a reseeded block instead, up to GEN_ATTEMPTS times (the recipe used travels along)."""
    from ponder.tasks.rg_gen import GenerationError, GenerationTimeout, generator

    where = f"rg/{name}: item {index} at difficulty {difficulty}"
    for attempt in range(GEN_ATTEMPTS):
        r = recipe(name, difficulty, seed, index // BLOCK, attempt)
        try:
            return r, generator().item(r, index % BLOCK, GEN_BUDGET_S)
        except GenerationTimeout as e:
            raise PonderError(f"{where} {e} to generate (reasoning-gym's generator is too slow here)") from None
        except GenerationError as e:
            error = e
        except PonderError as e:
            raise PonderError(f"{where}: cannot generate: {e}") from None
    raise PonderError(f"{where}: cannot generate ({GEN_ATTEMPTS} tries): {error}")


class RGTask(Task):
    """One reasoning-gym dataset; see the module docstring."""

    math = False

    def __init__(self, dataset: str, partial: bool = False):
        self.dataset = dataset
        self.partial = partial
        self.name = f"rg/{dataset}" + ("?partial=1" if partial else "")
        self.description = f"reasoning-gym {dataset}" + (" (partial credit)" if partial else "")
        self.levels = (1, 2, 3, 4, 5) if num_rg_levels(dataset) else (1,)
        self.has_oracle = dataset not in NO_ORACLE
        self.gameable = GAMEABLE.get(dataset, "")

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        self.check_difficulty(difficulty)
        if index < 0:
            raise PonderError(f"item index must be >= 0, got {index}")
        r, e = _entry(self.dataset, difficulty, seed, index)
        return Problem(
            id=f"rg/{self.dataset}/d{difficulty}/s{seed}/{index}",
            task=self.name,
            prompt=e["question"],
            answer="" if e["answer"] is None else e["answer"],
            difficulty=difficulty,
            meta={"rg": {"dataset": self.dataset, "difficulty": difficulty, "seed": seed, "index": index,
                         "recipe": copy.deepcopy(r), "item": index % BLOCK, "carried": copy.deepcopy(e["carried"]),
                         "gold_ok": e["gold_ok"]}},
        )

    def request(self, problem: Problem, answer: str) -> dict:
        """What the scoring server needs to score `answer` on `problem` (see rg_server)."""
        rg = problem.meta.get("rg") or {}
        if "recipe" not in rg:
            raise PonderError(f"{problem.id}: meta['rg'] lacks the recipe (sampled by an older ponder?); sample it again")
        return {"dataset": rg["recipe"]["name"], "recipe": rg["recipe"], "item": rg["item"],
                "carried": rg.get("carried", {}), "question": problem.prompt, "gold": problem.answer, "answer": answer}

    def score(self, completion: str, problem: Problem) -> float:
        """reasoning-gym's own (partial-credit) score, computed in the sandbox."""
        from ponder.tasks.rg_score import scorer

        answer = self.extract(completion)
        if answer is None or not answer.strip():
            return 0.0
        return scorer().score(self.request(problem, answer))

    def verify(self, completion: str, problem: Problem) -> float:
        s = self.score(completion, problem)
        return s if self.partial else float(s == 1.0)

    def oracle(self, problem: Problem, think: bool = True) -> str:
        """rg's reference answer (rg has no worked trace to put in <think>).

        NoOracle for datasets without reference answers, and for the items whose reference answer
        rg's own scorer does not accept (`meta["rg"]["gold_ok"]`, checked at generation).
        """
        if not self.has_oracle:
            raise NoOracle(f"{self.name}: reasoning-gym gives no reference answer (its scorer checks a solution)")
        if problem.meta.get("rg", {}).get("gold_ok") is False:
            raise NoOracle(f"{problem.id}: reasoning-gym's own scorer rejects its reference answer {problem.answer!r}")
        return format_completion(problem.answer)

    def prepare(self) -> None:
        """Start the sandboxed scorer now (the verifier pool calls this before timing items)."""
        from ponder.tasks.rg_score import scorer

        scorer().start()


_tasks: dict[tuple[str, bool], RGTask] = {}


def resolve(rest: str) -> RGTask:
    """`get_task("rg/<name>[?partial=1]")` lands here with rest = "<name>[?...]"."""
    name, _, query = rest.partition("?")
    opts = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    if set(opts) - {"partial"}:
        raise PonderError(f"rg/ task option(s) {', '.join(sorted(set(opts) - {'partial'}))} unknown (options: partial)")
    partial = opts.get("partial", "0").lower() in ("1", "true", "yes")
    names = _factory().DATASETS
    if name not in names:
        close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join('rg/' + c for c in close)}?" if close else ""
        raise PonderError(f"unknown reasoning-gym dataset {name!r}{hint} ({len(names)} datasets: ponder tasks list)")
    if name in REFUSED:
        raise PonderError(f"rg/{name} is not supported: {REFUSED[name]}")
    key = (name, partial)
    if key not in _tasks:
        _tasks[key] = RGTask(name, partial)
    return _tasks[key]


def catalog() -> list[dict]:
    """Every rg dataset for `ponder tasks list`: name, category, levels, flags, refusal."""
    rows = []
    for name in dataset_names():
        flags = ([] if name not in NO_ORACLE else ["no oracle"]) + (["gameable"] if name in GAMEABLE else [])
        rows.append({"name": name, "category": category(name), "levels": (1, 2, 3, 4, 5) if num_rg_levels(name) else (1,),
                     "flags": flags, "refused": REFUSED.get(name, "")})
    return rows
