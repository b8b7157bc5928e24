"""The reasoning-gym scoring server: runs INSIDE the sandbox (see `ponder.tasks.rg_score`).

Shipped as source with `rg_core` and `rg_guard`: standard library and reasoning_gym only.
One JSON request per line on stdin, one reply per line on stdout:

    {"dataset": ..., "recipe": {...}, "item": j, "carried": {...}, "question": ..., "gold": ...,
     "answer": ..., "timeout": s}  ->  {"score": float[, "error": why]}

The entry is rebuilt from what the problem carries (`rg_core.uncarry`), or regenerated from the
recipe where it carries none; the dataset object (rg's scorer needs the config it was built with)
comes from the recipe and is cached. The answer must pass `rg_guard.answer_allowed`; then a
forked child installs `rg_guard.guard`, calls rg's `score_answer` and reports one number over a
private pipe, under its own CPU limit and the server's wall-clock limit, stdio closed.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import sys

from ponder.tasks import rg_core, rg_guard


def _child(ds, entry: dict, req: dict, w: int) -> None:
    import resource

    os.setpgid(0, 0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    cpu = int(math.ceil(req["timeout"])) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    rg_core.reset_process_state(f"ponder/rg/score/{req['dataset']}")  # e.g. decimal precision
    rg_guard.guard(req["dataset"])
    os.write(w, repr(float(ds.score_answer(req["answer"], entry))).encode())


def _reap(pid: int) -> None:
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


def score(req: dict) -> dict:
    if not rg_guard.answer_allowed(req["dataset"], req["answer"]):
        return {"score": 0.0, "error": "answer refused: not a plain expression"}
    try:
        ds = rg_core.dataset(req["recipe"])
        entry = rg_core.uncarry(req["carried"], req["question"], req["gold"])
        if entry is None:
            entry = rg_core.item(req["recipe"], req["item"])
    except Exception as e:  # noqa: BLE001
        return {"score": 0.0, "error": f"entry: {type(e).__name__}: {e}"}
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the only place model text is handed to rg
        try:
            os.close(r)
            _child(ds, entry, req, w)
        finally:
            os._exit(0)
    os.close(w)
    ready, _, _ = select.select([r], [], [], req["timeout"])
    data = os.read(r, 64) if ready else b""
    os.close(r)
    _reap(pid)
    try:
        return {"score": float(data)}
    except ValueError:
        return {"score": 0.0, "error": "timed out" if not ready else "no score"}


def serve() -> None:
    import ctypes

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE=0: children cannot ptrace/read us
    import reasoning_gym  # noqa: F401 - import once, before forking children

    out = sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    for line in sys.stdin.buffer:
        out.write((json.dumps(score(json.loads(line))) + "\n").encode())
        out.flush()
