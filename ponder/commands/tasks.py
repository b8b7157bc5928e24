"""`ponder tasks list|show|sample`."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from ponder.errors import PonderError

HELP = "list, describe and sample the verifiable tasks"


@dataclass
class SampleConfig:
    """`ponder tasks sample` options."""

    name: str = field(default="", metadata={"help": "the task to sample (see `ponder tasks list`)", "positional": True,
                                            "metavar": "NAME"})
    levels: tuple[int, ...] = field(default=(1,), metadata={"help": "difficulty levels, 1 = easiest; -n problems each",
                                                           "aliases": ("--difficulty", "-d", "--difficulties")})
    n: int = field(default=5, metadata={"help": "number of problems per level", "aliases": ("-n",)})
    seed: int = field(default=0, metadata={"help": "generation seed"})
    oracle: bool = field(default=False, metadata={"help": "add each problem's oracle completion as 'oracle'"})
    out: str | None = field(default=None, metadata={"help": "write to FILE (.parquet, else JSONL) instead of stdout",
                                                    "metavar": "FILE"})

    def __post_init__(self):
        if not self.name:
            raise PonderError("NAME is required (a task name), as an argument or `name:` in --config")
        if not self.levels:
            raise PonderError("--levels is empty; give levels like 1-5 or 1,3")
        if self.n < 0:
            raise PonderError(f"-n must be >= 0, got {self.n}")


def add_arguments(p) -> None:
    from ponder.config import add_config_args

    sub = p.add_subparsers(dest="tasks_cmd", metavar="ACTION", parser_class=type(p))
    sub.required = True
    sub.add_parser("list", help="list the registered tasks", description="List the registered tasks.")
    show = sub.add_parser("show", help="describe one task and show an example per level", description="Describe a task.")
    show.add_argument("name")
    sample = sub.add_parser("sample", help="generate problems",
                            description="Generate problems as JSONL on stdout (or a .jsonl / .parquet file).")
    add_config_args(sample, SampleConfig)


def run(args) -> int:
    from ponder.tasks import get_task, list_tasks

    if args.tasks_cmd == "list":
        for name in list_tasks():
            t = get_task(name)
            flags = "".join([" [plan]" if t.plannable else "", " [decompose]" if t.decomposable else ""])
            print(f"{name:<14} {t.description}{flags}")
        print_gym_tasks()
        return 0
    if args.tasks_cmd == "show":
        task = get_task(args.name)
        info = task.info()
        print(f"{info['name']}: {info['description']}")
        print(f"levels: {', '.join(map(str, info['levels']))}")
        if not info["has_oracle"]:
            print("oracle: none (the items carry no reference answer; the verifier checks a solution)")
        if info["gameable"]:
            print(f"gameable: {info['gameable']} (training on it warns)")
        for d in task.levels:
            p = task.generate(0, 0, d)
            print(f"\n[difficulty {d}] {p.prompt}")
            print(f"  answer: {p.answer}")
            try:
                print(f"  oracle: {task.oracle(p)}")
            except NotImplementedError:
                pass
        return 0
    return sample(args)


def sample(args) -> int:
    from ponder.config import resolve_config
    from ponder.tasks import get_task

    cfg = resolve_config(SampleConfig, args)
    task = get_task(cfg.name)
    for d in cfg.levels:  # a bad level: before anything is written
        task.check_difficulty(d)
    rows = []
    for d in cfg.levels:
        for p in task.sample(cfg.n, d, seed=cfg.seed):
            row = p.to_dict()
            if cfg.oracle:
                row["oracle"] = task.oracle(p)
            rows.append(row)
    if cfg.out:
        from ponder.runs import write_jsonl, write_parquet

        (write_parquet if cfg.out.endswith(".parquet") else write_jsonl)(cfg.out, rows)
        print(f"wrote {len(rows)} problems to {cfg.out}", file=sys.stderr)
    else:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
    return 0


def print_gym_tasks() -> None:
    """The reasoning-gym datasets under their own heading, or how to get them (without importing
    reasoning-gym when it is absent, so the listing stays instant)."""
    from ponder.tasks import gym

    print("\nreasoning-gym tasks (rg/<name>; levels 1-5 where rg has a curriculum, else 1):")
    if not gym.installed():
        print("  not installed: install the gym extra, pip install 'ponder[gym]'")
        return
    rows = gym.catalog()
    for cat in sorted({r["category"] for r in rows}):
        print(f"  {cat}:")
        for r in (r for r in rows if r["category"] == cat):
            levels = f"{r['levels'][0]}-{r['levels'][-1]}" if len(r["levels"]) > 1 else "1"
            notes = f"refused: {r['refused']}" if r["refused"] else " ".join(f"[{f}]" for f in r["flags"])
            print(f"    rg/{r['name']:<28} {levels:<4} {notes}".rstrip())
