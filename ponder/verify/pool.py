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

Work travels in chunks (a few dozen items per message) and each chunk's scores come back as
one message, so IPC and dispatcher wake-ups are per chunk, not per item: on a 2-core machine
with 2 workers every wake-up of the dispatcher takes a core from a worker. The per-item clock
does not need messages: the scorer writes which item it is on, and since when, into a small
shared-memory block (`worker.Progress`), which the dispatcher reads only when a deadline comes
up; after a kill, the chunk's already-finished scores are read back from the same block.

A worker resolves tasks by name (`get_task`), importing the module that defined the task
first, so built-in, `rg/` and `file:` tasks and tasks registered by an importable module all
work; tasks defined in `__main__` do not reach workers.
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
from ponder.verify.worker import Progress

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
    progress: Progress  # shared memory: which item of the chunk in flight is running, since when
    ready: bool = False
    restart_since: float | None = None  # when it was told to replace its scorer
    msg: tuple | None = None  # the chunk in flight: (job_id, start, refs, problems, texts)
    chunk: int = 0  # its number, which tags the worker's progress and results
    sent: float = 0.0  # when it was sent (the worker then loads its tasks, within RESOLVE_GRACE_S)

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
        with self._lock:
            if self._closed:
                raise RuntimeError("VerifierPool is shut down")
            job_id = self._next_job
            self._next_job += 1
            self._jobs[job_id] = _Job(fut, [0.0] * n, n, self.timeout_s if timeout_s is None else timeout_s)
            s = 0
            while s < n:  # chunks shrink toward the end, so no worker idles long while the last one runs
                e = s + max(1, min(self.chunk_size, math.ceil((n - s) / (self.workers * 4))))
                self._pending.append((job_id, s, refs[s:e], list(problems[s:e]), texts[s:e]))
                s = e
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
        pfd = os.memfd_create("ponder-verify-progress")
        progress = Progress(pfd, items=self.chunk_size)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        proc = subprocess.Popen(
            [sys.executable, "-m", "ponder.verify.worker", str(r1), str(w2), str(pfd), str(os.getpid())],
            pass_fds=(r1, w2, pfd),
            env=env,
            stdin=subprocess.DEVNULL,
            # Its own session: Ctrl-C in the caller's terminal is the caller's to handle, and
            # the kernel's autogroup scheduler (on by default) weighs each worker as a job of
            # its own rather than squeezing the whole pool into the caller's single share.
            start_new_session=True,
        )
        for fd in (r1, w2, pfd):
            os.close(fd)
        return _Worker(proc, mpc.Connection(r2, writable=False), mpc.Connection(w1, readable=False), progress)

    def _retire(self, w: _Worker) -> None:
        w.proc.kill()
        w.proc.wait()
        w.conn.close()
        w.out.close()

    def _overran(self, w: _Worker, now: float) -> int | None:
        """The position of the worker's running item if it overran (0 if the chunk's task
        loading overran), else None."""
        running = w.progress.running(w.chunk)
        if running is None:
            return 0 if now > w.sent + RESOLVE_GRACE_S else None
        return running[0] if now > running[1] + self._jobs[w.msg[0]].timeout_s else None

    def _check_at(self, w: _Worker) -> float:
        """When to look at a busy worker's progress next: when its running item would overrun.

        While the worker loads the chunk's tasks, no item can start before now, so none can
        overrun before now + timeout. A progress read that is already stale (the worker has
        moved on) gives an earlier start, so an earlier look, never a missed one.
        """
        timeout = self._jobs[w.msg[0]].timeout_s
        running = w.progress.running(w.chunk)
        if running is None:
            return min(time.monotonic() + timeout, w.sent + RESOLVE_GRACE_S)
        return running[1] + timeout

    def _send(self, w: _Worker, msg: tuple) -> None:
        w.msg, w.chunk, w.sent = msg, w.chunk + 1, time.monotonic()
        # results carry the chunk number; the job id only tells the scorer when a new batch starts
        w.out.send((w.chunk, msg[0], *msg[2:]))

    def _chunk_done(self, w: _Worker, msg: tuple) -> None:
        chunk, scores, errors = msg
        if w.msg is None or chunk != w.chunk:  # a chunk already failed (overran or crashed): stale
            return
        job_id, start = w.msg[:2]
        w.msg = None
        for i, score in enumerate(scores):
            self._record(job_id, start + i, score, errors.get(i))

    def _fail_item(self, w: _Worker, done: int | None = None) -> None:
        """Score item `done` of the worker's chunk 0 (default: the one running; item 0 if it
        was still loading tasks), keep the scores before it, requeue the rest."""
        job_id, start, *cols = w.msg
        w.msg = None
        if done is None:
            running = w.progress.running(w.chunk)
            done = 0 if running is None else running[0]
        for i, score in enumerate(w.progress.scores(done)):
            self._record(job_id, start + i, score, None)
        self.timeouts += 1
        self._record(job_id, start + done, 0.0, "timed out or crashed")
        rest = done + 1
        if rest < len(cols[0]) and job_id in self._jobs:
            self._pending.appendleft((job_id, start + rest, *(c[rest:] for c in cols)))

    def _restart_scorer(self, w: _Worker, item: int) -> None:
        """Item `item` of the worker's chunk overran: fail it, and have the worker fork a fresh
        scorer (milliseconds). Items after it that the scorer reaches meanwhile are requeued."""
        self._fail_item(w, item)
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
                    for i, w in enumerate(self._pool):  # hand chunks to idle workers
                        if w.ready and not w.busy and self._pending:
                            msg = self._pending.popleft()
                            try:
                                self._send(w, msg)
                            except OSError:  # it died since its last message: its replacement takes the chunk
                                w.msg = None
                                self._pending.appendleft(msg)
                                self._pool[i] = self._replace(w)
                    # Sleep until a chunk comes back or a running item could first overrun;
                    # an item that finishes in time moves its worker on, and a look then
                    # just finds the next item's start time.
                    deadlines = [self._check_at(w) for w in self._pool if w.busy and w.msg[0] in self._jobs]
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
                                    self._chunk_done(w, msg)
                            except (EOFError, OSError):  # the worker died (out of memory, killed...)
                                if not w.ready:
                                    self._start_failures += 1
                                    if self._start_failures >= MAX_START_FAILURES:
                                        self._fail_all(f"verifier workers fail to start ({sys.executable} -m ponder.verify.worker; see stderr)")
                                        self._closed = True
                                        break
                                self._pool[i] = self._replace(w)
                                continue
                        late = self._overran(w, now) if w.busy and w.msg[0] in self._jobs else None
                        if late is not None:
                            self._restart_scorer(w, late)
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
