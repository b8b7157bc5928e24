"""`ponder tasks list|show|sample`."""

from __future__ import annotations

import json
import sys

from ponder.errors import PonderError

HELP = "list, describe and sample the verifiable tasks"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="tasks_cmd", metavar="ACTION", parser_class=type(p))
    sub.required = True
    sub.add_parser("list", help="list the registered tasks", description="List the registered tasks.")
    show = sub.add_parser("show", help="describe one task and show an example per level", description="Describe a task.")
    show.add_argument("name")
    sample = sub.add_parser("sample", help="generate problems", description="Generate problems as JSONL (or Parquet).")
    sample.add_argument("name")
    sample.add_argument("--difficulty", "-d", type=int, default=1, help="difficulty level, 1 = easiest (default: 1)")
    sample.add_argument("-n", type=int, default=5, help="number of problems (default: 5)")
    sample.add_argument("--seed", type=int, default=0, help="generation seed (default: 0)")
    sample.add_argument("--oracle", action="store_true", help="add each problem's oracle completion as 'oracle'")
    sample.add_argument("--out", help="write to FILE (.jsonl or .parquet) instead of stdout")


def run(args) -> int:
    from ponder.tasks import get_task, list_tasks

    if args.tasks_cmd == "list":
        for name in list_tasks():
            t = get_task(name)
            flags = "".join([" [plan]" if t.plannable else "", " [decompose]" if t.decomposable else ""])
            print(f"{name:<14} {t.description}{flags}")
        print_gym_tasks()
        return 0
    task = get_task(args.name)
    if args.tasks_cmd == "show":
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
    # sample
    if args.n < 0:
        raise PonderError(f"-n must be >= 0, got {args.n}")
    problems = task.sample(args.n, args.difficulty, seed=args.seed)
    rows = []
    for p in problems:
        row = p.to_dict()
        if args.oracle:
            row["oracle"] = task.oracle(p)
        rows.append(row)
    if args.out:
        from ponder.runs import write_jsonl, write_parquet

        (write_parquet if args.out.endswith(".parquet") else write_jsonl)(args.out, rows)
        print(f"wrote {len(rows)} problems to {args.out}", file=sys.stderr)
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
