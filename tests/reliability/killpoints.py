"""Kill -9 a real `ponder STAGE` subprocess at seeded moments, check the run directory after each
kill, resume, and hand back what the finished run wrote.

The schedule is a list of fractions of the uninterrupted run's wall time (drawn from
`random.Random(seed)`), so the kills land in start-up, mid-work and mid-write alike; a kill that
comes after the process already finished is counted as "finished first", not as a kill.
After every kill each file of the run directory must load with the reader its suffix implies
(`readable`): Parquet, JSON, JSONL (a torn final line is allowed: `read_jsonl` skips it),
YAML, safetensors, PNG. Temporary files of an interrupted atomic write (`.NAME.*.tmp`) are
skipped: they are never read.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def ponder(*args: str) -> list[str]:
    return [sys.executable, "-m", "ponder", *args]


def run_ok(cmd: list[str], timeout: float = 300) -> float:
    """Run `cmd` to the end (exit 0 or the test fails); its wall time in seconds."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env(), cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    assert r.returncode == 0, f"{' '.join(cmd[2:])}: exit {r.returncode}\n{r.stderr[-3000:]}"
    return time.perf_counter() - t0


def schedule(seed: int, n: int, lo: float = 0.15, hi: float = 0.95) -> list[float]:
    """n kill moments as fractions of the uninterrupted wall time, sorted, from `seed`."""
    rng = random.Random(seed)
    return sorted(round(rng.uniform(lo, hi), 3) for _ in range(n))


def _is_temp(p: Path) -> bool:
    return p.name.startswith(".") and (p.name.endswith(".tmp") or ".tmp" in p.name or p.name.endswith(".old"))


def readable(run_dir: Path) -> list[str]:
    """Files in `run_dir` that do not load (empty list: all fine)."""
    import pyarrow.parquet as pq
    import yaml

    from ponder.runs import read_jsonl

    bad = []
    for p in sorted(run_dir.rglob("*")):
        if not p.is_file() or any(_is_temp(q) for q in [p, *p.relative_to(run_dir).parents] if q.name):
            continue
        try:
            if p.suffix == ".parquet":
                pq.read_table(p)
            elif p.suffix == ".jsonl":
                read_jsonl(p)
            elif p.suffix == ".json":
                json.loads(p.read_text())
            elif p.suffix in (".yaml", ".yml"):
                yaml.safe_load(p.read_text())
            elif p.suffix == ".safetensors":
                from safetensors.torch import load_file

                load_file(p)
            elif p.suffix == ".png":
                data = p.read_bytes()
                if not (data.startswith(b"\x89PNG") and data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82")):
                    raise ValueError("truncated PNG")
            elif p.suffix == ".pt":
                import torch

                torch.load(p, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001 - any failure to load is what we count
            bad.append(f"{p.relative_to(run_dir)}: {type(e).__name__}: {str(e)[:120]}")
    return bad


@dataclass
class KillLog:
    """What happened at each scheduled moment."""
    fractions: list[float]
    killed: int = 0            # processes actually killed by SIGKILL
    finished_first: int = 0    # the process ended before its moment came
    unreadable: list[str] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)  # "fresh" or "resume" per launch


def _alive_in_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def kill_and_resume(fresh: list[str], resume: list[str], out: Path, fractions: list[float],
                    ref_seconds: float, deadline_s: float = 600, settle=None) -> KillLog:
    """Launch the stage, SIGKILL its whole process group at each moment, check the directory,
    relaunch (with `resume` once config.yaml exists, else `fresh`), then run it to the end.
    `settle(out)`, if given, runs after each kill (e.g. to wait for processes outside the group)."""
    log = KillLog(fractions)
    start = time.time()
    for f in fractions:
        cmd = resume if (out / "config.yaml").exists() else fresh
        log.restarts.append("resume" if cmd is resume else "fresh")
        errfile = out.parent / f".{out.name}.stderr"  # a file, not a pipe: a chatty stage never blocks on it
        with open(errfile, "wb") as errfh:
            proc = subprocess.Popen(cmd, env=env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=errfh,
                                    start_new_session=True)
        t_kill = time.perf_counter() + f * ref_seconds
        while proc.poll() is None and time.perf_counter() < t_kill:
            time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            log.killed += 1
        proc.wait()
        err = errfile.read_text(errors="replace")
        if proc.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"{' '.join(cmd[2:])} exited {proc.returncode} after a kill:\n{err[-3000:]}")
        if proc.returncode == 0:
            log.finished_first += 1
        t_gone = time.time() + 30
        while _alive_in_group(proc.pid) and time.time() < t_gone:
            time.sleep(0.05)
        if settle is not None:
            settle(out)
        log.unreadable += [f"@{f}: {b}" for b in readable(out)] if out.exists() else []
        assert time.time() - start < deadline_s, "kill schedule ran past its deadline"
    cmd = resume if (out / "config.yaml").exists() else fresh
    log.restarts.append("resume" if cmd is resume else "fresh")
    run_ok(cmd)
    log.unreadable += [f"@end: {b}" for b in readable(out)]
    return log


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def record(stage: str, log: KillLog, equal: bool, detail: str = "") -> None:
    """Append the measured counts to $PONDER_RELIABILITY_LOG (JSONL) when set, for the docs table."""
    path = os.environ.get("PONDER_RELIABILITY_LOG")
    if not path:
        return
    row = {"fault": f"kill -9 {stage}", "scheduled": len(log.fractions), "killed": log.killed,
           "finished_first": log.finished_first, "unreadable": len(log.unreadable), "equal": equal,
           "launches": log.restarts, "detail": detail, "loadavg": loadavg()}
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def processes_mentioning(path: Path) -> list[int]:
    """Pids whose command line names `path` (Linux /proc)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(path).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def wait_for_no_process_mentioning(path: Path, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while processes_mentioning(path) and time.time() < deadline:
        time.sleep(0.2)
    assert not processes_mentioning(path), f"processes on {path} outlived their killed driver by {timeout_s} s"
