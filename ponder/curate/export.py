"""Curated problems in the layouts of the big RL engines: verl's Parquet and a TRL dataset.

    ponder export --format verl --input runs/curate-X --out data/verl     # data/verl/train.parquet
    ponder export --format trl  --input runs/curate-X --out data/trl      # data/trl/train.parquet

verl (its data-preparation layout, one row per problem):
    data_source   "ponder/<task>"
    prompt        [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": prompt}]
    ability       "math" for tasks graded as numbers/math, else the task name
    reward_model  {"style": "rule", "ground_truth": answer}
    extra_info    {index, split, id, task, difficulty, prompt, meta (JSON), pass_rate, samples}
  Score it with `custom_reward_function.path=pkg://ponder.rewards.adapters` (name
  `compute_score`), which rebuilds the Problem from `extra_info`.

TRL (GRPOTrainer takes a dataset with a `prompt` column, conversational (a list of messages) or
plain text, and passes every other column to the reward functions as keyword lists):
    prompt        conversational messages as above, or with `--plain` the plain prompt as ponder
                  renders it for models without a chat template (problem + PLAIN_SEP, a newline:
                  what `ponder sft` trains the tiny model on), so TRL's prompt + completion
                  concatenation is the text ponder trains and evaluates on
    id, task, answer, difficulty, meta (JSON)   what the reward functions of `ponder.rewards.adapters` read
    problem_id, pass_rate, samples              for filtering and curricula
  Written as Parquet, which `datasets.load_dataset("parquet", data_files=...)` reads; when the
  `datasets` package is importable a `save_to_disk` copy goes in `<out>/hf/` as well.

The system turn is the same instruction `Policy.render` gives chat models (ponder.policy.CHAT_SYSTEM),
so a model trained in verl or TRL sees the prompts ponder evaluates it on; `--no-system` drops it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ponder.errors import PonderError

CURATED_FILE = "curated.parquet"  # in a `ponder curate` run directory: the kept problems
REQUIRED = ("id", "task", "prompt", "answer", "difficulty")


def read_curated(path: str | Path, kept_only: bool = True) -> list[dict]:
    """Problem rows (plus pass_rate, samples, kept, ...) from a curate run dir or a .parquet/.jsonl file."""
    from ponder.runs import read_jsonl, read_parquet

    path = Path(path)
    if path.is_dir():
        path = path / CURATED_FILE
    if not path.exists():
        raise PonderError(f"no such file: {path}")
    try:
        rows = read_parquet(path) if path.suffix == ".parquet" else read_jsonl(path)
    except Exception as e:  # pyarrow / json errors on a file that is not what it claims
        raise PonderError(f"{path}: cannot read ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    for i, r in enumerate(rows):
        missing = [k for k in REQUIRED if k not in r or r[k] is None]
        if missing:
            raise PonderError(f"{path}: row {i} lacks {', '.join(missing)} (need {', '.join(REQUIRED)})")
    if kept_only:
        rows = [r for r in rows if r.get("kept", True)]
    return rows


def _meta_json(meta: Any) -> str:
    if isinstance(meta, str):
        return meta or "{}"
    return json.dumps(meta or {}, sort_keys=True)


def _num(x: Any) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(x)


def _messages(prompt: str, system: bool) -> list[dict]:
    from ponder.policy import CHAT_SYSTEM

    msgs = [{"role": "system", "content": CHAT_SYSTEM}] if system else []
    return msgs + [{"role": "user", "content": str(prompt)}]


def _plain(prompt: str) -> str:
    from ponder.policy import render_prompt

    return render_prompt(None, str(prompt))  # no chat template: the problem, then PLAIN_SEP


def _ability(task: str) -> str:
    from ponder.tasks import get_task

    try:
        return "math" if get_task(task).math else task
    except PonderError:  # a task this install does not know (e.g. from a file): name it
        return task


def verl_rows(rows: Sequence[dict], split: str = "train", system: bool = True) -> list[dict]:
    out = []
    for i, r in enumerate(rows):
        task = str(r["task"])
        out.append({
            "data_source": f"ponder/{task}",
            "prompt": _messages(r["prompt"], system),
            "ability": _ability(task),
            "reward_model": {"style": "rule", "ground_truth": str(r["answer"])},
            "extra_info": {
                "index": i,
                "split": split,
                "id": str(r["id"]),
                "task": task,
                "difficulty": int(r["difficulty"]),
                "prompt": str(r["prompt"]),
                "meta": _meta_json(r.get("meta")),
                "pass_rate": _num(r.get("pass_rate")),
                "samples": int(r.get("samples") or 0),
            },
        })
    return out


def trl_rows(rows: Sequence[dict], conversational: bool = True, system: bool = True) -> list[dict]:
    return [{
        "prompt": _messages(r["prompt"], system) if conversational else _plain(r["prompt"]),
        "id": str(r["id"]),
        "problem_id": str(r["id"]),
        "task": str(r["task"]),
        "answer": str(r["answer"]),
        "difficulty": int(r["difficulty"]),
        "meta": _meta_json(r.get("meta")),
        "pass_rate": _num(r.get("pass_rate")),
        "samples": int(r.get("samples") or 0),
    } for r in rows]


def _write(rows: list[dict], path: Path) -> Path:
    import pyarrow as pa

    from ponder.runs import write_parquet

    # Build the Arrow table here (not via write_parquet's dict handling, which JSON-encodes dicts):
    # verl reads `reward_model` and `extra_info` as structs and `prompt` as a list of structs.
    return write_parquet(path, pa.Table.from_pylist(rows))


def export_verl(rows: Sequence[dict], out: str | Path, split: str = "train", system: bool = True) -> Path:
    if not rows:
        raise PonderError("nothing to export: no (kept) problems in the input")
    return _write(verl_rows(rows, split, system), Path(out) / f"{split}.parquet")


def export_trl(rows: Sequence[dict], out: str | Path, split: str = "train", conversational: bool = True,
               system: bool = True) -> Path:
    if not rows:
        raise PonderError("nothing to export: no (kept) problems in the input")
    path = _write(trl_rows(rows, conversational, system), Path(out) / f"{split}.parquet")
    try:  # optional: an Arrow dataset directory for `datasets.load_from_disk`
        import datasets
    except ImportError:
        return path
    datasets.Dataset.from_parquet(str(path)).save_to_disk(str(Path(out) / "hf" / split))
    return path


FORMATS = {"verl": export_verl, "trl": export_trl}
