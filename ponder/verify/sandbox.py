"""Run untrusted Python (model-written code, answers that get `eval`ed) in a confined subprocess.

    from ponder.verify.sandbox import run_python
    r = run_python("print(sum(range(10)))", timeout_s=2)
    r.ok, r.stdout          # True, '45\\n'

The program runs under `python -I -S` (isolated: no environment, no user site, no site-packages
unless `site=True`) launched through `ponder/verify/_boot.py`, which as root:
- puts it in new mount/network/PID/IPC namespaces: no network, a private tmpfs on every
  world-writable directory and as its working directory, and all its processes killed together
  when the program ends or is killed;
- runs it as a uid of its own (unique per run), so it cannot write the host's files and
  RLIMIT_NPROC (which root ignores) caps its process count: a fork bomb stalls, then dies;
- limits CPU time (RLIMIT_CPU), address space (RLIMIT_AS), file size (RLIMIT_FSIZE), open files
  and processes.
The caller enforces the wall-clock limit: it SIGKILLs the launcher's process group, and the
launcher's death kills the namespace. Output is captured in anonymous files (never pipes, so a
chatty program cannot block or bloat the caller) and read back up to `output_limit` bytes.

Where the caller is not root or the kernel refuses namespaces, only the rlimits apply: see
docs/verify.md ("threat model"). `isolation()` says which mode this machine gets.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ponder

BOOT = Path(__file__).with_name("_boot.py")
# Per-run uids live far above real accounts; (pid, counter) makes them unique among live runs.
UID_BASE = 1_000_000_000
_counter = itertools.count()


@dataclass(frozen=True)
class SandboxResult:
    returncode: int  # negative: killed by that signal (e.g. -9 on timeout, -24 SIGXCPU)
    stdout: str
    stderr: str
    timed_out: bool  # the wall-clock limit was hit
    wall_s: float = 0.0
    uid: int | None = None  # the run's own uid (root callers), for audits

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _run_uid() -> int:
    return UID_BASE + ((os.getpid() % (1 << 22)) << 8) + next(_counter) % 256


def _expose_paths() -> list[str]:
    """Directories the child must be able to read: the interpreter, its libraries and ponder's
    own package (an editable install imports it from the checkout, which may live under /tmp)."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    paths.add(os.path.dirname(os.path.realpath(ponder.__file__)))
    return sorted(paths)


def _live_pids(uid: int) -> list[int]:
    """PIDs of processes running as `uid` that have not exited yet (zombies excluded)."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                with open(f"/proc/{entry.name}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                        out.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return out


def _kill_uid(uid: int, wait_s: float = 3.0) -> None:
    """SIGKILL every process still running as `uid` and wait until they are gone.

    With namespaces the kernel is already tearing them down; this waits for that (a fork bomb
    takes a moment) and is the cleanup itself where namespaces are unavailable.
    """
    deadline = time.monotonic() + wait_s
    while pids := _live_pids(uid):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)


def _read(f, limit: int) -> str:
    f.seek(0)
    data = f.read(limit + 1)
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > limit else "")


def run_python(
    source: str,
    *,
    stdin: str = "",
    timeout_s: float = 5.0,
    memory_mb: int = 512,
    max_procs: int = 16,
    file_mb: int = 16,
    max_files: int = 64,
    output_limit: int = 1 << 20,
    site: bool = False,
    env: dict[str, str] | None = None,
    isolate: bool = True,
) -> SandboxResult:
    """Run `source` as a Python program in the sandbox; never raises for anything the program does.

    timeout_s: wall clock (CPU time is capped at ceil(timeout_s) + 1 s as a backstop).
    memory_mb: address-space limit; 512 MB runs plain Python, importing numpy-heavy packages
      (site=True) needs ~1-2 GB.
    max_procs: processes + threads of this run. site: allow site-packages (e.g. reasoning_gym).
    """
    workdir, uid, cmd, env0 = _prepare(source, timeout_s, memory_mb, max_procs, file_mb, max_files, site, env, isolate)
    try:
        with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
            fin.write(stdin.encode("utf-8"))
            fin.seek(0)
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=ferr, cwd=workdir, env=env0,
                                    start_new_session=True, close_fds=True)  # own group, killed whole
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _killpg(proc)
            wall = time.monotonic() - t0
            if uid is not None:
                _kill_uid(uid)  # stragglers that escaped the group when namespaces were unavailable
            return SandboxResult(
                returncode=proc.returncode,
                stdout=_read(fout, output_limit),
                stderr=_read(ferr, output_limit),
                timed_out=timed_out,
                wall_s=wall,
                uid=uid,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _killpg(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _prepare(source, timeout_s, memory_mb, max_procs, file_mb, max_files, site, env, isolate, hash_seed=None):
    """Working directory with main.py, the run's uid, and the launcher command + environment.

    hash_seed: run with PYTHONHASHSEED fixed. `-I` would ignore it (its `-E` drops every PYTHON*
    variable), so the program then runs `-s -P` instead, which is the same isolation here: the
    environment is this function's own, built from nothing, so `-E` has nothing else to drop.
    """
    workdir = tempfile.mkdtemp(prefix="ponder-sbx-")
    uid = _run_uid() if os.geteuid() == 0 else None
    with open(os.path.join(workdir, "main.py"), "w", encoding="utf-8") as f:
        f.write(source)
    child_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    child_env.update(env or {})
    flags = ["-I", "-B"] + ([] if site else ["-S"])
    if hash_seed is not None:
        child_env["PYTHONHASHSEED"] = str(int(hash_seed))
        flags = ["-s", "-P"] + flags[1:]
    cfg = {
        "python": sys.executable,
        "argv": [sys.executable, *flags, "main.py"],
        "env": child_env,
        "script": "main.py",
        "uid": uid,
        "parent": os.getpid(),
        "isolate": isolate,
        "require_isolation": False,
        "expose": _expose_paths(),
        "cpu_s": int(math.ceil(timeout_s)) + 1,
        "memory_mb": int(memory_mb),
        "file_mb": int(file_mb),
        "max_files": int(max_files),
        "max_procs": int(max_procs),
    }
    cmd = [sys.executable, "-I", "-S", "-B", str(BOOT), json.dumps(cfg)]
    return workdir, uid, cmd, {"PATH": child_env["PATH"], "LANG": "C.UTF-8"}


class SandboxProcess:
    """A long-lived sandboxed program talking over stdin/stdout (e.g. a scorer server).

    Same confinement as `run_python`; `cpu_s` caps the process's total CPU time; `hash_seed`
    fixes PYTHONHASHSEED (e.g. for a program that regenerates hash-dependent data). The caller
    enforces wall-clock limits per request and calls `close()` (or kills it) when done.
    """

    def __init__(self, source: str, *, cpu_s: float = 3600, memory_mb: int = 2048, max_procs: int = 16,
                 file_mb: int = 16, max_files: int = 64, site: bool = False, env: dict | None = None,
                 hash_seed: int | None = None):
        self.workdir, self.uid, cmd, env0 = _prepare(source, cpu_s, memory_mb, max_procs, file_mb, max_files, site, env,
                                                     True, hash_seed)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     cwd=self.workdir, env=env0, start_new_session=True, close_fds=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self, n: int = 2000) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-n:]

    def close(self) -> None:
        if self.proc.poll() is None:
            _killpg(self.proc)
        if self.uid is not None:
            _kill_uid(self.uid)
        for f in (self.proc.stdin, self.proc.stdout, self.stderr):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


@lru_cache(maxsize=1)
def isolation() -> str:
    """'namespaces' (full isolation), 'uid+rlimits' or 'rlimits' (see docs/verify.md)."""
    if os.geteuid() != 0:
        return "rlimits"
    r = run_python(
        "import socket, os\n"
        "s = socket.socket()\n"
        "try:\n    s.connect(('1.1.1.1', 53)); print('net')\nexcept OSError:\n    print('nonet')\n"
        "print(os.getpid())",
        timeout_s=10,
    )
    lines = r.stdout.split()
    return "namespaces" if r.ok and lines[:2] == ["nonet", "1"] else "uid+rlimits"
