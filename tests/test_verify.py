"""Math equivalence (math-verify behind ponder's answer extraction) and the verifier pool.

Real math-verify, real worker processes; expected verdicts are worked out by hand."""

from __future__ import annotations

import json
import threading
import time

import pytest
from helpers import oracle_batch

from ponder.errors import PonderError
from ponder.tasks import get_task
from ponder.types import Completion, Problem
from ponder.verify import VerifierPool, math_score, verify_batch

HANG_GOLD = "2^{2^{2^{2^{2^{10}}}}}"


@pytest.mark.parametrize(
    "completion, gold, expected",
    [
        ("<answer>0.5</answer>", "1/2", 1.0),  # fraction vs decimal
        ("<answer>\\frac{1}{2}</answer>", "0.5", 1.0),
        ("<answer>\\frac12</answer>", "1/2", 1.0),  # brace-less latex fraction
        ("<answer>\\dfrac{3}{4}</answer>", "0.75", 1.0),
        ("<answer>0.333</answer>", "1/3", 0.0),  # a rounded decimal is not the fraction
        ("<answer>\\{2,1\\}</answer>", "\\{1,2\\}", 1.0),  # sets ignore order
        ("<answer>\\{1,3\\}</answer>", "\\{1,2\\}", 0.0),
        ("<answer>(0, 1]</answer>", "(0,1]", 1.0),  # intervals: same ends, same brackets
        ("<answer>[0,1)</answer>", "(0,1]", 0.0),  # open/closed ends differ
        ("<answer>x = 3</answer>", "3", 1.0),  # an equation for the variable
        ("<answer>1,000</answer>", "1000", 1.0),  # thousands separator
        ("<answer>\\sqrt{8}</answer>", "2\\sqrt{2}", 1.0),  # symbolic equality
        ("<answer>-5</answer>", "5", 0.0),
        ("The answer is \\boxed{7}.", "7", 1.0),  # \boxed counts for math
        ("\\boxed{3} no wait \\boxed{4}", "4", 1.0),  # several boxed answers: the last counts
        ("\\boxed{3} no wait \\boxed{4}", "3", 0.0),
        ("<answer>3</answer> then <answer>4</answer>", "4", 1.0),
        ("<think>it is <answer>5</answer> or \\boxed{5}</think><answer>6</answer>", "5", 0.0),  # think ignored
        ("<think>it is <answer>5</answer></think><answer>6</answer>", "6", 1.0),
        ("<think>unclosed think <answer>5</answer>", "5", 0.0),  # unclosed think runs to the end
        ("5", "5", 0.0),  # no <answer> and no \boxed: no final answer
        ("<answer></answer>", "5", 0.0),
        ("<answer>yes</answer>", "yes", 1.0),  # identical non-math strings still match
    ],
)
def test_math_score_equivalences(completion, gold, expected):
    assert math_score(completion, gold) == expected


def test_math_score_works_off_the_main_thread():
    # math-verify's SIGALRM timeout cannot run in a thread; math_score must still answer
    out = []
    t = threading.Thread(target=lambda: out.append(math_score("<answer>0.5</answer>", "1/2")))
    t.start()
    t.join()
    assert out == [1.0]


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=2, timeout_s=5.0) as p:
        yield p


@pytest.fixture
def math_file(tmp_path):
    """A file task (math verifier) whose third gold answer makes math-verify hang."""
    golds = ["1/2", "\\{1,2\\}", HANG_GOLD, "3", "(0,1]", "x^2"]
    path = tmp_path / "golds.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "answer": g, "id": f"p{i}"}) + "\n" for i, g in enumerate(golds)))
    task = get_task(f"file:{path}?id=id")
    problems = sorted(task.sample(len(golds), 1, seed=0), key=lambda p: p.id)
    completions = ["<answer>0.5</answer>", "\\boxed{\\{2,1\\}}", "<answer>5</answer>", "<answer>4</answer>",
                   "<answer>(0, 1]</answer>", "<answer>x*x</answer>"]
    return problems, completions


def test_hanging_item_is_killed_scores_zero_and_pool_carries_on(pool, math_file):
    problems, completions = math_file
    pool.map(problems[:2], completions[:2])  # workers up (start-up is not what is timed here)
    t0 = time.monotonic()
    scores = pool.map(problems, completions, timeout_s=3.0)
    took = time.monotonic() - t0
    assert scores == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert took < 9.0  # one item's 3 s limit plus slack for a busy machine, not math-verify's own 10 s+
    before = pool.timeouts
    # the pool carries on: the same batch again (the hang again killed), then normal work
    assert pool.map(problems, completions, timeout_s=3.0) == scores
    assert pool.timeouts == before + 1
    assert pool.map(problems[:2], completions[:2]) == [1.0, 1.0]


def test_hang_mid_chunk_keeps_the_chunks_other_scores(tmp_path):
    # One worker, 16 items -> chunks 0-3, 4-6, ... (a quarter of what is left per chunk); the hang
    # is item 5, the 2nd of chunk 4-6: item 4's score must be read back from shared memory after
    # the kill, item 6 requeued and scored by the fresh scorer, the hang cut off at its 3 s clock.
    golds = ["1/2", "3", "\\{1,2\\}", "x^2"] * 4
    golds[5] = HANG_GOLD
    path = tmp_path / "golds.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "answer": g, "id": f"p{i:02d}"}) + "\n" for i, g in enumerate(golds)))
    problems = sorted(get_task(f"file:{path}?id=id").by_level[1], key=lambda p: p.id)
    answers = ["0.5", "3", "\\{2,1\\}", "x*x", "0.5", "4", "\\{1,3\\}", "x^2"] * 2  # item 6 wrong
    completions = [f"<answer>{a}</answer>" for a in answers]
    expected = [1.0] * 16
    expected[5] = expected[6] = expected[13] = expected[14] = 0.0  # the hang, {1,3}, 4 vs 3, {1,3}
    with VerifierPool(workers=1, timeout_s=3.0) as pool:
        pool.map(problems[:1], completions[:1])  # worker up
        t0 = time.monotonic()
        assert pool.map(problems, completions) == expected
        assert time.monotonic() - t0 < 9.0
        assert pool.timeouts == 1


def test_progress_never_shows_a_new_tag_beside_an_old_start_time():
    # The pool reads a worker's progress block while the scorer writes it. Were a slot
    # zero-filled before each write (as struct.pack_into does), the pool could read a start
    # time of 0 beside the new tag and kill an item that had only just started: the cause of
    # rare false timeouts, about one per 10,000 items under load.
    import os
    import struct

    from ponder.verify.worker import Progress

    fd = os.memfd_create("test-progress-race")
    try:
        reader = Progress(fd, items=4)
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the scorer: starts item after item until the reader sets score slot 3
            writer = Progress(fd)
            chunk = 0
            while writer.scores(4)[3] == 0.0:
                chunk += 1
                writer.start(chunk, 0)
            os._exit(0)
        stale = reads = 0
        try:
            deadline = time.monotonic() + 30
            while reads < 100_000 and time.monotonic() < deadline:
                chunk = int.from_bytes(reader.mm[8:16], "little", signed=True) // Progress.TAG
                running = reader.running(chunk) if chunk else None
                if running is not None:
                    reads += 1
                    stale += running[1] < t0
        finally:
            reader.mm[40:48] = struct.pack("d", 1.0)  # score slot 3: stop
            os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert reads == 100_000  # the reader did overlap the writer
    assert stale == 0


def test_verify_batch_matches_in_process_verify():
    problems, completions = oracle_batch()
    expected = [get_task(p.task).verify(c, p) for p, c in zip(problems, completions)]
    assert 0 < sum(expected) < len(expected)  # both verdicts occur
    assert verify_batch(problems, completions) == expected
    # Completion objects are accepted too
    assert verify_batch(problems[:6], [Completion(text=c) for c in completions[:6]]) == expected[:6]


def test_submit_returns_a_future_and_keeps_order(pool):
    task = get_task("arith")
    problems = task.sample(40, 2, seed=3)
    good = [task.oracle(p) for p in problems]
    bad = ["<answer>nope</answer>"] * len(problems)
    f1 = pool.submit(problems, good)
    f2 = pool.submit(problems, bad)
    assert f2.result(timeout=60) == [0.0] * 40
    assert f1.result(timeout=60) == [1.0] * 40


def test_empty_and_mismatched_batches(pool):
    assert verify_batch([], []) == []
    p = get_task("arith").sample(1, 1)[0]
    with pytest.raises(ValueError):
        pool.submit([p], [])


def test_unknown_task_fails_in_the_caller():
    bad = Problem(id="x", task="no-such-task", prompt="?", answer="1", difficulty=1)
    with pytest.raises(PonderError, match="unknown task"):
        verify_batch([bad], ["<answer>1</answer>"])


def test_shut_down_pool_refuses_work():
    p = VerifierPool(workers=1)
    p.shutdown()
    with pytest.raises(RuntimeError):
        p.submit(get_task("arith").sample(1, 1), ["<answer>1</answer>"])


def test_a_worker_that_dies_just_before_its_chunk_is_sent_is_replaced(monkeypatch):
    # An idle worker can die (killed, out of memory) after the dispatcher last looked at it and
    # before it hands it a chunk: the send then fails with a broken pipe. That once ended the
    # dispatcher thread and failed every job in flight; the chunk must go to a fresh worker.
    import os
    import signal

    problems = get_task("arith").sample(6, 1, seed=3)
    completions = [f"<answer>{p.answer}</answer>" for p in problems]
    with VerifierPool(workers=1, timeout_s=5.0) as pool:
        assert pool.map(problems[:1], completions[:1]) == [1.0]  # worker up
        send, killed = pool._send, []

        def dying_send(w, msg):
            if not killed:  # the worker dies between the dispatcher's last look and this send
                pid = w.proc.pid
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    scorers = [int(c) for c in f.read().split()]  # they hold the pipe open too
                for p in [pid, *scorers]:
                    os.kill(p, signal.SIGKILL)
                w.proc.wait(timeout=5)
                time.sleep(0.2)  # the forked scorer is not ours to wait for: let the kernel close its end
                killed.append(pid)
            return send(w, msg)

        monkeypatch.setattr(pool, "_send", dying_send)
        assert pool.map(problems, completions) == [1.0] * 6
        assert killed and pool.timeouts == 0
