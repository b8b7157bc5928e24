"""Generate reasoning-gym items in a helper process: a fixed hash seed and a time budget.

    python -m ponder.tasks.rg_gen RESULT_FD     (started by `Generator`, never by hand)

Why a process of its own:
- reproducibility: some rg generators iterate over sets of strings, so their items depend on
  PYTHONHASHSEED (polynomial_multiplication's problems, isomorphic_strings' and ransom_note's
  prompts). The helper runs with PYTHONHASHSEED=0 whatever the caller's seed, so an item is
  the same in every process, as the scoring sandbox (also hash seed 0) regenerates it.
- a budget: a generator that runs too long (some levels of jugs, zebra_puzzles, sokoban) is
  killed after `budget_s` and sampling fails with one line naming the dataset, level and item,
  instead of hanging a training run; the helper restarts on the next request.
- rg's generators print (codeio reports failing snippets on stdout): the helper's stdout and
  stderr go to a file, its replies to a pipe of their own.

Generation is trusted code (rg's, no model text), so the helper is not sandboxed.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time

from ponder.errors import PonderError
from ponder.perprocess import PerProcess

START_TIMEOUT_S = 300.0  # importing reasoning_gym on a loaded machine


class GenerationTimeout(PonderError):
    pass


class GenerationError(PonderError):
    """rg's generator raised for this item (e.g. tsumego cannot always build a capture problem)."""


class Generator:
    """Client of one generator helper process (per process, thread-safe, restarted on failure)."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.out = None  # replies
        self.log = None  # the helper's stdout/stderr
        self.buf = b""
        self.lock = threading.Lock()

    def _start(self) -> None:
        r, w = os.pipe()
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen([sys.executable, "-m", "ponder.tasks.rg_gen", str(w)], pass_fds=(w,), env=env,
                                     stdin=subprocess.PIPE, stdout=self.log, stderr=self.log, start_new_session=True)
        os.close(w)
        self.out, self.buf = r, b""
        if self._readline(START_TIMEOUT_S) != b"ready":
            tail = self._log_tail()
            self.close()
            raise PonderError(f"reasoning-gym generator did not start: {tail}")

    def _log_tail(self, n: int = 600) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-n:].strip()

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.log):
                f.close()
            os.close(self.out)
        self.proc = None

    def _readline(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            ready, _, _ = select.select([self.out], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(self.out, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def item(self, recipe: dict, j: int, budget_s: float) -> dict:
        """{"question", "answer" (a string, None without one), "carried", "gold_ok"} of item j.

        Raises GenerationTimeout past `budget_s` (dataset construction included) and
        PonderError when rg's generator fails.
        """
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.close()
                self._start()
            self.proc.stdin.write((json.dumps({"recipe": recipe, "item": j}) + "\n").encode())
            self.proc.stdin.flush()
            line = self._readline(budget_s)
            if line is None:
                died = self.proc.poll() is not None
                tail = self._log_tail() if died else ""
                self.close()
                if died:
                    raise PonderError(f"reasoning-gym generator died: {tail}")
                raise GenerationTimeout(f"took over {budget_s:g} s")
        reply = json.loads(line)
        if "error" in reply:
            raise GenerationError(reply["error"])
        return reply


_generator = PerProcess(Generator)  # one per process; a forked child builds its own (never the parent's pipes)


def generator() -> Generator:
    return _generator.get()


def gold_ok(recipe: dict, entry: dict) -> bool | None:
    """Whether the reference answer scores 1.0 through the scorer's guard and rg's own scorer
    (None: no reference answer).

    Not always: jugs answers '["No solution"]' for puzzles its solver gave up on, and
    intermediate_integration sometimes answers an unevaluated `Integral(...)`, which the guard
    refuses (rg would accept it for any problem). rg's own text, so this runs here, unsandboxed.
    """
    from ponder.tasks import rg_core, rg_guard

    if entry.get("answer") is None:
        return None
    answer = str(entry["answer"])
    if not rg_guard.answer_allowed(recipe["name"], answer):
        return False
    try:
        return float(rg_core.dataset(recipe).score_answer(answer, entry)) == 1.0
    except Exception:  # noqa: BLE001
        return False


def main() -> None:
    out = int(sys.argv[1])
    from ponder.tasks import rg_core

    import reasoning_gym  # noqa: F401 - import before saying ready

    os.write(out, b"ready\n")
    for line in sys.stdin.buffer:
        req = json.loads(line)
        try:
            entry = rg_core.item(req["recipe"], req["item"])
            answer = entry.get("answer")
            reply = {"question": str(entry["question"]), "answer": None if answer is None else str(answer),
                     "carried": rg_core.carry(entry), "gold_ok": gold_ok(req["recipe"], entry)}
        except Exception as e:  # noqa: BLE001 - a generator that fails for this config
            reply = {"error": f"{type(e).__name__}: {e}".strip()}
        data = (json.dumps(reply) + "\n").encode()
        while data:
            data = data[os.write(out, data):]


if __name__ == "__main__":
    main()
