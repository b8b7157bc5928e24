"""A persistent pool of verifier processes with a per-item wall-clock limit.

    from ponder.verify import VerifierPool, verify_batch
    scores = verify_batch(problems, completions)            # shared pool, created on first use
    with VerifierPool(workers=2, timeout_s=5) as pool:      # or a pool of your own
        fut = pool.submit(problems, completions)            # Future[list[float]]; overlap work
        scores = fut.result()

Why processes: math-verify bounds its work with SIGALRM, which only works in a main thread,
and sympy can also hang inside C code where no signal handler runs. Each worker scores items
in its main thread; the pool's dispatcher thread watches the clock, and an item that overruns
`timeout_s` scores 0, the rest of its chunk goes back to the queue, and the worker is told
(SIGUSR1) to SIGKILL its scorer and fork a fresh, already-warm one (see ponder/verify/worker.py);
it takes work again once the new scorer says "ready". A worker that does not come back within
`RESTART_GRACE_S`, or dies, is killed outright and replaced by a fresh interpreter. Workers are
plain subprocesses, not multiprocessing children, so a caller's `__main__` is never re-imported
and scripts need no `if __name__ == "__main__"` guard.

Work travels in chunks (a few dozen items per message) to amortise IPC; each score comes back
as its own small message, which is how the dispatcher knows which item a worker is on and
since when. A worker resolves tasks by name (`get_task`), importing the module that defined
the task first, so built-in, `rg/` and `file:` tasks and tasks registered by an importable
module all work; tasks defined in `__main__` do not reach workers.
"""

from __future__ import annotations

import atexit
import collections
import math
import multiprocessing.connection as mpc
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Sequence

from ponder.types import Problem

# -- parent side ---------------------------------------------------------------------------------
@dataclass
class _Job:
    future: Future
    scores: list
    remaining: int
    timeout_s: float


MAX_START_FAILURES = 3  # workers that die before "ready" in a row: give up, fail the jobs
RESTART_GRACE_S = 30.0  # a worker told to replace its scorer must say "ready" within this
RESOLVE_GRACE_S = 120.0  # loading a chunk's tasks (dataset file, reasoning_gym import) within this


@dataclass
class _Worker:
    proc: Any  # subprocess.Popen
    conn: Any  # reads results
    out: Any  # sends chunks
    ready: bool = False
    restart_since: float | None = None  # when it was told to replace its scorer
    msg: tuple | None = None  # the chunk in flight: (job_id, start, refs, problems, texts)
    done: int = 0  # items of that chunk already scored
    since: float = 0.0  # when the current item started (or the chunk was sent, while resolving)
    resolving: bool = False  # the worker is still loading the chunk's tasks

    @property
    def busy(self) -> bool:
        return self.msg is not None


class VerifierPool:
    """Persistent verifier processes; see the module docstring. Thread-safe `submit`."""

    def __init__(self, workers: int | None = None, timeout_s: float = 5.0, chunk_size: int = 32):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.chunk_size = chunk_size
        self.timeouts = 0  # items killed for overrunning, over the pool's life
        self.errors: collections.deque = collections.deque(maxlen=20)  # recent verifier exceptions
        self._lock = threading.Lock()
        self._pending: collections.deque = collections.deque()  # chunks waiting for a worker
        self._jobs: dict[int, _Job] = {}
        self._next_job = 0
        self._closed = False
        self._start_failures = 0
        r, w = os.pipe()
        self._wake_r, self._wake_w = mpc.Connection(r, writable=False), mpc.Connection(w, readable=False)
        self._pool = [self._spawn() for _ in range(self.workers)]
        self._thread = threading.Thread(target=self._dispatch, name="ponder-verifier-pool", daemon=True)
        self._thread.start()

    # -- public API ----------------------------------------------------------------------------
    def submit(self, problems: Sequence[Problem], completions: Sequence[Any], timeout_s: float | None = None) -> Future:
        """Score `completions[i]` against `problems[i]`; a Future of list[float] in input order."""
        if len(problems) != len(completions):
            raise ValueError(f"{len(problems)} problems but {len(completions)} completions")
        texts = [c if isinstance(c, str) else c.text for c in completions]
        refs = _task_refs(problems)
        fut: Future = Future()
        n = len(problems)
        if n == 0:
            fut.set_result([])
            return fut
        size = max(1, min(self.chunk_size, math.ceil(n / (self.workers * 4))))  # balance vs IPC
        with self._lock:
            if self._closed:
                raise RuntimeError("VerifierPool is shut down")
            job_id = self._next_job
            self._next_job += 1
            self._jobs[job_id] = _Job(fut, [0.0] * n, n, self.timeout_s if timeout_s is None else timeout_s)
            for s in range(0, n, size):
                e = min(n, s + size)
                self._pending.append((job_id, s, refs[s:e], list(problems[s:e]), texts[s:e]))
        self._wake_w.send(b"")
        return fut

    def map(self, problems: Sequence[Problem], completions: Sequence[Any], timeout_s: float | None = None) -> list[float]:
        return self.submit(problems, completions, timeout_s).result()

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._wake_w.send(b"")
        except OSError:
            pass
        self._thread.join(timeout=5)

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # -- dispatcher thread ---------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        """A fresh worker process (own interpreter, so a caller's __main__ is never re-run)."""
        r1, w1 = os.pipe()  # pool -> worker
        r2, w2 = os.pipe()  # worker -> pool
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        proc = subprocess.Popen(
            [sys.executable, "-m", "ponder.verify.worker", str(r1), str(w2), str(os.getpid())],
            pass_fds=(r1, w2),
            env=env,
            stdin=subprocess.DEVNULL,
            # Its own session: Ctrl-C in the caller's terminal is the caller's to handle, and
            # the kernel's autogroup scheduler (on by default) weighs each worker as a job of
            # its own rather than squeezing the whole pool into the caller's single share.
            start_new_session=True,
        )
        os.close(r1)
        os.close(w2)
        return _Worker(proc, mpc.Connection(r2, writable=False), mpc.Connection(w1, readable=False))

    def _retire(self, w: _Worker) -> None:
        w.proc.kill()
        w.proc.wait()
        w.conn.close()
        w.out.close()

    def _limit(self, w: _Worker) -> float:
        return RESOLVE_GRACE_S if w.resolving else self._jobs[w.msg[0]].timeout_s

    def _fail_item(self, w: _Worker) -> None:
        """Score the worker's current item 0 and requeue the rest of its chunk."""
        job_id, start, *cols = w.msg
        w.msg = None
        self.timeouts += 1
        self._record(job_id, start + w.done, 0.0, "timed out or crashed")
        rest = w.done + 1
        if rest < len(cols[0]) and job_id in self._jobs:
            self._pending.appendleft((job_id, start + rest, *(c[rest:] for c in cols)))

    def _restart_scorer(self, w: _Worker) -> None:
        """An item overran: fail it, and have the worker fork a fresh scorer (milliseconds)."""
        self._fail_item(w)
        w.ready, w.restart_since = False, time.monotonic()
        try:
            os.kill(w.proc.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass

    def _replace(self, w: _Worker) -> _Worker:
        """Kill a worker outright (dead or unresponsive); fail its item; return a new one."""
        self._retire(w)
        if w.msg is not None:
            self._fail_item(w)
        return self._spawn()

    def _fail_all(self, why: str) -> None:
        self._pending.clear()
        for job in self._jobs.values():
            job.future.set_exception(RuntimeError(why))
        self._jobs.clear()

    def _record(self, job_id: int, idx: int, score: float, err: str | None) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        job.scores[idx] = score
        if err:
            self.errors.append(err)
        job.remaining -= 1
        if job.remaining == 0:
            del self._jobs[job_id]
            job.future.set_result(job.scores)

    def _dispatch(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed:
                        break
                    for w in self._pool:  # hand chunks to idle workers
                        if w.ready and not w.busy and self._pending:
                            w.msg, w.done, w.since, w.resolving = self._pending.popleft(), 0, time.monotonic(), True
                            w.out.send(w.msg)
                    deadlines = [w.since + self._limit(w) for w in self._pool if w.busy and w.msg[0] in self._jobs]
                    deadlines += [w.restart_since + RESTART_GRACE_S for w in self._pool if w.restart_since is not None]
                wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                ready = mpc.wait([w.conn for w in self._pool] + [self._wake_r], timeout=wait)
                with self._lock:
                    if self._wake_r in ready:
                        while self._wake_r.poll():
                            self._wake_r.recv_bytes()
                    now = time.monotonic()
                    for i, w in enumerate(self._pool):
                        if w.conn in ready:
                            try:
                                while w.conn.poll():
                                    msg = w.conn.recv()
                                    if msg == "ready":
                                        if w.busy and w.restart_since is None:  # its scorer crashed
                                            self._fail_item(w)
                                        w.ready, w.restart_since, self._start_failures = True, None, 0
                                        continue
                                    if msg == "resolved":  # tasks loaded: the first item's clock starts
                                        w.resolving, w.since = False, time.monotonic()
                                        continue
                                    job_id, idx, score, err = msg
                                    self._record(job_id, idx, score, err)
                                    w.done += 1
                                    w.since = time.monotonic()
                                    if w.done == len(w.msg[2]):
                                        w.msg = None
                            except (EOFError, OSError):  # the worker died (out of memory, killed...)
                                if not w.ready:
                                    self._start_failures += 1
                                    if self._start_failures >= MAX_START_FAILURES:
                                        self._fail_all(f"verifier workers fail to start ({sys.executable} -m ponder.verify.worker; see stderr)")
                                        self._closed = True
                                        break
                                self._pool[i] = self._replace(w)
                                continue
                        job = self._jobs.get(w.msg[0]) if w.busy else None
                        if job is not None and now - w.since > self._limit(w):
                            self._restart_scorer(w)
                        elif w.restart_since is not None and now - w.restart_since > RESTART_GRACE_S:
                            self._pool[i] = self._replace(w)
        finally:
            self._stop_workers()

    def _stop_workers(self) -> None:
        for w in self._pool:
            try:
                w.out.send(None)
            except OSError:
                pass
        for w in self._pool:
            try:
                w.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
            self._retire(w)
        with self._lock:
            self._fail_all("VerifierPool shut down before the job finished")


def _task_refs(problems: Sequence[Problem]) -> list[tuple[str, str | None]]:
    """(name a worker can resolve, defining module) per problem.

    Unknown task names fail here, in the caller. A task with a `spec` attribute (file tasks
    registered under a custom name) is resolved by that spec in the workers.
    """
    from ponder.tasks import get_task

    refs: dict[str, tuple[str, str | None]] = {}
    for p in problems:
        if p.task not in refs:
            task = get_task(p.task)  # PonderError for unknown names
            refs[p.task] = (getattr(task, "spec", None) or p.task, type(task).__module__)
    return [refs[p.task] for p in problems]


# -- the shared pools ----------------------------------------------------------------------------
_shared: dict[int, VerifierPool] = {}
_shared_lock = threading.Lock()


def shared_pool(workers: int | None = None) -> VerifierPool:
    """The process-wide pool with `workers` processes (default: one per CPU), made on first use."""
    n = max(1, workers or os.cpu_count() or 1)
    with _shared_lock:
        pool = _shared.get(n)
        if pool is None or pool._closed:
            pool = _shared[n] = VerifierPool(workers=n)
        return pool


def verify_batch(problems: Sequence[Problem], completions: Sequence[Any], *, timeout_s: float = 5.0, workers: int | None = None) -> list[float]:
    """Scores of `task.verify(completion, problem)` for each pair, computed in the shared pool.

    An item that runs longer than `timeout_s` seconds (wall clock) scores 0.
    """
    if not problems:
        return []
    return shared_pool(workers).map(problems, completions, timeout_s=timeout_s)


def _shutdown_shared() -> None:
    with _shared_lock:
        pools = list(_shared.values())
        _shared.clear()
    for p in pools:
        p.shutdown()


def _forget_after_fork() -> None:  # a forked child must not touch the parent's workers
    global _shared_lock
    _shared.clear()
    _shared_lock = threading.Lock()


atexit.register(_shutdown_shared)
os.register_at_fork(after_in_child=_forget_after_fork)
