"""`ponder verify`: score completions from a file with a task's verifier.

    ponder verify --tasks arith --input completions.jsonl                  # rows carry the problem
    ponder verify --tasks arith --input outs.jsonl --problems probs.jsonl  # rows: id + completion
    ponder verify --task file:gsm.jsonl?prompt=question --input outs.parquet --out scores.jsonl

Input rows (JSONL or Parquet) take one of two shapes:
- the problem's fields plus `completion`: at least `answer` and `completion`; `id` (default:
  the row number), `prompt` (default ""), `difficulty` (default 1) and `meta` (rg/ tasks need the
  `meta` that `ponder tasks sample` writes) are optional;
- `id` + `completion`, with `--problems FILE` (e.g. from `ponder tasks sample --out`) holding
  the problems by id.
`--tasks` (alias `--task`) names the one task whose verifier scores every row (the rows' own
`task` field is ignored). Scoring runs in the verifier pool (ponder.verify.verify_batch), so hangs
are cut off at `--verify-timeout` seconds (alias `--timeout`).

Output: the mean score on stdout; per-row scores (`id`, `difficulty`, `score`) written
atomically to `--out` (.jsonl or .parquet) or, without it, to a run directory
runs/verify-<time>/ (scores.parquet, summary.json, config.yaml). A malformed row stops the
command before anything is written: one line naming the file and row, exit status 2.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ponder.errors import PonderError

HELP = "score completions from a file with a task's verifier"


@dataclass
class VerifyConfig:
    tasks: tuple[str, ...] = field(default=(), metadata={
        "help": "the one task whose verifier scores the rows (e.g. arith, rg/countdown, file:PATH)",
        "aliases": ("--task",), "metavar": "TASK"})
    input: str = field(default="", metadata={"help": "JSONL or Parquet file of completions"})
    problems: str | None = field(default=None, metadata={"help": "problems file (JSONL/Parquet); input rows then need only id + completion"})
    out: str | None = field(default=None, metadata={"help": "write per-row scores to FILE (.jsonl or .parquet) instead of a run directory"})
    verify_timeout: float = field(default=5.0, metadata={"help": "seconds per verified row before it scores 0",
                                                         "aliases": ("--timeout",)})
    workers: int | None = field(default=None, metadata={"help": "verifier processes (default: one per CPU)"})

    def __post_init__(self):
        if not self.tasks:
            raise PonderError("--tasks is required (the task whose verifier scores the rows)")
        if len(self.tasks) != 1:
            raise PonderError(f"--tasks: verify scores every row with one task's verifier, got {len(self.tasks)} "
                              f"({', '.join(self.tasks)})")
        if not self.input:
            raise PonderError("--input is required")
        if self.out and not self.out.endswith((".jsonl", ".parquet")):
            raise PonderError(f"--out must end in .jsonl or .parquet, got {self.out}")
        if self.verify_timeout <= 0:
            raise PonderError(f"--verify-timeout must be > 0, got {self.verify_timeout}")
        if self.workers is not None and self.workers < 1:
            raise PonderError(f"--workers must be >= 1, got {self.workers}")

    @property
    def task(self) -> str:
        return self.tasks[0]


def add_arguments(p) -> None:
    from ponder.config import add_config_args

    add_config_args(p, VerifyConfig)


def _rows(path: str) -> list[tuple[str, dict]]:
    """(location, row) pairs; bad JSON or a non-object row fails with its line number."""
    from ponder.tasks.files import read_rows

    p = Path(path)
    if not p.is_file():
        raise PonderError(f"no such file: {path}")
    out = []
    for where, row in read_rows(p):
        if not isinstance(row, dict):
            raise PonderError(f"{path}: {where}: expected a JSON object")
        out.append((f"{path}: {where}", row))
    return out


def load_items(cfg: VerifyConfig):
    """(problems, completions), validated; nothing is scored until every row is good."""
    from ponder.types import Problem

    by_id = None
    if cfg.problems:
        by_id = {}
        for where, row in _rows(cfg.problems):
            try:
                prob = Problem.from_dict({**row, "task": cfg.task})
            except (KeyError, ValueError, TypeError) as e:
                raise PonderError(f"{where}: not a problem row ({type(e).__name__}: {e})") from None
            by_id[prob.id] = prob
    problems, completions = [], []
    for n, (where, row) in enumerate(_rows(cfg.input), 1):
        completion = row.get("completion")
        if not isinstance(completion, str):
            raise PonderError(f"{where}: missing 'completion' (a string)")
        if by_id is not None:
            if "id" not in row:
                raise PonderError(f"{where}: missing 'id' (needed with --problems)")
            prob = by_id.get(str(row["id"]))
            if prob is None:
                raise PonderError(f"{where}: id {row['id']!r} is not in {cfg.problems}")
        else:
            if row.get("answer") is None:
                raise PonderError(f"{where}: missing 'answer' (or pass --problems FILE)")
            difficulty = row.get("difficulty", 1)
            if isinstance(difficulty, bool) or not isinstance(difficulty, int):
                raise PonderError(f"{where}: 'difficulty' must be an int, got {difficulty!r}")
            meta = row.get("meta") or {}
            try:
                meta = json.loads(meta) if isinstance(meta, str) else dict(meta)
            except (ValueError, TypeError):
                raise PonderError(f"{where}: 'meta' must be an object") from None
            prob = Problem(id=str(row.get("id", n)), task=cfg.task, prompt=str(row.get("prompt", "")),
                           answer=str(row["answer"]), difficulty=difficulty, meta=meta)
        problems.append(prob)
        completions.append(completion)
    if not problems:
        raise PonderError(f"{cfg.input}: no rows")
    return problems, completions


def score_all(problems, completions, cfg: VerifyConfig) -> list[float]:
    """verify_batch in slices, with a progress bar on stderr."""
    from tqdm import tqdm

    from ponder.verify import shared_pool

    pool = shared_pool(cfg.workers)
    step = 512
    futures = [pool.submit(problems[i:i + step], completions[i:i + step], timeout_s=cfg.verify_timeout)
               for i in range(0, len(problems), step)]
    scores: list[float] = []
    with tqdm(total=len(problems), desc="verify", unit="row", file=sys.stderr, disable=len(problems) < 2 * step) as bar:
        for f in futures:
            part = f.result()
            scores += part
            bar.update(len(part))
    return scores


def run(args) -> int:
    from ponder.config import resolve_config
    from ponder.stats import mean
    from ponder.tasks import get_task

    cfg = resolve_config(VerifyConfig, args)
    get_task(cfg.task)  # unknown task: fail before reading anything
    problems, completions = load_items(cfg)
    scores = score_all(problems, completions, cfg)
    rows = [{"id": p.id, "difficulty": p.difficulty, "score": s} for p, s in zip(problems, scores)]
    mean_score = mean(scores)  # load_items refuses an input without rows
    by_level: dict[int, list[float]] = {}
    for p, s in zip(problems, scores):
        by_level.setdefault(p.difficulty, []).append(s)
    summary = {"task": cfg.task, "rows": len(rows), "mean_score": mean_score,
               "by_difficulty": {d: mean(v) for d, v in sorted(by_level.items())}}
    from ponder.runs import RunDir, write_jsonl, write_parquet

    if cfg.out:
        (write_parquet if cfg.out.endswith(".parquet") else write_jsonl)(cfg.out, rows)
        where = cfg.out
    else:
        run_dir = RunDir.open("verify", None, cfg)
        run_dir.write_table("scores.parquet", rows)
        run_dir.write_json("summary.json", summary)
        where = str(run_dir)
    levels = "  ".join(f"d{d}={m:.3f}" for d, m in summary["by_difficulty"].items())
    print(f"mean score {mean_score:.4f} over {len(rows)} rows ({levels})")
    print(f"wrote {where}", file=sys.stderr)
    return 0
