"""`python`: the call's text runs as a Python program in ponder's sandbox (`ponder.verify.sandbox`:
its own namespaces and uid, no network, a private working directory, CPU / memory / process /
file-size limits); the result is what it printed, cut to a bound.

    python("print(2**100)")   # '1267650600228229401496703205376'

A program that fails returns its last traceback line; one that runs past the time limit returns an
error; neither ever raises into the rollout. The same confinement as the code verifier's, with
tighter limits (a tool call is a step inside a rollout, not a test suite).
"""

from __future__ import annotations

from ponder.tools.registry import Tool, ToolError

TIMEOUT_S = 5.0  # wall clock per call (the sandbox also caps CPU time)
MEMORY_MB = 256
MAX_PROCS = 8
OUTPUT_BYTES = 4096  # read back at most this much of stdout / stderr


def python(source: str, *, timeout_s: float = TIMEOUT_S) -> str:
    from ponder.verify.sandbox import run_python

    r = run_python(source, timeout_s=timeout_s, memory_mb=MEMORY_MB, max_procs=MAX_PROCS, file_mb=1, max_files=32,
                   output_limit=OUTPUT_BYTES)
    if r.timed_out:
        raise TimeoutError(f"python timed out after {timeout_s:g}s")
    if r.returncode != 0:
        last = next((ln for ln in reversed(r.stderr.strip().splitlines()) if ln.strip()), "")
        raise ToolError(last or f"python exited with status {r.returncode}")
    return r.stdout.rstrip("\n")


PYTHON = Tool("python", "runs the input as a Python program in a sandbox (no network, no files outside its "
                        "directory) and returns what it printed", python)
