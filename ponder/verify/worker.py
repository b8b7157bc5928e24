"""A verifier worker process: `python -m ponder.verify.worker READ_FD WRITE_FD PROGRESS_FD PARENT_PID`.

Started by `ponder.verify.pool.VerifierPool`. It imports the verifiers once and then forks a
*scorer*, which says "ready" and scores chunks of (task, problem, completion) items in its MAIN
thread (math-verify's SIGALRM timeouts need that) and sends each chunk's scores back as one
message. Which item is running, and since when, it writes into a small shared-memory block
(`Progress`) that the pool reads when a deadline comes up, so the pool's per-item clock costs
no pipe message and no wake-up of the pool per item. When an item overruns, the pool sends
this process SIGUSR1: it SIGKILLs the scorer and forks a fresh one, already warm, in
milliseconds (a new interpreter would spend a second or more importing sympy); the scores of
the chunk's items that finished before it are read back from the same block. Everything exits
when the pool closes the pipe or dies.
"""

from __future__ import annotations

import importlib
import math
import mmap
import os
import time
import signal
import sys

from ponder.types import Problem

_imported: set[str] = set()


def resolve(name: str, module: str | None):
    """The task called `name`, importing the module that registers it first."""
    from ponder.tasks import get_task

    if module and module not in _imported:
        _imported.add(module)
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    task = get_task(name)  # cheap: a dict lookup, or the file task's own (mtime-checked) cache
    prepare = getattr(task, "prepare", None)  # e.g. start rg's scoring sandbox, off the item clock
    if prepare is not None:
        prepare()
    return task


def score_one(task, problem: Problem, completion: str) -> tuple[float, str | None]:
    """task.verify clamped to [0, 1]; an exception or a non-finite score gives 0 and a message."""
    try:
        s = float(task.verify(completion, problem))
    except Exception as e:  # noqa: BLE001 - a verifier that raises gives no credit
        return 0.0, f"{type(e).__name__}: {e}"
    if not math.isfinite(s):
        return 0.0, f"non-finite score {s}"
    return min(1.0, max(0.0, s)), None


class Progress:
    """Shared memory between the pool and one worker: which item of which chunk is running.

    Layout (int64/float64 slots): [0] when the running item started (time.monotonic_ns; the
    clock is system-wide), [1] tag = chunk number * TAG + position (position i + 1 while item i
    runs; the tag of an earlier chunk while the current one is still loading its tasks), then
    one score slot per item of the chunk. The scorer writes the start time before the tag,
    and the pool reads the tag before the start time, so a start time the pool reads is never
    earlier than the true start of the item the tag names (it may be the next item's, which
    only delays a kill): no lock is needed and no item is killed early.

    Slots are read and written through typed memoryviews, one 8-byte store or load each.
    `struct.pack_into` must not be used here: it zero-fills the field before packing it, so a
    concurrent reader could see a new tag beside a start time of 0 and kill an item that had
    only just started.
    """

    TAG = 1 << 24  # positions per chunk number (chunks are far smaller)

    def __init__(self, fd: int, items: int | None = None):
        if items is not None:  # the pool sizes the block; the worker maps what it was given
            os.ftruncate(fd, 8 * (2 + items))
        self.mm = mmap.mmap(fd, 0)
        self._head = memoryview(self.mm)[:16].cast("q")  # [start ns, tag]
        self._scores = memoryview(self.mm)[16:].cast("d")

    def start(self, chunk: int, i: int) -> None:  # scorer: item i of `chunk` starts now
        self._head[0] = time.monotonic_ns()
        self._head[1] = chunk * self.TAG + i + 1

    def finish(self, i: int, score: float) -> None:  # scorer: item i scored `score`
        self._scores[i] = score

    def running(self, chunk: int) -> tuple[int, float] | None:
        """(position, start in time.monotonic seconds) of `chunk`'s running item; None while
        the chunk is still loading its tasks (or has not reached the worker)."""
        tag = self._head[1]
        started = self._head[0]
        c, pos = divmod(tag, self.TAG)
        return (pos - 1, started / 1e9) if c == chunk and pos > 0 else None

    def scores(self, n: int) -> list[float]:  # pool: the first n items' scores of the chunk
        return list(self._scores[:n])


def serve(conn, progress: Progress) -> None:
    from ponder.verify.equiv import new_batch

    batch = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the pool went away
            return
        if msg is None:
            return
        chunk, job, refs, problems, completions = msg
        if job != batch:  # the math memo (gold parses, verdicts) serves one batch: bounded, never stale
            batch = job
            new_batch()
        # Resolve the chunk's tasks first (loading a dataset file or importing reasoning_gym can
        # take seconds): the pool starts the first item's clock only when that item starts.
        tasks: dict = {}
        for ref in dict.fromkeys(refs):
            try:
                tasks[ref] = resolve(*ref)
            except Exception as e:  # noqa: BLE001 - e.g. the task cannot be resolved here
                tasks[ref] = e
        scores, errors = [], {}
        for i, (ref, p, c) in enumerate(zip(refs, problems, completions)):
            progress.start(chunk, i)
            task = tasks[ref]
            if isinstance(task, Exception):
                score, err = 0.0, f"{type(task).__name__}: {task}"
            else:
                score, err = score_one(task, p, c)
            progress.finish(i, score)
            scores.append(score)
            if err:
                errors[i] = err
        conn.send((chunk, scores, errors))  # one message per chunk


def main() -> None:
    from multiprocessing.connection import Connection

    rfd, wfd, pfd, parent = (int(x) for x in sys.argv[1:5])
    import ctypes

    try:  # die with the pool's process (Linux); the check covers a parent that died already
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    import ponder.tasks  # noqa: F401
    from ponder.verify.equiv import math_score

    # Warm up before saying ready: the first parse builds math-verify's LaTeX parser (a second
    # or more on a busy machine), which must not count against the first item's clock.
    math_score("<answer>\\frac{1}{2}</answer>", "\\{0.5\\}", shortcuts=False)

    conn_in, conn_out = Connection(rfd, writable=False), Connection(wfd, readable=False)
    progress = Progress(pfd)  # shared with the scorers it forks (MAP_SHARED survives fork)

    class Duplex:  # one object with recv/send over the two pipes
        recv = staticmethod(conn_in.recv)
        send = staticmethod(conn_out.send)

    scorer = 0

    def kill_scorer(signum, frame):  # the pool's "this item overran"
        if scorer:
            try:
                os.kill(scorer, signal.SIGKILL)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGUSR1, kill_scorer)
    while True:
        scorer = os.fork()
        if scorer == 0:
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)
            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # die with this supervisor
            conn_out.send("ready")
            serve(Duplex, progress)
            os._exit(0)
        _, status = os.waitpid(scorer, 0)
        if os.waitstatus_to_exitcode(status) == 0:  # the pool closed the pipe: done
            return
        # killed on the pool's request (or crashed): loop and fork a fresh scorer


if __name__ == "__main__":
    main()
