"""`ponder eval` end to end on the warm tiny model: run dir, rows, metrics, resume, bad input.

Uses the session-scoped `warm_model` fixture (tests/conftest.py). Kept small (a handful of
problems, short budgets). The end-to-end and resume-after-kill tests are the essential checks of
the command, so they stay in the default suite although each takes ~15-50 s on a busy 2-core
machine (most of it model loading, plotting and, for resume, a second Python process).
"""

from __future__ import annotations

import dataclasses

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import RecordingPolicy
from ponder.cli import main
from ponder.eval import summarize
from ponder.runs import read_jsonl, read_parquet
from ponder.tasks import get_task
from ponder.types import Problem

REPO = Path(__file__).resolve().parents[1]
RUN_FILES = {"config.yaml", "samples.parquet", "metrics.json", "report.html", "progress.jsonl"}


def test_eval_end_to_end(warm_model, tmp_path):
    out = tmp_path / "run"
    rc = main(["eval", "--model", str(warm_model), "--tasks", "arith,grid,sumprod", "--levels", "1-2",
               "--per-level", "1", "-n", "2", "--max-new-tokens", "96", "--strategy", "majority", "--out", str(out)])
    assert rc == 0
    assert RUN_FILES | {"orchestration.parquet"} <= {p.name for p in out.iterdir()}
    assert not (out / "parts").exists()  # merged and removed
    rows = read_parquet(out / "samples.parquet")
    assert len(rows) == 3 * 2 * 1 * 2
    for r in rows:  # the pool's score is the task's own verdict on the stored text
        problem = Problem.from_dict({**r, "id": r["problem_id"]})
        assert r["score"] == get_task(r["task"]).verify(r["text"], problem)
        # an unclosed <think> runs to the end (format rules), so think and answer spans may overlap
        assert max(r["think_tokens"], r["answer_tokens"]) <= r["num_tokens"] <= 96 + 1
        assert 0 <= r["needed_tokens"] <= r["num_tokens"]
        assert (r["plan_parsed"] is not None) == (r["task"] == "grid")
        assert (r["decomposition"] is not None) == (r["task"] == "sumprod")
    metrics = json.loads((out / "metrics.json").read_text())
    summary = json.loads(json.dumps(summarize(rows)))
    assert metrics["summary"] == summary
    assert metrics["skills"]["strategy"] == "majority" and set(metrics["skills"]["strategies"]) == {
        "sample", "best-of-n", "majority"}
    assert metrics["cost"]["generated_tokens"] == sum(r["num_tokens"] for r in rows)
    assert metrics["cost"]["flops"] == 2 * metrics["cost"]["params"] * metrics["cost"]["generated_tokens"]
    orch = metrics["abstraction"]["sumprod"]["orchestrated"]
    assert orch["problems"] == 2 and orch["speedup"] > 0 and orch["serial_tokens"] > 0
    assert set(metrics["abstraction"]["sumprod"]["by_difficulty"]) <= {"1", "2", "3"}
    assert "grid" in metrics["strategy"] and set(metrics["strategy"]["grid"]["by_difficulty"]) == {"1", "2"}
    html = (out / "report.html").read_text()
    # six plots, accuracy vs critical-path tokens, and the strategy section's three (grid)
    assert html.count('<img src="data:image/png;base64,') == 7 + 3
    # `ponder report` re-renders from the samples alone and agrees with the run's metrics
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["summary"] == metrics["summary"] and again["skills"]["pass_at_k"] == metrics["skills"]["pass_at_k"]
    assert (out / "report.html").exists()
    # compare a run with itself: zero deltas, a report in its own run dir
    assert main(["compare", str(out), str(out), "--names", "a,b", "--out", str(tmp_path / "cmp")]) == 0
    assert "+0.000" in (tmp_path / "cmp" / "report.html").read_text()


def test_make_row_scores_oracle_completions():
    """Rows built from each task's oracle: correct, plan valid and followed, decomposition exact,
    and no redundant thinking (the oracle's trace ends on the answer, so T^ = T)."""
    from ponder.policy import segment_token_counts
    from ponder.policy.tokenizer import build_tokenizer
    from ponder.types import Completion
    from ponder.eval import make_row

    tok = build_tokenizer()
    count = lambda text: len(tok.encode(text, add_special_tokens=False))  # noqa: E731
    for name in ("arith", "grid", "sumprod"):
        task = get_task(name)
        for p in task.sample(3, 2, seed=5):
            text = task.oracle(p, think=True)
            think, answer = segment_token_counts(text, count)
            c = Completion(text=text, num_tokens=count(text), think_tokens=think, answer_tokens=answer)
            row = make_row(p, c, 0, task.verify(text, p), batch=0, gen_s=0.0, verify_s=0.0)
            assert row["correct"] and row["has_think"] and row["pred"] == task.extract(text)
            assert row["needed_tokens"] == row["num_tokens"]
            if name == "grid":
                assert row["plan_parsed"] and row["plan_valid"] and row["plan_goal"] and row["plan_adherence"] == 1.0
            if name == "sumprod":
                assert row["has_plan"] and row["decomposition"] == 1.0
    # a trace that keeps going after the answer: "<think>7+2=9;9 check 9 ok</think>" on 7+2
    p = get_task("arith").sample(1, 1, seed=0)[0]
    body = f"{p.prompt[:-2]}={p.answer}; check {p.answer} ok"  # "0+9=9; check 9 ok"
    text = f"<think>{body}</think><answer>{p.answer}</answer>"
    c = Completion(text=text, num_tokens=count(text), think_tokens=len(body) + 2, answer_tokens=len(p.answer) + 2)
    row = make_row(p, c, 0, 1.0, batch=0, gen_s=0.0, verify_s=0.0)
    assert row["needed_tokens"] == row["num_tokens"] - len(f"; check {p.answer} ok")


def test_eval_resume_after_kill(warm_model, tmp_path):
    """Kill a real `ponder eval` after its first batch; --resume keeps that batch and finishes."""
    out = tmp_path / "run"
    args = ["eval", "--model", str(warm_model), "--tasks", "arith", "--difficulties", "1-3", "--per-level", "1",
            "-n", "2", "--max-new-tokens", "64", "--batch-problems", "1", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "ponder", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    first = out / "parts" / "batch-00000.parquet"
    try:
        deadline = time.time() + 300
        while not first.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert first.exists(), "the first batch was never written"
    if (out / "samples.parquet").exists():
        pytest.skip("the eval finished before it could be killed")
    before = read_parquet(first)
    done_batches = {int(f.stem.split("-")[1]) for f in (out / "parts").glob("batch-*.parquet")}
    killed_sessions = {r["session"] for r in read_jsonl(out / "progress.jsonl")}
    assert main([*args, "--resume"]) == 0
    rows = read_parquet(out / "samples.parquet")
    assert len(rows) == 3 * 2
    assert {r["problem_id"] for r in rows} == {f"arith/d{d}/s9999/0" for d in (1, 2, 3)}
    kept = {(r["problem_id"], r["sample"]): r["text"] for r in rows}
    assert all(kept[(r["problem_id"], r["sample"])] == r["text"] for r in before)
    # the second session generated only the batches the first had not finished
    # (the killed run may have written every batch before samples.parquet: then the resume generates none)
    second = {r["batch"] for r in read_jsonl(out / "progress.jsonl") if r["session"] not in killed_sessions}
    assert not (second & done_batches) and second | done_batches == {0, 1, 2}


@pytest.mark.parametrize("extra, message", [
    (["--tasks", "arithh"], "unknown task 'arithh'"),
    (["--difficulties", "5-1"], "--levels is empty"),
    (["--levels", "1", "--verify-timeout", "0"], "--verify-timeout must be > 0"),
    (["--base-url", "http://127.0.0.1:1/v1"], "--base-url is for --backend openai"),
    (["--difficulties", "0-9"], "difficulty levels 1..5, got 0"),
    (["--model", "/nonexistent/model"], "model directory not found"),
    (["-n", "0"], "-n must be >= 1"),
    (["--backend", "tpu"], "expected one of hf, vllm, openai"),
    (["--difficulties", "a-b"], "expected integers or ranges"),
])
def test_eval_bad_input_one_line_exit_2_nothing_written(warm_model, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    argv = ["eval", "--model", str(warm_model), "--tasks", "arith", "--out", str(out)]
    argv += extra
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse errors exit from inside parse_args
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message.lstrip("-") in lines[0], err
    assert not out.exists()


def test_eval_refuses_to_mix_runs(warm_model, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "samples.parquet").write_text("x")
    assert main(["eval", "--model", str(warm_model), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["eval", "--model", str(warm_model), "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_eval_samples_like_every_scoring_stage():
    """Evaluation (and its orchestrator) stops at </answer>, as curation and training do."""
    from ponder.eval import EvalConfig, evaluate, make_problems
    from ponder.types import Sampling

    cfg = EvalConfig(tasks=("arith", "sumprod"), levels=(1,), n=2, per_level=2, temperature=0.7, top_p=0.9,
                     max_new_tokens=32, seed=3, batch_problems=2)
    policy = RecordingPolicy()
    evaluate(policy, make_problems(cfg), cfg, progress=False)
    sampled, greedy = policy.samplings[:2], policy.samplings[2:]
    assert sampled == [Sampling.to_answer(temperature=0.7, top_p=0.9, max_new_tokens=32, seed=3 * 1000003 + b)
                       for b in (0, 1)]
    # the orchestrator's greedy runs: to the answer, and (orchestrated) also to a call marker
    base = Sampling.to_answer(temperature=0.0, max_new_tokens=32, seed=0)
    assert greedy and all(s.stop[0] == "</answer>" and s == dataclasses.replace(base, stop=s.stop) for s in greedy)
    assert {s.stop for s in greedy} == {("</answer>",), ("</answer>", "<join>")}


def test_eval_resume_takes_the_saved_config_and_refuses_changes(warm_model, tmp_path, capsys):
    """`--resume --out RUN` needs no other flag; a flag that would mix two evaluations is refused."""
    out = tmp_path / "run"
    assert main(["eval", "--model", str(warm_model), "--tasks", "arith", "--levels", "1", "--per-level", "2",
                 "-n", "1", "--max-new-tokens", "32", "--out", str(out)]) == 0
    capsys.readouterr()
    first = read_parquet(out / "samples.parquet")
    assert main(["eval", "--out", str(out), "--resume", "--levels", "1,2"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"ponder: error: --resume: levels was [1] in {out}, now [1, 2]; use a new --out"
    assert main(["eval", "--out", str(out), "--resume"]) == 0  # nothing left to score: re-rendered as it was
    assert read_parquet(out / "samples.parquet") == first


def test_a_dead_server_or_a_broken_model_is_reported_before_anything_is_written(warm_model, tmp_path, capsys):
    import shutil
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "run"
    rc = main(["eval", "--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "tiny",
               "--levels", "1", "--per-level", "1", "-n", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().splitlines()[-1].startswith(f"ponder: error: cannot connect to http://127.0.0.1:{port}")
    assert not out.exists()
    broken = tmp_path / "broken"
    shutil.copytree(warm_model, broken)
    (broken / "model.safetensors").unlink()
    rc = main(["eval", "--model", str(broken), "--levels", "1", "--per-level", "1", "-n", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().splitlines()[-1].startswith(f"ponder: error: cannot load model {broken}"), err
    assert not out.exists()
