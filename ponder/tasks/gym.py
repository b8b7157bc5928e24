"""reasoning-gym datasets as ponder tasks: `rg/<name>` (extra `gym`: pip install 'ponder[gym]').

    task = get_task("rg/countdown")             # binary reward: 1.0 only when rg scores 1.0
    task = get_task("rg/countdown?partial=1")   # rg's partial-credit float, as is
    problems = task.sample(8, difficulty=3, seed=0)

Difficulty. A dataset with a reasoning-gym curriculum gets ponder's levels 1..5 spread evenly
over the curriculum's distinct global levels 0..N (N = the longest attribute ladder minus one;
minus two for range attributes, whose level L already spans ladder steps L..L+1):
`rg_level = ((difficulty - 1) * N + 2) // 4`, so 1 -> 0 and 5 -> N. The configuration is
generated in rg's default INCLUSIVE mode (ranges run from the easiest step up to that level),
as rg's own curriculum training does; UPPER_BOUND (only the top segment) separates levels more
sharply but makes some generators fail (countdown cannot build expressions for some segments).
Datasets without a curriculum (composite, gsm_symbolic, acre, list_functions) have one level, 1,
with rg's config defaults.

Generation runs reasoning-gym in-process (it is trusted code that never sees model text): item
`index` of a dataset seeded from (name, seed, difficulty), which rg generates from
`Random(seed + index)`, so any item is reproducible on its own. `meta["rg"]` records the
coordinates, and the answer is rg's reference answer; oracle = `<answer>{answer}</answer>`.

Scoring. The answer is the last <answer> outside <think> (ponder's format, not rg's own
extractor); no answer scores 0 without consulting rg. Several rg scorers `eval` or
`sympy.parse_expr` the answer (countdown, puzzle24, n_queens, spiral_matrix, binary_matrix,
string_insertion, the integration and polynomial tasks...), so ALL rg scoring happens in a
sandbox (`ponder.verify.sandbox.SandboxProcess`): one long-lived, confined server per process
that imports reasoning_gym once and forks a fresh child per item, with its own CPU limit and a
wall-clock limit; the child's stdio is closed and it reports one number over a private pipe.
A hanging or crashing item scores 0; the server is restarted if it stops answering.
Residual risk (docs/verify.md): an answer that injects code into an eval-ing scorer controls
that one child, so it can forge its own score; it cannot reach other items, the host or the
trainer. For countdown and puzzle24 answers must be plain arithmetic before rg sees them.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import math
import os
import random
import re
import select
import threading
from functools import lru_cache
from urllib.parse import parse_qsl

from ponder.errors import PonderError
from ponder.format import extract_answer, format_completion
from ponder.tasks.base import Task
from ponder.types import Problem

SIZE = 100_000  # items per (dataset, seed, level); rg seeds item i with seed + i
ITEM_TIMEOUT_S = 5.0  # wall clock per scored item inside the sandbox server
SERVER_MEMORY_MB = 3072  # reasoning_gym imports numpy, sympy, ...
# Answers to eval-ing scorers that must look like arithmetic before rg parses them.
SAFE_ANSWER = {name: re.compile(r"[0-9\s+\-*/().]+") for name in ("countdown", "puzzle24")}


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
    return sorted(_factory().DATASETS)


def num_rg_levels(name: str) -> int:
    """Distinct global levels of a dataset's curriculum (0 without one)."""
    f = _factory()
    if name not in f.CURRICULA:
        return 0
    attrs = f.create_curriculum(name).attributes.values()
    return max(1, max(len(a.levels) - (1 if getattr(a, "ensure_interval", False) else 0) for a in attrs))


def rg_level(difficulty: int, n_levels: int) -> int:
    """ponder difficulty 1..5 -> rg global level 0..n_levels-1, spread evenly."""
    top = max(0, n_levels - 1)
    return ((difficulty - 1) * top + 2) // 4


def rg_seed(name: str, seed: int, difficulty: int) -> int:
    return random.Random(f"ponder/rg/{name}/{seed}/{difficulty}").getrandbits(31)


@lru_cache(maxsize=256)
def make_dataset(name: str, difficulty: int, seed: int):
    """The rg dataset object for one (name, ponder difficulty, ponder seed)."""
    from reasoning_gym.coaching.base_curriculum import DefaultCurriculumContext, RangeAttributeMode

    f = _factory()
    cls, config_cls = f.DATASETS[name]
    fields = {fl.name for fl in dataclasses.fields(config_cls)}
    defaults = {k: v for k, v in (("seed", rg_seed(name, seed, difficulty)), ("size", SIZE)) if k in fields}
    if name in f.CURRICULA:
        cur = f.create_curriculum(name)
        cur.set_global_level(rg_level(difficulty, num_rg_levels(name)))
        config = cur.generate_configuration(defaults, context=DefaultCurriculumContext(mode=RangeAttributeMode.INCLUSIVE))
    else:
        config = config_cls(**defaults)
    return cls(config=config)


class RGTask(Task):
    """One reasoning-gym dataset; see the module docstring."""

    math = False

    def __init__(self, dataset: str, partial: bool = False):
        self.dataset = dataset
        self.partial = partial
        self.name = f"rg/{dataset}" + ("?partial=1" if partial else "")
        self.description = f"reasoning-gym {dataset}" + (" (partial credit)" if partial else "")
        self.levels = (1, 2, 3, 4, 5) if num_rg_levels(dataset) else (1,)

    def generate(self, seed: int, index: int, difficulty: int) -> Problem:
        self.check_difficulty(difficulty)
        try:
            entry = make_dataset(self.dataset, difficulty, seed)[index]
        except Exception as e:  # noqa: BLE001 - a generator that fails for this config
            raise PonderError(f"rg/{self.dataset}: cannot generate item {index} at difficulty {difficulty}: {e}") from None
        answer = entry.get("answer")
        return Problem(
            id=f"rg/{self.dataset}/d{difficulty}/s{seed}/{index}",
            task=self.name,
            prompt=str(entry["question"]),
            answer="" if answer is None else str(answer),
            difficulty=difficulty,
            meta={"rg": {"dataset": self.dataset, "difficulty": difficulty, "seed": seed, "index": index}},
        )

    def score(self, completion: str, problem: Problem) -> float:
        """reasoning-gym's own (partial-credit) score, computed in the sandbox."""
        answer = self.extract(completion)
        if answer is None or not answer.strip():
            return 0.0
        safe = SAFE_ANSWER.get(self.dataset)
        if safe is not None and not safe.fullmatch(answer):
            return 0.0
        rg = problem.meta["rg"]
        return scorer().score(rg["dataset"], rg["difficulty"], rg["seed"], rg["index"], answer)

    def verify(self, completion: str, problem: Problem) -> float:
        s = self.score(completion, problem)
        return s if self.partial else float(s == 1.0)

    def oracle(self, problem: Problem, think: bool = True) -> str:
        """rg's reference answer (rg has no worked trace to put in <think>)."""
        return format_completion(problem.answer)

    def prepare(self) -> None:
        """Start the sandboxed scorer now (the verifier pool calls this before timing items)."""
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
        raise PonderError(f"unknown reasoning-gym dataset {name!r}{hint} ({len(names)} datasets: see reasoning_gym.factory.DATASETS)")
    key = (name, partial)
    if key not in _tasks:
        _tasks[key] = RGTask(name, partial)
    return _tasks[key]


# -- the sandboxed scorer ------------------------------------------------------------------------
SERVER = "from ponder.tasks.gym import serve\nserve()\n"


class Scorer:
    """Client of one sandboxed scoring server (per process, thread-safe, restarted on failure)."""

    def __init__(self):
        self.proc = None
        self.lock = threading.Lock()
        self.buf = b""
        self.restarts = 0

    def start(self) -> None:
        with self.lock:
            self._ensure()

    def _ensure(self) -> None:
        from ponder.verify.sandbox import SandboxProcess

        if self.proc is not None and self.proc.alive():
            return
        if self.proc is not None:
            self.proc.close()
            self.restarts += 1
        self.proc, self.buf = SandboxProcess(SERVER, site=True, memory_mb=SERVER_MEMORY_MB, max_procs=64), b""
        if self._readline(300.0) != b"ready":
            err = self.proc.stderr_tail()
            self._kill()
            raise RuntimeError(f"reasoning-gym scoring sandbox did not start: {err}")

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.close()
            self.proc = None

    def _readline(self, timeout: float) -> bytes | None:
        fd = self.proc.proc.stdout.fileno()
        while b"\n" not in self.buf:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def score(self, dataset: str, difficulty: int, seed: int, index: int, answer: str, timeout_s: float = ITEM_TIMEOUT_S) -> float:
        req = {"dataset": dataset, "difficulty": difficulty, "seed": seed, "index": index, "answer": answer, "timeout": timeout_s}
        with self.lock:
            self._ensure()
            try:
                self.proc.proc.stdin.write((json.dumps(req) + "\n").encode())
                self.proc.proc.stdin.flush()
            except OSError:
                self._kill()
                return 0.0
            line = self._readline(timeout_s + 10.0)
            if line is None:  # the server stopped answering: start afresh next time
                self._kill()
                return 0.0
        try:
            s = float(json.loads(line)["score"])
        except (ValueError, KeyError, TypeError):
            return 0.0
        return min(1.0, max(0.0, s)) if math.isfinite(s) else 0.0


_scorer: Scorer | None = None


def scorer() -> Scorer:
    global _scorer
    if _scorer is None:
        _scorer = Scorer()
    return _scorer


def _after_fork() -> None:  # a forked child must not share its parent's server pipes
    global _scorer
    _scorer = None


os.register_at_fork(after_in_child=_after_fork)


def serve() -> None:
    """The scoring server; runs INSIDE the sandbox (see SERVER). One JSON request per line."""
    import ctypes
    import resource
    import signal
    import sys

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE=0: children cannot ptrace/read us
    import reasoning_gym  # noqa: F401 - import once, before forking children

    out = sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    for line in sys.stdin.buffer:
        req = json.loads(line)
        reply: dict = {"score": 0.0}
        try:
            ds = make_dataset(req["dataset"], req["difficulty"], req["seed"])
            entry = ds[req["index"]]
        except Exception as e:  # noqa: BLE001
            reply["error"] = f"generate: {type(e).__name__}: {e}"
        else:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: the only place model text is handed to rg
                try:
                    os.close(r)
                    os.setpgid(0, 0)
                    null = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(null, fd)
                    cpu = int(math.ceil(req["timeout"])) + 1
                    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
                    os.write(w, repr(float(ds.score_answer(req["answer"], entry))).encode())
                finally:
                    os._exit(0)
            os.close(w)
            ready, _, _ = select.select([r], [], [], req["timeout"])
            data = os.read(r, 64) if ready else b""
            os.close(r)
            try:
                os.killpg(pid, signal.SIGKILL)  # the child and anything it started
            except (ProcessLookupError, PermissionError):
                pass
            os.waitpid(pid, 0)
            while True:  # we are PID 1 of the namespace: reap orphans too
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        break
                except ChildProcessError:
                    break
            try:
                reply["score"] = float(data)
            except ValueError:
                reply["error"] = "timed out" if not ready else "no score"
        out.write((json.dumps(reply) + "\n").encode())
        out.flush()
