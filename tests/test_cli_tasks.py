"""`ponder tasks list|show|sample`, run as a real subprocess."""

import json
import subprocess
import sys

import pytest

from ponder.runs import read_problems
from ponder.tasks import BUILTIN_TASKS, get_task


def ponder(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ponder", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def assert_one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ponder"), r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    for n in needles:
        assert n in lines[0], lines[0]


def test_list():
    r = ponder("tasks", "list")
    assert r.returncode == 0, r.stderr
    builtin, _, gym = r.stdout.partition("\n\n")
    names = [line.split()[0] for line in builtin.splitlines()]
    assert names == sorted(BUILTIN_TASKS)
    flags = {line.split()[0]: line for line in builtin.splitlines()}
    assert flags["grid"].endswith("[plan]") and flags["sumprod"].endswith("[decompose]")
    assert gym.startswith("reasoning-gym tasks (rg/<name>")


def test_list_shows_reasoning_gym_tasks_or_how_to_install_them(tmp_path):
    import os

    def gym_part(*extra_path):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, extra_path), os.environ.get("PYTHONPATH", "")])}
        r = subprocess.run([sys.executable, "-m", "ponder", "tasks", "list"], capture_output=True, text=True,
                           timeout=120, env=env)
        assert r.returncode == 0, r.stderr
        return r.stdout.partition("\n\n")[2].splitlines()

    # a stand-in reasoning_gym package holding two datasets without curricula (one level each),
    # grouped under their package ("other": the stand-in's classes live in no sub-package)
    (tmp_path / "reasoning_gym").mkdir()
    (tmp_path / "reasoning_gym" / "__init__.py").write_text("")
    (tmp_path / "reasoning_gym" / "factory.py").write_text(
        "class D: pass\nDATASETS = {'zebra_puzzles': (D, D), 'chain_sum': (D, D)}\nCURRICULA = {}\n")
    heading, *rows = gym_part(tmp_path)
    assert heading.startswith("reasoning-gym tasks")
    assert [r.split() for r in rows] == [["other:"], ["rg/chain_sum", "1"], ["rg/zebra_puzzles", "1"]]
    try:
        import reasoning_gym  # noqa: F401
    except ImportError:
        heading, *rows = gym_part()
        assert rows == ["  not installed: install the gym extra, pip install 'ponder[gym]'"]


def test_show_prints_each_level_with_its_oracle():
    r = ponder("tasks", "show", "arith")
    assert r.returncode == 0, r.stderr
    task = get_task("arith")
    for d in task.levels:
        p = task.generate(0, 0, d)
        assert f"[difficulty {d}] {p.prompt}\n  answer: {p.answer}\n  oracle: {task.oracle(p)}" in r.stdout


def test_sample_jsonl_to_stdout_matches_the_library():
    r = ponder("tasks", "sample", "countdown", "--difficulty", "3", "-n", "4", "--seed", "5", "--oracle")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    task = get_task("countdown")
    assert [{k: v for k, v in row.items() if k != "oracle"} for row in rows] == [p.to_dict() for p in task.sample(4, 3, seed=5)]
    for row, p in zip(rows, task.sample(4, 3, seed=5)):
        assert row["oracle"] == task.oracle(p) and task.verify(row["oracle"], p) == 1.0


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_sample_out_file_is_readable(tmp_path, suffix):
    out = tmp_path / f"x.{suffix}"
    r = ponder("tasks", "sample", "grid", "-d", "4", "-n", "6", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and f"wrote 6 problems to {out}" in r.stderr
    assert read_problems(out) == get_task("grid").sample(6, 4, seed=0)


def test_unknown_task_is_one_line_exit_2(tmp_path):
    for action in (["show", "arth"], ["sample", "arth"]):
        assert_one_line_error(ponder("tasks", *action), "unknown task 'arth'", "did you mean arith")


def test_bad_difficulty_is_one_line_exit_2_and_writes_nothing(tmp_path):
    out = tmp_path / "x.parquet"
    assert_one_line_error(ponder("tasks", "sample", "arith", "-d", "9", "--out", str(out)), "difficulty levels 1..5, got 9")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert_one_line_error(ponder("tasks", "sample", "arith", "-d", "x"), "expected integers or ranges like 1-5")
    assert_one_line_error(ponder("tasks", "sample", "arith", "-n", "-3"), "-n must be >= 0")


def test_sample_takes_several_levels_and_a_config_file(tmp_path):
    """--levels (alias -d / --difficulty) takes a range, -n problems each; a config file can name
    the task and flags override it."""
    cfg = tmp_path / "s.yaml"
    cfg.write_text("name: arith\ndifficulties: 2-3\nn: 2\nseed: 4\n")
    r = ponder("tasks", "sample", "--config", str(cfg), "-n", "3")
    assert r.returncode == 0, r.stderr
    task = get_task("arith")
    want = [p.to_dict() for d in (2, 3) for p in task.sample(3, d, seed=4)]
    assert [json.loads(line) for line in r.stdout.splitlines()] == want
