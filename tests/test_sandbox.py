"""The sandbox against hostile programs: each fails within its limit, leaves nothing behind, and
this (the calling) process carries on. Real subprocesses, no mocks."""

from __future__ import annotations

import os
import tempfile
import time
import uuid

import pytest

from ponder.verify.sandbox import _live_pids, isolation, run_python


def _procs_of(uid: int | None) -> list[int]:
    """Processes of the run's uid that are still alive (zombies awaiting their reaper excluded)."""
    return [] if uid is None else _live_pids(uid)


def test_good_code_runs_and_reads_stdin():
    r = run_python("import sys\nn = int(sys.stdin.read())\nprint(sum(range(n)))", stdin="10")
    assert r.ok and r.stdout == "45\n" and not r.timed_out


def test_error_is_reported_not_raised():
    r = run_python("raise ValueError('boom')")
    assert not r.ok and r.returncode == 1 and "ValueError: boom" in r.stderr


def test_infinite_loop_killed_at_wall_clock_limit():
    t0 = time.monotonic()
    r = run_python("while True:\n    pass", timeout_s=1.0)
    assert r.timed_out and not r.ok
    assert time.monotonic() - t0 < 4.0
    assert _procs_of(r.uid) == []


def test_sleeping_program_killed_at_wall_clock_limit():
    r = run_python("import time\ntime.sleep(60)", timeout_s=0.5)
    assert r.timed_out and r.wall_s < 3.0


def test_fork_bomb_contained_and_cleaned_up():
    src = (
        "import os\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        pass\n"
    )
    t0 = time.monotonic()
    r = run_python(src, timeout_s=2.0)
    assert not r.ok
    assert time.monotonic() - t0 < 8.0
    time.sleep(0.2)
    assert _procs_of(r.uid) == []
    # the machine can still fork: this process is fine and a new run works
    assert run_python("print('alive')").stdout == "alive\n"


def test_daemon_that_escapes_its_session_is_killed():
    src = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(120)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    r = run_python(src, timeout_s=3.0)
    assert r.ok and "parent done" in r.stdout
    time.sleep(0.2)
    assert _procs_of(r.uid) == []


def test_os_system_and_writes_outside_workdir_leave_nothing(tmp_path):
    tag = uuid.uuid4().hex
    targets = [f"/tmp/ponder-hostile-{tag}", f"/var/tmp/ponder-hostile-{tag}", f"/dev/shm/ponder-hostile-{tag}",
               f"/work/ponder-hostile-{tag}", os.path.join(os.getcwd(), f"ponder-hostile-{tag}")]
    open_dir = tmp_path / "wide-open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)  # even a world-writable host dir must stay untouched
    targets.append(str(open_dir / "x"))
    src = "import os\n" + "".join(
        f"os.system('touch {t} 2>/dev/null')\n"
        f"try:\n    open({t!r} + '.py', 'w').write('x')\nexcept OSError:\n    pass\n"
        for t in targets
    ) + "open('inside.txt', 'w').write('ok')\nprint(os.listdir('.'))\n"
    r = run_python(src, timeout_s=5.0)
    assert r.ok, r.stderr
    assert "inside.txt" in r.stdout  # writing its own working directory is allowed
    leaked = [t for t in targets for t in (t, t + ".py") if os.path.exists(t)]
    if isolation() != "namespaces":  # without a mount namespace /tmp stays shared (documented)
        leaked = [t for t in leaked if not t.startswith(("/tmp/", "/var/tmp/", "/dev/shm/", str(tmp_path)))]
    assert leaked == []
    assert list(open_dir.iterdir()) == []


def test_working_directory_removed_afterwards(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where run_python makes its dir
    r = run_python("open('junk', 'w').write('x' * 1000)\nprint('wrote')")
    assert r.ok and r.stdout == "wrote\n"
    assert list(tmp_path.iterdir()) == []
    r = run_python("while True:\n    open('junk', 'a').write('x')", timeout_s=0.5)
    assert r.timed_out and list(tmp_path.iterdir()) == []


def test_gigantic_power_fails_within_limit():
    t0 = time.monotonic()
    r = run_python("x = 10**10**10\nprint('done')", timeout_s=3.0)
    assert not r.ok and "done" not in r.stdout
    assert time.monotonic() - t0 < 6.0


def test_huge_allocation_fails_with_memory_error():
    r = run_python("x = bytearray(8 << 30)\nprint('got it')", memory_mb=256)
    assert not r.ok and "MemoryError" in r.stderr


def test_output_flood_is_truncated():
    r = run_python("while True:\n    print('x' * 10000)", timeout_s=1.0, output_limit=4096)
    assert not r.ok
    assert len(r.stdout) < 5000 and r.stdout.endswith("[output truncated]")


def test_huge_file_stopped_by_file_size_limit():
    r = run_python("f = open('big', 'wb')\nwhile True:\n    f.write(b'x' * (1 << 20))", file_mb=4, timeout_s=5.0)
    assert not r.ok and not r.timed_out  # SIGXFSZ / EFBIG, well before the wall clock


@pytest.mark.skipif(isolation() != "namespaces", reason="network namespace needs root")
def test_no_network():
    src = (
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(2)\n"
        "try:\n    s.connect(('1.1.1.1', 80)); print('connected')\n"
        "except OSError as e:\n    print('blocked')\n"
    )
    r = run_python(src)
    assert r.stdout.strip() == "blocked"


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")
def test_runs_unprivileged_and_cannot_read_root_home():
    r = run_python("import os\nprint(os.getuid())\nprint(os.path.exists('/root/.bash_history'), sorted(os.listdir('/root')))")
    assert r.ok, r.stderr
    uid = int(r.stdout.split()[0])
    assert uid != 0
