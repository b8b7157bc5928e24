"""A stage writing into a small tmpfs: one-line error, exit 2, the run directory readable, and
`--resume` finishes it once space is freed (with the same result as an uninterrupted run)."""

from __future__ import annotations

import os
import subprocess

import pytest
from killpoints import REPO, env, ponder, readable, run_ok
from test_kill9 import _drop_timing, _table, _weights_equal

from ponder.runs import append_jsonl, read_jsonl

pytestmark = pytest.mark.reliability


@pytest.fixture
def small_disk(tmp_path):
    """A directory on a tmpfs of the given size; `grow(size)` frees space by remounting larger."""
    mnt = tmp_path / "disk"
    mnt.mkdir()

    def mount(size: str):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                           text=True, check=False)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'not permitted'}); the disk-full tests need root")
        return mnt

    def grow(size: str):
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mnt)], check=True)

    mount.grow = grow
    yield mount
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def _fails_with_one_line(cmd) -> str:
    r = subprocess.run(cmd, env=env(), cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    errors = [x for x in r.stderr.splitlines() if x.startswith("ponder: error:")]
    assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr, (r.returncode, r.stderr[-2000:])
    assert "no space left on device" in errors[0]
    return errors[0]


def test_sft_on_a_full_disk_stops_with_one_line_and_resumes_bit_identical(small_disk, tmp_path):
    from ponder.policy.tiny import init_tiny

    tiny = str(init_tiny(tmp_path / "tiny"))
    args = ["--model", tiny, "--steps", "30", "--batch-size", "8", "--checkpoint-every", "10", "--log-every", "10",
            "--threads", "1", "--device", "cpu"]
    run_ok(ponder("sft", *args, "--out", str(tmp_path / "a")))
    out = small_disk("2m") / "run"  # config and metrics fit; the first 3.5 MB checkpoint does not
    _fails_with_one_line(ponder("sft", *args, "--out", str(out)))
    assert not readable(out) and (out / "config.yaml").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")], "a failed atomic write left its temp file"
    small_disk.grow("64m")
    run_ok(ponder("sft", "--resume", "--out", str(out)))
    assert _weights_equal(tmp_path / "a" / "model", out / "model")
    assert _drop_timing(read_jsonl(tmp_path / "a" / "metrics.jsonl")) == _drop_timing(read_jsonl(out / "metrics.jsonl"))


def test_eval_on_a_full_disk_stops_with_one_line_and_resumes_same_samples(small_disk, tmp_path):
    from ponder.policy.tiny import init_tiny

    tiny = str(init_tiny(tmp_path / "tiny"))
    args = ["--model", tiny, "--tasks", "arith", "--levels", "1-2", "--per-level", "4", "-n", "2",
            "--max-new-tokens", "16", "--batch-problems", "1", "--verify-workers", "1", "--no-orchestrate"]
    run_ok(ponder("eval", *args, "--out", str(tmp_path / "a")))
    out = small_disk("48k") / "run"  # a few batches fit, then the parts and the report do not
    _fails_with_one_line(ponder("eval", *args, "--out", str(out)))
    assert not readable(out) and (out / "config.yaml").exists()
    small_disk.grow("64m")
    run_ok(ponder("eval", "--resume", "--out", str(out)))
    keys = ["problem_id", "sample"]
    assert _table(tmp_path / "a" / "samples.parquet", keys) == _table(out / "samples.parquet", keys)


def test_a_short_append_is_rolled_back_so_later_rows_stay_readable(tmp_path, monkeypatch):
    """Before: a full disk could take half a JSONL line; the next append after --resume buried
    the torn line mid-file and read_jsonl raised on it."""
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"step": 1})
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))
    with pytest.raises(OSError):
        append_jsonl(path, {"step": 2, "loss": 0.5})
    monkeypatch.setattr(os, "write", real_write)
    append_jsonl(path, {"step": 2, "loss": 0.5})
    assert read_jsonl(path) == [{"step": 1}, {"step": 2, "loss": 0.5}]
