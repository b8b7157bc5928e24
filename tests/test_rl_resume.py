"""kill -9 a real training subprocess, resume it, and compare metrics.jsonl step for step with an
uninterrupted run of the same seed (CPU, one thread, so every float is reproducible)."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TIMING = {"step_time_s", "gen_time_s", "tokens_per_s", "gen_tokens_per_s"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ponder.policy.tiny import init_tiny

    return str(init_tiny(tmp_path_factory.mktemp("resume") / "tiny"))


def _cmd(model, out, steps, resume=False):
    if resume:
        return [sys.executable, "-m", "ponder", "train", "--resume", "--out", str(out), "--quiet"]
    return [sys.executable, "-m", "ponder", "train", "--model", model, "--out", str(out), "--task", "arith",
            "--levels", "1-2", "--steps", str(steps), "--prompts-per-step", "2", "--group-size", "4",
            "--max-new-tokens", "12", "--reward", "correct:1,overlong:1", "--overlong-cache", "12",
            "--lr", "1e-3", "--epochs", "2", "--save-every", "1", "--threads", "1", "--seed", "3", "--quiet"]


def _metrics(out):
    rows = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def _rows(out):
    path = Path(out) / "metrics.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


def _kill_after(cmd, out, rows, delay):
    """Start `cmd`, wait until metrics.jsonl has `rows` lines, sleep `delay`, SIGKILL."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while _rows(out) < rows and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.returncode


def _run(cmd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


def test_kill9_resume_matches_uninterrupted(tiny, tmp_path):
    steps = 4
    _run(_cmd(tiny, tmp_path / "a", steps))
    b = tmp_path / "b"
    rc = _kill_after(_cmd(tiny, b, steps), b, rows=2, delay=random.Random(0).uniform(0.0, 0.3))
    assert rc == -signal.SIGKILL
    _run(_cmd(tiny, b, steps, resume=True))
    a_rows, b_rows = _metrics(tmp_path / "a"), _metrics(b)
    assert [r["step"] for r in b_rows] == list(range(1, steps + 1))
    assert a_rows == b_rows
    # the rollouts written per step match too (the killed run's extra steps were rewound)
    import pandas as pd

    ra, rb = pd.read_parquet(tmp_path / "a" / "rollouts"), pd.read_parquet(b / "rollouts")
    assert sorted(ra["step"].unique()) == list(range(1, steps + 1))
    pd.testing.assert_frame_equal(ra.sort_values(["step", "group"], kind="stable").reset_index(drop=True),
                                  rb.sort_values(["step", "group"], kind="stable").reset_index(drop=True))
    # both final models are identical too
    from safetensors.torch import load_file

    wa, wb = load_file(tmp_path / "a" / "model" / "model.safetensors"), load_file(b / "model" / "model.safetensors")
    assert all((wa[k] == wb[k]).all() for k in wa)


@pytest.mark.slow
def test_kill9_at_many_moments(tiny, tmp_path):
    """Kill repeatedly at random moments (mid-rollout, mid-update, mid-checkpoint), resume each time."""
    steps = 6
    _run(_cmd(tiny, tmp_path / "a", steps))
    b = tmp_path / "b"
    rng = random.Random(1)
    first = True
    for rows in (1, 2, 3, 4, 5):
        cmd = _cmd(tiny, b, steps, resume=not first)
        if _kill_after(cmd, b, rows=rows, delay=rng.uniform(0.0, 1.0)) == 0:
            break
        first = not (b / "config.yaml").exists()
    if _rows(b) < steps or not (b / "model").exists():
        _run(_cmd(tiny, b, steps, resume=True))
    assert _metrics(tmp_path / "a") == _metrics(b)
