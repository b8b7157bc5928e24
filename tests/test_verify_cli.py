"""`ponder verify` end to end in real processes: scores, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ponder.tasks import get_task


def ponder(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ponder", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def rows():
    task = get_task("arith")
    probs = task.sample(4, 2, seed=0)
    return [{**p.to_dict(), "completion": task.oracle(p) if i % 2 == 0 else "<answer>-999</answer>"} for i, p in enumerate(probs)]


def test_scores_rows_and_writes_out(tmp_path, rows):
    inp = _write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "scores.parquet"
    r = ponder("verify", "--task", "arith", "--input", inp, "--out", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("mean score 0.5000 over 4 rows")
    import pyarrow.parquet as pq

    assert [row["score"] for row in pq.read_table(out).to_pylist()] == [1.0, 0.0, 1.0, 0.0]
    # id + completion with --problems, and a run directory when --out is not given
    probs = _write(tmp_path / "probs.jsonl", [{k: v for k, v in r.items() if k != "completion"} for r in rows])
    ids = _write(tmp_path / "ids.jsonl", [{"id": r["id"], "completion": r["completion"]} for r in rows])
    r = ponder("verify", "--task", "arith", "--input", ids, "--problems", probs, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "mean score 0.5000" in r.stdout
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "summary.json").read_text())["mean_score"] == 0.5


@pytest.mark.parametrize(
    "bad, extra, message",
    [
        ('{"answer": "3", "completion": "x"', [], "line 2: bad JSON"),
        ({"answer": "3"}, [], "line 2: missing 'completion'"),
        ({"completion": "<answer>3</answer>"}, [], "line 2: missing 'answer'"),
        ({"answer": "3", "completion": "x", "difficulty": "hard"}, [], "line 2: 'difficulty' must be an int"),
        ({"id": "nope", "completion": "x"}, ["--problems"], "line 2: id 'nope' is not in"),
    ],
)
def test_malformed_row_one_line_exit_2_no_output(tmp_path, rows, bad, extra, message):
    good = rows[0] if not extra else {"id": rows[0]["id"], "completion": "x"}
    inp = _write(tmp_path / "in.jsonl", [good, bad, good])
    if extra:
        extra = ["--problems", _write(tmp_path / "probs.jsonl", [{k: v for k, v in rows[0].items() if k != "completion"}])]
    out = tmp_path / "scores.jsonl"
    r = ponder("verify", "--task", "arith", "--input", inp, "--out", out, *extra)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stderr.startswith("ponder: error:") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not out.exists()


def test_unknown_task_and_missing_file(tmp_path, rows):
    inp = _write(tmp_path / "in.jsonl", rows)
    r = ponder("verify", "--task", "arith2", "--input", inp)
    assert r.returncode == 2 and "unknown task 'arith2'" in r.stderr and "Traceback" not in r.stderr
    r = ponder("verify", "--task", "arith", "--input", tmp_path / "missing.jsonl")
    assert r.returncode == 2 and "no such file" in r.stderr and r.stderr.count("\n") == 1
    r = ponder("verify", "--task", "arith", "--input", inp, "--timeout", "0")
    assert r.returncode == 2 and "--verify-timeout must be > 0" in r.stderr
    r = ponder("verify", "--tasks", "arith,countdown", "--input", inp)
    assert r.returncode == 2 and "one task's verifier, got 2 (arith, countdown)" in r.stderr and r.stderr.count("\n") == 1
