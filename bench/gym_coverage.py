"""Check every reasoning-gym dataset through `rg/`: the coverage table in docs/tasks.md.

    .venv/bin/python bench/gym_coverage.py                       # all datasets, ~20-40 min on 2 busy cores
    .venv/bin/python bench/gym_coverage.py --datasets jugs,acre  # a few while developing
    .venv/bin/python bench/gym_coverage.py --out runs/gym-coverage

Two worker processes check every dataset independently, under different PYTHONHASHSEEDs (0 and
4242) and in opposite orders (datasets and levels ascending in one, descending in the other),
each dataset within a time budget. Per dataset and claimed level, items 0, 1, 2 (and item
BLOCK + 7 at level 1, from a second dataset block) are sampled; for each item:
- gold: the oracle completion must score 1.0 (datasets without a reference answer: skipped);
- wrong: `zzz` must score below 1.0 (unless the scorer is flagged gameable); another item's gold
  answer scoring 1.0 is noted (a checker that accepts any valid solution may accept it);
- agreement (hash seed 0 worker): ponder's partial-credit scores of the gold and the wrong
  answers against rg's own `score_answer` on rg's own entry, regenerated in that process;
- probes: generic answers (`yes`, `True`, `0`, `[]`, ...) that score 1.0 without being the
  gold answer are listed (a gameable scorer, or an equivalent form of the gold: read them);
- timings: generation and `verify` of the gold answer (the sandboxed scorer, already started).
The two workers' problems (JSON) and scores must be identical. A dataset "works" when every
check passes; `get_task` refusing it is "refused" with its reason.

Writes coverage.json (everything measured) and coverage.md (the table) into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HASH_SEEDS = (0, 4242)  # the first worker also scores with rg directly (its hash seed = the generator's)
BUDGET_S = 240.0  # per dataset and worker
PROBES = ("0", "1", "-1", "2", "True", "False", "true", "yes", "no", "None", "[]", "{}", "x", "a", "A", "1.0", "0,0")


class Budget(Exception):
    pass


def _alarm(*_):
    raise Budget()


def check_dataset(name: str, order: int, reference: bool) -> dict:
    """All measurements of one dataset in this process (see the module docstring)."""
    from ponder.errors import PonderError
    from ponder.tasks import get_task
    from ponder.tasks.rg_tables import BLOCK

    out: dict = {"name": name, "items": [], "errors": []}
    try:
        task = get_task(f"rg/{name}")
        partial = get_task(f"rg/{name}?partial=1")
    except PonderError as e:
        out["refused"] = str(e)
        return out
    out.update(levels=list(task.levels), has_oracle=task.has_oracle, gameable=task.gameable)
    coords = [(d, i) for d in task.levels for i in (0, 1, 2)] + [(1, BLOCK + 7)]
    coords.sort(reverse=order < 0)
    problems = {}
    for d, i in coords:
        t0 = time.perf_counter()
        try:
            problems[(d, i)] = task.generate(0, i, d)
        except PonderError as e:
            out["errors"].append(f"level {d} item {i}: {e}")
            continue
        out.setdefault("gen_s", []).append(time.perf_counter() - t0)
        slowest = out.setdefault("gen_max_s_by_level", {})
        slowest[d] = max(slowest.get(d, 0.0), out["gen_s"][-1])
    golds = {p.answer for p in problems.values()}
    same = lambda x, y: "".join(x.split()).lower() == "".join(y.split()).lower()  # noqa: E731
    for (d, i), p in problems.items():
        row = {"level": d, "index": i, "json": p.to_json(), "gold_ok": p.meta["rg"]["gold_ok"]}
        other = next((g for g in sorted(golds) if not same(g, p.answer)), None)
        row["wrong"] = ["zzz"] + ([other] if other is not None else [])
        row["wrong_score"] = [partial.verify(f"<answer>{w}</answer>", p) for w in row["wrong"]]
        if task.has_oracle and row["gold_ok"]:
            t0 = time.perf_counter()
            row["gold_verify"] = task.verify(task.oracle(p), p)
            out.setdefault("verify_s", []).append(time.perf_counter() - t0)
            row["gold_score"] = partial.verify(task.oracle(p), p)
        row["probes"] = [a for a in PROBES if not same(a, p.answer) and task.verify(f"<answer>{a}</answer>", p) == 1.0]
        if reference:
            row["rg"] = rg_scores(p, ([p.answer] if "gold_score" in row else []) + row["wrong"])
        out["items"].append(row)
    return out


def rg_scores(p, answers: list[str]) -> list[float | str] | str:
    """rg's own score_answer on rg's own entry (regenerated here; benign answers only); a scorer
    that raises on an answer gives the exception's name (ponder scores that answer 0)."""
    from ponder.tasks import rg_core

    rg = p.meta["rg"]
    try:
        ds = rg_core.dataset(rg["recipe"])
        entry = rg_core.item(rg["recipe"], rg["item"])
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"
    out: list[float | str] = []
    for a in answers:
        try:
            out.append(float(ds.score_answer(a, entry)))
        except Exception as e:  # noqa: BLE001 - rg's scorer crashing on an answer is a finding, not a stop
            out.append(type(e).__name__)
    return out


def worker(names: list[str], order: int, reference: bool, out_path: str) -> None:
    from ponder.tasks.rg_gen import generator
    from ponder.tasks.rg_score import scorer

    scorer().start()
    signal.signal(signal.SIGALRM, _alarm)
    with open(out_path, "w") as f:
        for name in sorted(names, reverse=order < 0):
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, BUDGET_S)
            try:
                res = check_dataset(name, order, reference)
            except Budget:  # interrupted mid-request: restart both helpers so no reply is read out of turn
                res = {"name": name, "items": [], "errors": [f"over the {BUDGET_S:g} s budget"]}
                generator().close()
                scorer().start_over()
            except Exception as e:  # noqa: BLE001 - record and go on with the next dataset
                res = {"name": name, "items": [], "errors": [f"{type(e).__name__}: {e}"]}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            res["wall_s"] = time.perf_counter() - t0
            f.write(json.dumps(res) + "\n")
            f.flush()
            print(f"[{os.environ.get('PYTHONHASHSEED')}] {name}: {res['wall_s']:.1f}s", file=sys.stderr, flush=True)


def verdict(a: dict, b: dict) -> tuple[str, list[str]]:
    """('works' | 'refused' | 'fails', reasons) from the two workers' results."""
    if "refused" in a:
        return "refused", [a["refused"].split(": ", 1)[-1]]
    why = list(dict.fromkeys(a["errors"] + b["errors"]))
    bad_golds: list[str] = []
    other_solves: list[str] = []
    raised: set[str] = set()
    ia = {(r["level"], r["index"]): r for r in a["items"]}
    ib = {(r["level"], r["index"]): r for r in b["items"]}
    if set(ia) != set(ib):
        why.append("the workers sampled different items")
    for k in sorted(set(ia) & set(ib)):
        ra, rb = ia[k], ib[k]
        at = f"level {k[0]} item {k[1]}"
        if ra["json"] != rb["json"]:
            why.append(f"{at}: the problem differs between hash seeds / orders")
        if ra.get("gold_verify", 1.0) != 1.0 or rb.get("gold_verify", 1.0) != 1.0:
            why.append(f"{at}: gold scores {ra.get('gold_verify')}/{rb.get('gold_verify')}")
        if ra["gold_ok"] is False:
            bad_golds.append(at)
        if ra["wrong_score"][0] >= 1.0 and not a["gameable"]:
            why.append(f"{at}: the answer 'zzz' scores 1.0")
        if ra["wrong_score"][1:] == [1.0]:
            other_solves.append(at)
        if ra["wrong_score"] != rb["wrong_score"] or ra.get("gold_score") != rb.get("gold_score"):
            why.append(f"{at}: scores differ between workers")
        ref = ra.get("rg")
        if isinstance(ref, str):
            why.append(f"{at}: rg's own scoring failed: {ref}")
        elif ref is not None:
            ours = ([ra["gold_score"]] if "gold_score" in ra else []) + ra["wrong_score"]
            raised.update(s for s in ref if isinstance(s, str))
            if [s == 1.0 for s in ours] != [s == 1.0 for s in ref]:
                why.append(f"{at}: verdicts differ from rg's own scorer (ponder {ours}, rg {ref})")
    a["notes_extra"] = []
    if bad_golds:
        a["notes_extra"].append(f"rg rejects its own answer at {len(bad_golds)}/{len(ia)} items (no oracle there)")
    if raised:
        a["notes_extra"].append(f"rg's own scorer raises ({', '.join(sorted(raised))}) on a wrong answer; ponder scores 0")
    if other_solves and not a["gameable"]:
        a["notes_extra"].append(f"another item's answer scores 1.0 at {len(other_solves)}/{len(ia)} items")
    return ("works" if not why else "fails"), why


def table(results: list[dict]) -> str:
    lines = ["| dataset | levels | status | gen ms (median / max) | verify ms (median) | notes |",
             "|---|---|---|---|---|---|"]
    for r in results:
        gen = r.get("gen_s") or []
        ver = r.get("verify_s") or []
        gen_ms = f"{1000 * statistics.median(gen):.0f} / {1000 * max(gen):.0f}" if gen else "-"
        ver_ms = f"{1000 * statistics.median(ver):.0f}" if ver else "-"
        levels = "-" if not r.get("levels") else (f"1-{r['levels'][-1]}" if len(r["levels"]) > 1 else "1")
        notes = list(r["notes"])
        if r["status"] != "works":
            notes = r["why"][:3] + ([f"... {len(r['why']) - 3} more"] if len(r["why"]) > 3 else []) + notes
        lines.append(f"| {r['name']} | {levels} | {r['status']} | {gen_ms} | {ver_ms} | {'; '.join(notes)} |")
    return "\n".join(lines)


def notes_for(name: str, res: dict) -> list[str]:
    from ponder.tasks.rg_tables import CLAMPS, GAMEABLE, NO_ORACLE, RG_LEVELS

    notes = []
    if name in NO_ORACLE:
        notes.append("no oracle (gold check skipped)")
    if name in GAMEABLE:
        notes.append(f"gameable: {GAMEABLE[name]}")
    if name in RG_LEVELS:
        lo, hi, why = RG_LEVELS[name]
        notes.append(f"rg levels {lo}-{'top' if hi is None else hi} ({why})")
    if name in CLAMPS:
        notes.append("clamped: " + ", ".join(f"{k} {'>= ' + str(lo) if lo is not None else '<= ' + str(hi)}"
                                             for k, (lo, hi) in CLAMPS[name].items()))
    notes += res.get("notes_extra", [])
    probes = sorted({a for r in res["items"] for a in r.get("probes", [])})
    if probes and name not in GAMEABLE:
        notes.append("probes scoring 1.0: " + ", ".join(repr(a) for a in probes))
    return notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", help="comma list (default: every rg dataset)")
    ap.add_argument("--out", default="runs/gym-coverage")
    ap.add_argument("--worker", nargs=3, metavar=("ORDER", "REFERENCE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.datasets:
        names = args.datasets.split(",")
    else:
        from ponder.tasks.gym import dataset_names

        names = dataset_names()
    if args.worker:
        order, ref, path = args.worker
        worker(names, int(order), ref == "1", path)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    procs = []
    for k, h in enumerate(HASH_SEEDS):
        path = out / f"worker-{h}.jsonl"
        cmd = [sys.executable, __file__, "--datasets", ",".join(names), "--worker", str(1 - 2 * k), str(int(k == 0)), str(path)]
        procs.append((subprocess.Popen(cmd, env=dict(os.environ, PYTHONHASHSEED=str(h))), path))
    for p, _ in procs:
        p.wait()
    runs = [{json.loads(line)["name"]: json.loads(line) for line in path.read_text().splitlines()} for _, path in procs]
    results = []
    for name in names:
        a = runs[0].get(name, {"name": name, "items": [], "errors": ["worker 1 has no result"]})
        b = runs[1].get(name, {"name": name, "items": [], "errors": ["worker 2 has no result"]})
        status, why = verdict(a, b)
        results.append({**a, "status": status, "why": why, "notes": notes_for(name, a) if status != "refused" else [],
                        "wall_s": [a.get("wall_s"), b.get("wall_s")]})
    for r in results:
        r.pop("items", None)
    summary = {s: sum(r["status"] == s for r in results) for s in ("works", "refused", "fails")}
    (out / "coverage.json").write_text(json.dumps({"summary": summary, "wall_s": time.perf_counter() - t0,
                                                   "datasets": results}, indent=1))
    (out / "coverage.md").write_text(table(results) + "\n")
    print(f"{summary} in {time.perf_counter() - t0:.0f} s; {out / 'coverage.md'}")


if __name__ == "__main__":
    main()
