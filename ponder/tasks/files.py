"""File datasets as tasks: JSONL, Parquet, or a Hugging Face `datasets` directory (save_to_disk).

    get_task("file:data/gsm.jsonl")                                   # columns prompt, answer
    get_task("file:data/gsm.parquet?prompt=question&answer=solution&difficulty=level")
    load_file_task("data/hf_dir", prompt="problem", answer="answer", name="mymath")

Options after `?` (or keyword arguments of `load_file_task`):
    prompt=COL answer=COL      column names (default: prompt, answer)
    difficulty=COL             optional int column, 1..5; without it every row is level 1
    id=COL                     optional unique id column; default: <file stem>/<row number>
    verifier=math|exact        math (default): `ponder.verify.math_score`, math-verify
                               equivalence; exact: whitespace-insensitive string match
    split=NAME                 the split of a DatasetDict directory (default: train)

The whole file is validated before the task exists: bad JSON, a missing column, an empty prompt
or a difficulty that is not an int in 1..5 raises one `PonderError` naming the row (line number
for JSONL, 1-based row number otherwise); nothing is half-loaded.

`sample(n, difficulty, seed)` walks a seeded permutation of that level's rows, so samples are
deterministic and distinct until the level runs out, then continue with a fresh permutation.

A `datasets` directory is read with pyarrow straight from the Arrow files that `save_to_disk`
writes (state.json lists them), so the `datasets` package is not needed.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from ponder.errors import PonderError
from ponder.format import format_completion
from ponder.tasks.base import LEVELS, Task, register_instance
from ponder.types import Problem

OPTIONS = ("prompt", "answer", "difficulty", "id", "verifier", "split")
VERIFIERS = ("math", "exact")


class FileTask(Task):
    """Rows of a dataset file, grouped by difficulty; verified with math-verify by default."""

    description = "problems from a dataset file"

    def __init__(self, name: str, spec: str, problems: list[Problem], verifier: str = "math"):
        self.name = name
        self.spec = spec  # a name any process can resolve with get_task (the verifier pool uses it)
        self.verifier = verifier
        self.by_level: dict[int, list[Problem]] = {}
        for p in problems:
            self.by_level.setdefault(p.difficulty, []).append(p)
        self.levels = tuple(sorted(self.by_level)) or (1,)
        self._perms: dict[tuple[int, int, int], list[int]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_level.values())

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        self.check_difficulty(difficulty)
        rows = self.by_level[difficulty]
        lap, i = divmod(index, len(rows))
        key = (seed, difficulty, lap)
        if key not in self._perms:
            perm = list(range(len(rows)))
            random.Random(f"ponder/file/{seed}/{difficulty}/{lap}").shuffle(perm)
            self._perms[key] = perm
        return rows[self._perms[key][i]]

    def verify(self, completion: str, problem: Problem) -> float:
        if self.verifier == "exact":
            return super().verify(completion, problem)
        from ponder.verify.equiv import math_score

        return math_score(completion, problem.answer)

    def oracle(self, problem: Problem, think: bool = True) -> str:
        """The gold answer in <answer> tags (a dataset carries no worked trace to put in <think>)."""
        return format_completion(problem.answer)


def read_rows(path: Path, split: str = "train") -> list[tuple[str, Any]]:
    """(location for error messages, row) pairs; JSON errors are reported with the line number."""
    if path.is_dir():
        return [(f"row {i}", r) for i, r in enumerate(_read_arrow_dir(path, split), 1)]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except Exception as e:  # pyarrow raises several types for a corrupt file
            raise PonderError(f"{path}: not a readable Parquet file ({e})") from None
        return [(f"row {i}", r) for i, r in enumerate(rows, 1)]
    out = []
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise PonderError(f"{path}: line {i}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                out.append((f"line {i}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise PonderError(f"{path}: line {i}: bad JSON ({e.msg})") from None
            except RecursionError:
                raise PonderError(f"{path}: line {i}: JSON nested too deeply") from None
    return out


def _read_arrow_dir(path: Path, split: str) -> list[dict]:
    import pyarrow as pa

    if (path / "dataset_dict.json").exists():  # a DatasetDict: one sub-directory per split
        splits = json.loads((path / "dataset_dict.json").read_text())["splits"]
        if split not in splits:
            raise PonderError(f"{path}: no split {split!r} (splits: {', '.join(splits)}); use ?split=NAME")
        path = path / split
    state = path / "state.json"
    if not state.exists():
        raise PonderError(f"{path}: not a dataset directory saved with datasets' save_to_disk (no state.json)")
    tables = []
    for entry in json.loads(state.read_text())["_data_files"]:
        with pa.memory_map(str(path / entry["filename"])) as src:
            tables.append(pa.ipc.open_stream(src).read_all())
    return pa.concat_tables(tables).to_pylist() if tables else []


def _problem(where: str, row: Any, cols: dict, task_name: str, stem: str, n: int) -> Problem:
    if not isinstance(row, dict):
        raise PonderError(f"{where}: expected an object with columns, got {type(row).__name__}")
    for key in ("prompt", "answer"):
        if row.get(cols[key]) is None:
            raise PonderError(f"{where}: missing column {cols[key]!r} ({key})")
    prompt, answer = row[cols["prompt"]], row[cols["answer"]]
    if not isinstance(prompt, str) or not prompt.strip():
        raise PonderError(f"{where}: column {cols['prompt']!r} must be a non-empty string")
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
        raise PonderError(f"{where}: column {cols['answer']!r} must be a string or a number")
    difficulty = 1
    if cols["difficulty"]:
        difficulty = row.get(cols["difficulty"])
        if isinstance(difficulty, bool) or not isinstance(difficulty, int) or difficulty not in LEVELS:
            raise PonderError(f"{where}: column {cols['difficulty']!r} must be an int in 1..5, got {difficulty!r}")
    if cols["id"]:
        pid = row.get(cols["id"])
        if pid is None or isinstance(pid, (dict, list)):
            raise PonderError(f"{where}: missing column {cols['id']!r} (id)")
        pid = str(pid)
    else:
        pid = f"{stem}/{n}"
    return Problem(id=pid, task=task_name, prompt=prompt, answer=str(answer), difficulty=difficulty, meta={"source": where})


def load_file_task(
    path: str | os.PathLike,
    prompt: str = "prompt",
    answer: str = "answer",
    difficulty: str | None = None,
    id: str | None = None,  # noqa: A002 - the column's name
    name: str | None = None,
    verifier: str = "math",
    split: str = "train",
) -> FileTask:
    """Load and validate a dataset file as a task; with `name`, also register it under that name."""
    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise PonderError(f"no such dataset file or directory: {path}")
    if verifier not in VERIFIERS:
        raise PonderError(f"unknown verifier {verifier!r} (choose from {', '.join(VERIFIERS)})")
    opts = {"prompt": prompt, "answer": answer, "difficulty": difficulty, "id": id, "verifier": verifier, "split": split}
    defaults = {"prompt": "prompt", "answer": "answer", "verifier": "math", "split": "train"}
    query = "&".join(f"{k}={v}" for k, v in opts.items() if v is not None and defaults.get(k) != v)
    spec = f"file:{p}" + (f"?{query}" if query else "")
    task_name = name or spec
    problems, seen = [], set()
    for n, (where, row) in enumerate(read_rows(p, split), 1):
        prob = _problem(f"{p.name}: {where}", row, opts, task_name, p.stem, n)
        if prob.id in seen:
            raise PonderError(f"{p.name}: {where}: duplicate id {prob.id!r}")
        seen.add(prob.id)
        problems.append(prob)
    if not problems:
        raise PonderError(f"{path}: no rows")
    task = FileTask(task_name, spec, problems, verifier)
    if name:
        register_instance(task)
    return task


_cache: dict[tuple, FileTask] = {}


def resolve(rest: str) -> FileTask:
    """`get_task("file:<path>[?opt=val&...]")` lands here with rest = "<path>[?...]"."""
    path, _, query = rest.partition("?")
    opts = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else {}
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise PonderError(f"file task option(s) {', '.join(unknown)} unknown (options: {', '.join(OPTIONS)})")
    p = Path(path).expanduser()
    if not p.exists():
        raise PonderError(f"no such dataset file or directory: {path}")
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size, tuple(sorted(opts.items())))
    if key not in _cache:
        _cache[key] = load_file_task(p, **opts)
    return _cache[key]
