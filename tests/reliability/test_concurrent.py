"""Two ponder processes on one run directory: the second fails fast with one line, nothing is
corrupted, and the lock of a killed process is no obstacle to --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from killpoints import REPO, env, ponder, readable

from ponder.errors import PonderError
from ponder.runs import LOCK_NAME, RunDir, lock_run, release_run

pytestmark = pytest.mark.reliability


def _sft(model, out, *extra):
    return ponder("sft", "--model", str(model), "--out", str(out), "--steps", "400", "--batch-size", "8",
                  "--checkpoint-every", "20", "--log-every", "20", "--threads", "1", "--device", "cpu", *extra)


def _wait_for(path, proc, timeout=120, check=False):
    deadline = time.time() + timeout
    while not path.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path} never appeared"


def _one_line_error(r) -> str:
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("ponder: error:"), (r.returncode, r.stderr)
    return lines[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ponder.policy.tiny import init_tiny

    return init_tiny(tmp_path_factory.mktemp("lock") / "tiny")


def test_second_process_fails_fast_and_a_killed_holder_leaves_no_stale_lock(tiny, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(_sft(tiny, out), env=env(), cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(out / "checkpoints" / "last" / "trainer_state.pt", first)
        for second in (ponder("sft", "--resume", "--out", str(out)), ponder("eval", "--resume", "--out", str(out))):
            t0 = time.perf_counter()
            r = subprocess.run(second, env=env(), cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
            line = _one_line_error(r)
            assert time.perf_counter() - t0 < 60
            if second[3] == "sft":  # the lock, naming the holder
                assert "in use by another ponder process" in line and f"pid {first.pid}" in line, line
        assert first.poll() is None, "the first run was disturbed"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert (out / LOCK_NAME).exists() and not readable(out)
    # the lock file stays behind, but the kernel dropped the lock with its holder: resume goes on
    r = subprocess.run(ponder("sft", "--resume", "--out", str(out), "--steps", "60"), env=env(), cwd=REPO,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "model" / "model.safetensors").exists() and not readable(out)


def test_two_fresh_runs_racing_for_one_out(tiny, tmp_path):
    out = tmp_path / "run"
    procs = [subprocess.Popen(_sft(tiny, out, "--steps", "30"), env=env(), cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for p in procs:
        _, err = p.communicate(timeout=300)
        results.append((p.returncode, err))
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    loser = next(err for rc, err in results if rc == 2)
    assert len([x for x in loser.splitlines() if x.strip()]) == 1 and "ponder: error:" in loser
    assert not readable(out) and (out / "model" / "model.safetensors").exists()


def test_lock_is_reentrant_in_one_process_and_refused_from_another(tmp_path):
    run = RunDir.open("eval", tmp_path / "r", {"a": 1})
    try:
        lock_run(run.path)  # the same process: fine
        code = ("import sys; from ponder.runs import RunDir; from ponder.errors import PonderError\n"
                f"try: RunDir.open('eval', {str(run.path)!r}, resume=True)\n"
                "except PonderError as e: print(e); sys.exit(2)")
        r = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 2 and f"pid {os.getpid()}" in r.stdout, (r.stdout, r.stderr)
    finally:
        release_run(run.path)
    r = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_lock_and_temp_files_alone_do_not_make_a_run(tmp_path):
    """A run killed while writing its config leaves only the lock and a temp file: a fresh start
    may use the directory (before, `check_out` called it non-empty and --resume called it no run)."""
    out = tmp_path / "r"
    out.mkdir()
    (out / LOCK_NAME).write_text("12345")
    (out / ".config.yaml.abc123.tmp").write_text("half")
    run = RunDir.open("eval", out, {"a": 1})
    release_run(run.path)
    assert (out / "config.yaml").exists()
    with pytest.raises(PonderError, match="already exists and is not empty"):
        RunDir.open("eval", out, {"a": 1})


def test_a_resumed_sweep_arm_waits_for_the_old_stage_instead_of_clearing_its_directory(tiny, tmp_path):
    """Before: a stage of the killed sweep still holding the arm's run directory made the resumed
    stage exit 2 ("in use"), which the sweep read as "cannot resume": it deleted the directory and
    started over while the old process could still write there."""
    import yaml

    from ponder.runs import run_holder
    from ponder.sweep.arm import run_stage

    home = tmp_path / "arm"
    home.mkdir()
    run_dir = home / "run"
    (home / "config-in.yaml").write_text(yaml.safe_dump({"model": str(tiny), "steps": 4, "batch_size": 4,
                                                         "threads": 1, "device": "cpu"}))
    subprocess.run(ponder("sft", "--config", str(home / "config-in.yaml"), "--out", str(run_dir)), env=env(),
                   cwd=REPO, capture_output=True, check=True, timeout=300)
    (run_dir / "keep.txt").write_text("written before the kill")
    code = ("import time; from ponder.runs import RunDir; "
            f"RunDir.open('sft', {str(run_dir)!r}, resume=True); print('held', flush=True); time.sleep(4)")
    holder = subprocess.Popen([sys.executable, "-c", code], env=env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held" and run_holder(run_dir) == str(holder.pid)
        rc, error, _ = run_stage({"command": "sft", "home": str(home), "run_dir": str(run_dir)}, cwd=str(REPO),
                                 threads=1, attempt=2)
    finally:
        holder.kill()
        holder.wait()
    assert rc == 0, error
    assert (run_dir / "keep.txt").exists(), "the arm's run directory was cleared instead of resumed"
    assert "--resume" in (home / "stderr.log").read_text() and "removed the interrupted" not in (home / "stderr.log").read_text()
