"""Client of the sandboxed reasoning-gym scoring server (`ponder.tasks.rg_server`).

One long-lived `SandboxProcess` per process, thread-safe, started on first use (or by
`RGTask.prepare`) and restarted if it stops answering. The server's code is shipped as source:
`rg_core`, `rg_guard` and `rg_server` are installed into the sandbox's `sys.modules` from this
checkout's files, so the sandbox (which runs `python -s` and cannot see PYTHONPATH) scores with
exactly the code the caller runs, never with another installed copy of ponder. It runs with
PYTHONHASHSEED=0, as generation does, for the items it regenerates.
"""

from __future__ import annotations

import json
import math
import os
import select
import threading
from pathlib import Path

from ponder.perprocess import PerProcess

SHIPPED = ("rg_core", "rg_guard", "rg_server")  # standard library + reasoning_gym only
ITEM_TIMEOUT_S = 5.0  # wall clock per scored item inside the sandbox server
SERVER_MEMORY_MB = 3072  # reasoning_gym imports numpy, sympy, ...
START_TIMEOUT_S = 300.0


def server_source() -> str:
    """A program that installs the shipped modules under their own names, then serves."""
    here = Path(__file__).parent
    modules = {f"ponder.tasks.{m}": (here / f"{m}.py").read_text() for m in SHIPPED}
    return (
        "import sys, types\n"
        "for pkg in ('ponder', 'ponder.tasks'):\n"
        "    sys.modules[pkg] = types.ModuleType(pkg)\n"
        "    sys.modules[pkg].__path__ = []\n"
        f"for name, src in {modules!r}.items():\n"
        "    mod = types.ModuleType(name)\n"
        "    sys.modules[name] = mod\n"
        "    setattr(sys.modules[name.rsplit('.', 1)[0]], name.rsplit('.', 1)[1], mod)\n"
        "    exec(compile(src, name.replace('.', '/') + '.py', 'exec'), mod.__dict__)\n"
        "from ponder.tasks.rg_server import serve\n"
        "serve()\n"
    )


class Scorer:
    """Client of one sandboxed scoring server (per process, thread-safe, restarted on failure)."""

    def __init__(self):
        self.proc = None
        self.lock = threading.Lock()
        self.buf = b""
        self.restarts = 0
        self.last_error = ""  # the server's reason for the last 0 it gave without scoring

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
        self.proc = SandboxProcess(server_source(), site=True, memory_mb=SERVER_MEMORY_MB, max_procs=64, hash_seed=0)
        self.buf = b""
        if self._readline(START_TIMEOUT_S) != b"ready":
            err = self.proc.stderr_tail()
            self._kill()
            raise RuntimeError(f"reasoning-gym scoring sandbox did not start: {err}")

    def start_over(self) -> None:
        """Stop the server (a new one starts on the next request)."""
        with self.lock:
            self._kill()

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

    def score(self, request: dict, timeout_s: float = ITEM_TIMEOUT_S) -> float:
        """rg's score for one request (see rg_server); 0.0 for anything that goes wrong."""
        with self.lock:
            self._ensure()
            try:
                self.proc.proc.stdin.write((json.dumps({**request, "timeout": timeout_s}) + "\n").encode())
                self.proc.proc.stdin.flush()
            except OSError:
                self._kill()
                return 0.0
            line = self._readline(timeout_s + 30.0)  # + building a dataset object the server lacks
            if line is None:  # the server stopped answering: start afresh next time
                self._kill()
                return 0.0
        try:
            reply = json.loads(line)
            s = float(reply["score"])
        except (ValueError, KeyError, TypeError):
            return 0.0
        self.last_error = reply.get("error", "")
        return min(1.0, max(0.0, s)) if math.isfinite(s) else 0.0


_scorer = PerProcess(Scorer)  # one per process; a forked child builds its own (never the parent's pipes)


def scorer() -> Scorer:
    return _scorer.get()
