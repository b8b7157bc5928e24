"""Throughput of `verify_batch` (the verifier pool) against math-verify called in one process.

    .venv/bin/python bench/verify.py                 # 2,000 pairs, 3 rounds, pool = one worker per CPU
    .venv/bin/python bench/verify.py --pairs 500 --rounds 1
    .venv/bin/python bench/verify.py --scaling       # the ceiling: 1 vs 2 direct processes at once

Each round generates 2,000 varied (gold, completion) pairs (integers, fractions, decimals,
LaTeX fractions/roots/sets/intervals/polynomials, percentages; about a quarter wrong; some with a
<think> block or text around the answer) and scores the SAME pairs twice:
- baseline: `ponder.verify.math_score(completion, gold, shortcuts=False)` in a loop in this
  process: math-verify's parse + verify behind ponder's answer extraction on every pair, with
  no pool, no fast path and no memo;
- pool: `verify_batch(problems, completions)` over a file task whose verifier is `math_score`
  as tasks call it (the exact fast path first, then math-verify with a per-batch memo of gold
  parses and verdicts), run by the shared pool's worker processes.
Verdicts must be identical (asserted). Both sides are warmed up first (pool start-up and
math-verify's first-parse grammar build are not timed); rounds use fresh pairs, so neither side
replays math-verify's parse cache, each round is a new batch (so the pool's memo starts empty),
and the order of the two alternates per round. The median round is reported against the floor
(4x), with PASS or FAIL. Also printed, not timed against the floor: `math_score` with the
shortcuts in this one process (how much of the gain is less work rather than more processes),
and the share of pairs the fast path decides. On a shared machine, note the load average
printed alongside; only an idle machine gives the floor's number.

`--scaling` measures the ceiling no pool doing math-verify's full work can beat: the direct
(math-verify alone) loop in one process alone, then in two processes at once (no IPC at all),
on fresh pairs; total pairs/s of two over one is how much a second busy core adds on this
machine. What `verify_batch` reads beyond it comes from doing less work per item.
"""

from __future__ import annotations

import argparse
import multiprocessing
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ponder.format import extract_answer  # noqa: E402
from ponder.tasks import get_task  # noqa: E402
from ponder.verify import math_score, shared_pool, verify_batch  # noqa: E402
from ponder.verify.equiv import new_batch  # noqa: E402
from ponder.verify.fast import decide  # noqa: E402

FLOOR = 4.0  # verify_batch over math-verify in one process, median round, idle machine


def _pair(rng: random.Random) -> tuple[str, str]:
    """One (gold, answer-as-written) pair, with the answer equivalent to the gold."""
    kind = rng.randrange(9)
    if kind == 0:
        n = rng.randint(-999, 9999)
        return str(n), rng.choice([str(n), f"{n}.0", f"{n:,}" if n >= 1000 else str(n)])
    if kind == 1:
        f = Fraction(rng.randint(1, 99), rng.randint(2, 40))
        return f"\\frac{{{f.numerator}}}{{{f.denominator}}}", rng.choice([f"{f.numerator}/{f.denominator}", f"\\dfrac{{{f.numerator}}}{{{f.denominator}}}"])
    if kind == 2:
        d = Fraction(rng.randint(1, 999), rng.choice([2, 4, 5, 8, 10, 20, 25]))
        return str(float(d)), f"\\frac{{{d.numerator}}}{{{d.denominator}}}"
    if kind == 3:
        a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
        return f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}"
    if kind == 4:
        xs = rng.sample(range(-20, 40), rng.randint(2, 5))
        ys = xs[:]
        rng.shuffle(ys)
        return "\\{" + ",".join(map(str, xs)) + "\\}", "\\{" + ", ".join(map(str, ys)) + "\\}"
    if kind == 5:
        lo = rng.randint(-20, 10)
        hi = lo + rng.randint(1, 30)
        left, right = rng.choice("(["), rng.choice(")]")
        return f"{left}{lo},{hi}{right}", f"{left}{lo}, {hi}{right}"
    if kind == 6:
        r = rng.randint(1, 9)
        return f"x^2+{2 * r}x+{r * r}", f"(x+{r})^2"
    if kind == 7:
        p = rng.randint(1, 99)
        return f"{p}\\%", str(p / 100)
    n = rng.randint(1, 50)
    return f"x={n}", str(n)


def _wrong(gold: str, answer: str, rng: random.Random) -> str:
    for old, new in (("1", "7"), ("2", "3"), ("3", "4"), ("5", "6"), ("x", "y")):
        if old in answer:
            return answer.replace(old, new, 1)
    return answer + "+1"


def make_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(f"bench-verify/{seed}")
    out = []
    for _ in range(n):
        gold, ans = _pair(rng)
        if rng.random() < 0.25:
            ans = _wrong(gold, ans, rng)
        style = rng.randrange(4)
        if style == 0:
            completion = f"<answer>{ans}</answer>"
        elif style == 1:
            completion = f"<think>let me work it out ... {rng.randint(0, 99)}</think><answer>{ans}</answer>"
        elif style == 2:
            completion = f"So the final answer is \\boxed{{{ans}}}."
        else:
            completion = f"<think>maybe \\boxed{{{rng.randint(0, 9)}}}</think>\\boxed{{{ans}}}"
        out.append((gold, completion))
    return out


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pool_cpu(workers: int | None) -> float:
    """CPU seconds used so far by the shared pool's worker processes and their scorers."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for w in shared_pool(workers)._pool:
        pids = [w.proc.pid]
        try:
            pids += [int(c) for c in open(f"/proc/{w.proc.pid}/task/{w.proc.pid}/children").read().split()]
        except FileNotFoundError:
            continue
        for pid in pids:
            try:
                f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) / tick  # utime + stime
            except FileNotFoundError:
                pass
    return total


def run_round(pairs, tmpdir: Path, seed: int, pool_first: bool, workers: int | None):
    path = tmpdir / f"golds-{seed}.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "answer": g, "id": str(i)}) + "\n" for i, (g, _) in enumerate(pairs)))
    task = get_task(f"file:{path}?id=id")
    by_id = {p.id: p for p in task.by_level[1]}
    problems = [by_id[str(i)] for i in range(len(pairs))]
    completions = [c for _, c in pairs]

    cpu = {}

    def base():
        c0, t0 = _self_cpu(), time.perf_counter()
        v = [math_score(c, g, shortcuts=False) for g, c in pairs]
        cpu["base"] = _self_cpu() - c0
        return v, time.perf_counter() - t0

    def shortcuts():  # the pool's per-item work, in this process: a new batch, so an empty memo
        new_batch()
        t0 = time.perf_counter()
        v = [math_score(c, g) for g, c in pairs]
        return v, time.perf_counter() - t0

    def pool():
        c0, w0, t0 = _self_cpu(), _pool_cpu(workers), time.perf_counter()
        v = verify_batch(problems, completions, timeout_s=30.0, workers=workers)
        cpu["pool"] = (_self_cpu() - c0) + (_pool_cpu(workers) - w0)  # dispatcher + workers (a worker
        return v, time.perf_counter() - t0  # replaced mid-round would be missed; none are here

    if pool_first:
        (pv, pt), (bv, bt) = pool(), base()
    else:
        (bv, bt), (pv, pt) = base(), pool()
    sv, st = shortcuts()
    for name, v in (("pool", pv), ("shortcuts in one process", sv)):
        if v != bv:
            diff = [i for i, (a, b) in enumerate(zip(v, bv)) if a != b]
            raise SystemExit(f"verdicts differ on {len(diff)} pairs, e.g. {pairs[diff[0]]}: {name} {v[diff[0]]} vs math-verify {bv[diff[0]]}")
    return bt, pt, st, sum(bv), cpu["base"], cpu["pool"]


def fast_share(pairs) -> float:
    """Share of pairs the exact fast path decides (the rest go to math-verify)."""
    answers = [(extract_answer(c, math=True), g) for g, c in pairs]
    return sum(a is not None and decide(a, g) is not None for a, g in answers) / len(pairs)


def _direct_rate(seed: int, n: int, start, out) -> None:
    """Child of --scaling: warm up, wait for the common start, score n fresh pairs directly."""
    for g, c in make_pairs(100, seed=-2 - seed):
        math_score(c, g, shortcuts=False)
    pairs = make_pairs(n, seed=100 + seed)
    start.wait()
    t0 = time.perf_counter()
    for g, c in pairs:
        math_score(c, g, shortcuts=False)
    out.put(n / (time.perf_counter() - t0))


def scaling(n: int, rounds: int) -> None:
    ctx = multiprocessing.get_context("fork")  # no pool (no threads) exists yet in this process
    totals: dict[int, list[float]] = {1: [], 2: []}
    for r in range(rounds):
        for k in (1, 2):
            start, out = ctx.Event(), ctx.Queue()
            procs = [ctx.Process(target=_direct_rate, args=(10 * r + i, n, start, out)) for i in range(k)]
            for proc in procs:
                proc.start()
            time.sleep(3)  # imports and warm-up done before the common start
            start.set()
            rates = [out.get() for _ in procs]
            for proc in procs:
                proc.join()
            totals[k].append(sum(rates))
            print(f"round {r}: {k} direct process(es) at once: {sum(rates):7.1f} pairs/s in all "
                  f"({', '.join(f'{x:.1f}' for x in rates)})  load average {os.getloadavg()[0]:.2f}")
    one, two = statistics.median(totals[1]), statistics.median(totals[2])
    print(f"median: 1 process {one:.1f} pairs/s, 2 at once {two:.1f} pairs/s: ceiling {two / one:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=None, help="pairs per round (default 2000; 600 per process with --scaling)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="pool size (default: one per CPU)")
    ap.add_argument("--scaling", action="store_true", help="measure 1 vs 2 direct processes at once, then stop")
    args = ap.parse_args()
    if args.scaling:
        return scaling(args.pairs or 600, args.rounds)
    pool = shared_pool(args.workers)
    args.pairs = args.pairs or 2000
    print(f"cpus={os.cpu_count()} pool workers={pool.workers} load average at start={os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        warm = make_pairs(200, seed=-1)  # warm both sides on pairs that are not timed
        run_round(warm, tmpdir, -1, pool_first=True, workers=args.workers)
        rows = []
        for r in range(args.rounds):
            pairs = make_pairs(args.pairs, seed=r)
            bt, pt, stime, correct, bc, pc = run_round(pairs, tmpdir, r, pool_first=r % 2 == 1, workers=args.workers)
            rows.append((args.pairs / bt, args.pairs / pt, bc, pc, args.pairs / stime))
            print(f"round {r}: {int(correct)}/{args.pairs} verdicts 1.0 (identical)  "
                  f"direct {args.pairs / bt:8.1f} pairs/s  pool {args.pairs / pt:8.1f} pairs/s  ratio {bt / pt:.2f}x  "
                  f"| shortcuts, 1 process {args.pairs / stime:8.1f} pairs/s ({bt / stime:.2f}x)  "
                  f"| CPU ms/pair direct {1000 * bc / args.pairs:.2f} pool {1000 * pc / args.pairs:.2f}  "
                  f"| cores used direct {bc / bt:.2f} pool {pc / pt:.2f}  | load {os.getloadavg()[0]:.2f}")
    base_rate = statistics.median(r[0] for r in rows)
    pool_rate = statistics.median(r[1] for r in rows)
    ratio = statistics.median(r[1] / r[0] for r in rows)
    efficiency = statistics.median(r[2] / r[3] for r in rows)  # direct CPU per pair / pool CPU per pair
    one = statistics.median(r[4] / r[0] for r in rows)
    print(f"fast path decides {100 * fast_share(pairs):.0f}% of the pairs; math-verify the rest (gold parses and "
          f"verdicts memoised per batch)")
    print(f"median: math-verify direct (1 process) {base_rate:.1f} pairs/s | verify_batch ({pool.workers} workers) "
          f"{pool_rate:.1f} pairs/s | ratio {ratio:.2f}x | shortcuts alone in 1 process {one:.2f}x  "
          f"load average at end={os.getloadavg()[0]:.2f}")
    print(f"CPU efficiency of the pool (direct CPU per pair / pool CPU per pair, dispatcher included): {efficiency:.2f}; "
          f"with {pool.workers} workers the ratio can reach about {pool.workers} x efficiency = "
          f"{pool.workers * efficiency:.2f}x on {pool.workers} free cores")
    print(f"floor: verify_batch >= {FLOOR:.0f}x math-verify in one process: {'PASS' if ratio >= FLOOR else 'FAIL'} "
          f"({ratio:.2f}x; an idle machine is the floor's setting, load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
