"""One run of a sweep (an arm x seed): its stages as `python -m ponder` subprocesses, its status.json.

This is the function a Ray task executes. It imports nothing heavy and loads no model: each stage
is `python -m ponder COMMAND --config HOME/config-in.yaml --out HOME/run`, so runs talk to each
other and to the driver only through their directories, and a stage's options can change without
the sweep knowing. A run's status.json (written atomically) says where it stands:

    {"state": "pending" | "running" | "done" | "failed", "error": <last stderr line> | null,
     "wall_s": <seconds spent on the run, all attempts>, "attempts": n, "host": ..., "stages": {...}}

A stage interrupted earlier (its run directory holds config.yaml) continues with `--resume` when
its command takes one and accepts it, else restarts from an empty run directory; while a process
of the interrupted session still holds the directory's run lock, it waits for it first. Stages
already done are skipped.
The stage dies with the process that started it (Linux: PR_SET_PDEATHSIG, on top of Ray's own
clean-up of a dead worker's children), so killing the sweep driver, its Ray instance or a worker
leaves no orphan training behind to race a resumed sweep.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ponder.runs import run_holder, write_json

STATES = ("pending", "running", "done", "failed")
BUSY_WAIT_S = 300.0  # how long a resumed run waits for a killed session's stage to release its directory


def read_status(path: str | os.PathLike) -> dict:
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def write_status(path: str | os.PathLike, status: dict) -> None:
    write_json(path, status)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


@functools.lru_cache(maxsize=None)
def takes_resume(command: str) -> bool:
    """Whether `ponder COMMAND` has --resume (asked of the command itself, so it stays true)."""
    out = subprocess.run([sys.executable, "-m", "ponder", command, "--help"], capture_output=True, text=True)
    return "--resume" in out.stdout


def last_line(text: str) -> str:
    """The last non-empty line (progress bars end their updates with \\r, not \\n)."""
    lines = [s.strip() for s in re.split(r"[\r\n]+", text) if s.strip()]
    return lines[-1] if lines else ""


def error_line(returncode: int, stderr_tail: str) -> str:
    line = last_line(stderr_tail)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}" + (f"; last stderr line: {line}" if line else "")
    return line or f"exit status {returncode}"


def _launch(args: list[str], home: Path, *, cwd: str, threads: int, header: str) -> tuple[int, str]:
    """Run `args` to its end, appending to HOME/stdout.log and stderr.log; (returncode, error line)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    with open(home / "stdout.log", "ab") as out, open(home / "stderr.log", "ab") as err:
        for f in (out, err):
            f.write(header.encode())
            f.flush()
        start = err.tell()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        rc = proc.wait()
    if rc == 0:
        return 0, ""
    with open(home / "stderr.log", "rb") as f:
        f.seek(max(start, f.seek(0, os.SEEK_END) - 64_000))
        tail = f.read().decode("utf-8", errors="replace")
    return rc, error_line(rc, tail)


def run_stage(stage: dict, *, cwd: str, threads: int, attempt: int) -> tuple[int, str, float]:
    """Run one stage to its end; (returncode, error line or '', seconds).

    A run directory left by an interrupted attempt is continued with --resume when it holds the
    stage's config.yaml and the command takes --resume. If the stage refuses to resume (exit 2:
    bad input, nothing written -- e.g. killed before its first checkpoint), or cannot, the
    directory is cleared and the stage starts over.
    """
    home, run_dir = Path(stage["home"]), Path(stage["run_dir"])
    args = [sys.executable, "-m", "ponder", stage["command"], "--config", str(home / "config-in.yaml"),
            "--out", str(run_dir)]
    stamp = f"sweep attempt {attempt} on {socket.gethostname()} at {time.strftime('%Y-%m-%d %H:%M:%S')}"
    t0 = time.perf_counter()
    note = ""
    if run_dir.exists() and any(run_dir.iterdir()):
        # a stage of the killed session may still be dying (with its Ray worker): wait for its run
        # lock to go rather than read its "in use" refusal as "cannot resume" and clear the directory
        deadline = time.monotonic() + BUSY_WAIT_S
        while run_holder(run_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        if (run_dir / "config.yaml").exists() and takes_resume(stage["command"]):
            rc, error = _launch(args + ["--resume"], home, cwd=cwd, threads=threads,
                                header=f"--- {stamp}: {' '.join(args[1:])} --resume\n")
            if rc != 2:
                return rc, error, time.perf_counter() - t0
            note = f"(--resume refused: {error}) "
        shutil.rmtree(run_dir)
        note = f"--- removed the interrupted {run_dir.name}/ {note}and starting over\n"
    rc, error = _launch(args, home, cwd=cwd, threads=threads, header=f"{note}--- {stamp}: {' '.join(args[1:])}\n")
    return rc, error, time.perf_counter() - t0


def run_arm(task: dict) -> dict:
    """Run one arm x seed. `task`: {"root", "pipeline", "stages": [{"name", "command", "home",
    "run_dir"}], "cwd", "threads"}. Never raises: whatever goes wrong is the run's error line."""
    path = Path(task["root"]) / "status.json"
    status = read_status(path)
    status.update(state="running", error=None, attempts=int(status.get("attempts", 0)) + 1,
                  host=socket.gethostname(), started=time.time(), finished=None)
    stages = status.setdefault("stages", {})
    write_status(path, status)
    try:
        for stage in task["stages"]:
            s = stages.setdefault(stage["name"], {"state": "pending", "wall_s": 0.0})
            if s["state"] == "done":
                continue
            s.update(state="running", error=None)
            write_status(path, status)
            rc, error, seconds = run_stage(stage, cwd=task["cwd"], threads=task["threads"], attempt=status["attempts"])
            s["wall_s"] = s.get("wall_s", 0.0) + seconds
            s["returncode"] = rc
            if rc != 0:
                s.update(state="failed", error=error)
                status.update(state="failed", error=f"{stage['name']}: {error}" if task["pipeline"] else error)
                break
            s["state"] = "done"
            write_status(path, status)
        else:
            status["state"] = "done"
    except Exception as e:  # noqa: BLE001 -- a broken node (no such cwd, disk full) fails this run only
        status.update(state="failed", error=f"{type(e).__name__}: {e}")
    status["wall_s"] = sum(s.get("wall_s", 0.0) for s in stages.values())
    status["finished"] = time.time()
    write_status(path, status)
    return status
