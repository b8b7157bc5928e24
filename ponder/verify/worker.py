"""A verifier worker process: `python -m ponder.verify.worker READ_FD WRITE_FD PARENT_PID`.

Started by `ponder.verify.pool.VerifierPool`. It imports the verifiers once and then forks a
*scorer*, which says "ready" and scores chunks of (task, problem, completion) items in its MAIN
thread (math-verify's SIGALRM timeouts need that), sending one small message per item so the
pool can tell which item is running and since when. When an item overruns, the pool sends this
process SIGUSR1: it SIGKILLs the scorer and forks a fresh one, already warm, in milliseconds
(a new interpreter would spend a second or more importing sympy). Everything exits when the
pool closes the pipe or dies.
"""

from __future__ import annotations

import importlib
import math
import os
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


def serve(conn) -> None:
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the pool went away
            return
        if msg is None:
            return
        job_id, start, refs, problems, completions = msg
        # Resolve the chunk's tasks first (loading a dataset file or importing reasoning_gym can
        # take seconds) and say so: the pool starts the first item's clock only then.
        tasks: dict = {}
        for ref in dict.fromkeys(refs):
            try:
                tasks[ref] = resolve(*ref)
            except Exception as e:  # noqa: BLE001 - e.g. the task cannot be resolved here
                tasks[ref] = e
        conn.send("resolved")
        for i, (ref, p, c) in enumerate(zip(refs, problems, completions)):
            task = tasks[ref]
            if isinstance(task, Exception):
                score, err = 0.0, f"{type(task).__name__}: {task}"
            else:
                score, err = score_one(task, p, c)
            conn.send((job_id, start + i, score, err))


def main() -> None:
    from multiprocessing.connection import Connection

    rfd, wfd, parent = (int(x) for x in sys.argv[1:4])
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
    math_score("<answer>\\frac{1}{2}</answer>", "\\{0.5\\}")

    conn_in, conn_out = Connection(rfd, writable=False), Connection(wfd, readable=False)

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
            serve(Duplex)
            os._exit(0)
        _, status = os.waitpid(scorer, 0)
        if os.waitstatus_to_exitcode(status) == 0:  # the pool closed the pipe: done
            return
        # killed on the pool's request (or crashed): loop and fork a fresh scorer


if __name__ == "__main__":
    main()
