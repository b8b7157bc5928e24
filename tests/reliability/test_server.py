"""A misbehaving server behind the openai backend: what ponder promises, shown on a loopback server.

The server (http.server in threads, 127.0.0.1 only) answers each request with a scripted fault:
500s, 429 with Retry-After, slow answers, dropped connections, truncated and non-JSON bodies, an
endless stream. The promises:

- bounded retries with exponential backoff (a server's Retry-After honoured, up to a cap);
- after the limit, one PonderError line naming the URL, the number of tries and the last cause;
- no hang: every call ends within (tries x timeout + backoff), and every test here runs under a
  watchdog (`bounded`) that fails it instead of letting it hang;
- no partial rows: an eval interrupted by a failing server leaves only whole batches on disk, and
  `--resume` against a healthy server finishes with the rows of an uninterrupted run.

Run: `pytest -m reliability tests/reliability/test_server.py` (seconds; no model, no GPU).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ponder.errors import PonderError
from ponder.policy.http import RetryingClient, Session, TransientError
from ponder.policy.openai import OpenAIPolicy
from ponder.types import Sampling

pytestmark = pytest.mark.reliability


def answer_text(prompt: str, seed) -> str:
    """The healthy server's answer: a pure function of the request, so two runs can be compared."""
    return f"<think>{prompt.strip()[:12]}</think><answer>{(seed or 0) % 10}</answer>"


class FaultServer:
    """A loopback OpenAI-style server whose answer to request i is `fault(i)`:

    ok | 500 | 429:<retry-after> | slow:<seconds> | drop | truncate | notjson | endless | flood.
    `fault` is a list (then ok once it runs out) or a function of the request index.
    """

    def __init__(self, fault=()):
        self.fault = fault
        self.count = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    i, server.count = server.count, server.count + 1
                f = server.fault(i) if callable(server.fault) else (server.fault[i] if i < len(server.fault) else "ok")
                try:
                    server.answer(self, f, body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: what it should do
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def answer(self, h, fault: str, body: dict) -> None:
        kind, _, arg = fault.partition(":")
        if kind == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "slow":
            self.stop.wait(float(arg))
        if kind in ("500", "429"):
            payload = json.dumps({"error": {"message": f"injected {kind}"}}).encode()
            h.send_response(int(kind))
            if arg:
                h.send_header("Retry-After", arg)
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if kind in ("endless", "flood"):  # a 200 whose body never ends (slow trickle or fast flood)
            h.close_connection = True
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.end_headers()
            h.wfile.write(b'{"choices": [')
            chunk = b" " * (1 << 16 if kind == "flood" else 8)
            while not self.stop.is_set():
                h.wfile.write(chunk)
                h.wfile.flush()
                if kind == "endless":
                    self.stop.wait(0.02)
            return
        prompt = body.get("prompt") or body["messages"][-1]["content"]
        text = answer_text(prompt, body.get("seed"))
        payload = json.dumps({"choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(text)}}).encode()
        if kind == "notjson":
            payload = b"<html><body>502 Bad Gateway</body></html>"
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if kind == "truncate":  # promises the whole answer, sends half, hangs up
            h.close_connection = True
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload[: len(payload) // 2])
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def bounded(seconds: float, fn, *args, **kw):
    """fn(*args, **kw), or a test failure when it has not returned within `seconds` (a hang)."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread, re-raised there
            out["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        pytest.fail(f"no answer within {seconds} s: the client hung")
    if "error" in out:
        raise out["error"]
    return out["value"]


class Sleeps(list):
    """Records backoff delays instead of sleeping them, so tests see the schedule."""

    def __call__(self, s: float):
        self.append(s)


def client(**kw) -> RetryingClient:
    kw = {"timeout_s": 2.0, "max_retries": 3, "backoff_s": 0.05, "seed": 0, **kw}
    return RetryingClient(**kw)


SAMPLE = Sampling(max_new_tokens=8, seed=1)


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert "\n" not in msg and msg
    return msg


# -- each fault alone: retried, recovered from ------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "429:0", "drop", "truncate", "notjson", "slow:5", "endless"])
def test_a_passing_fault_is_retried_and_the_answer_is_whole(fault):
    with FaultServer([fault]) as srv:
        c = client(timeout_s=0.5, sleep=Sleeps())
        t0 = time.monotonic()
        answer = bounded(10, c.post, srv.url + "/completions", {"prompt": "2+3=", "seed": 4})
        elapsed = time.monotonic() - t0
    assert answer["choices"][0]["text"] == answer_text("2+3=", 4)
    assert c.attempts == 2 and srv.count == 2
    assert elapsed < 3  # a slow or endless answer is abandoned at the 0.5 s deadline, not waited out


# -- each fault for ever: a bounded number of tries, then one line -----------------------------


@pytest.mark.parametrize("fault,cause", [
    ("500", r"HTTP 500: injected 500"),
    ("drop", r"RemoteDisconnected|ConnectionResetError"),
    ("truncate", r"IncompleteRead"),
    ("notjson", r"answer is not JSON: b'<html>"),
    ("slow:30", r"timed out after 0\.4 s"),
    ("endless", r"timed out after 0\.4 s"),
])
def test_a_persistent_fault_ends_in_one_line_after_bounded_tries(fault, cause):
    sleeps = Sleeps()
    with FaultServer(lambda i: fault) as srv:
        c = client(timeout_s=0.4, max_retries=3, backoff_s=0.1, sleep=sleeps)
        t0 = time.monotonic()
        with pytest.raises(PonderError) as e:
            bounded(15, c.post, srv.url + "/completions", {"prompt": "x"})
        elapsed = time.monotonic() - t0
    msg = one_line(e.value)
    assert msg.startswith(f"{srv.url}/completions kept failing after 4 tries (last: ")
    assert re.search(cause, msg), msg
    assert srv.count == 4 and c.attempts == 4
    # exponential backoff with equal jitter: retry k waits in [cap/2, cap], cap = 0.1 * 2**k
    assert len(sleeps) == 3 and all(0.05 * 2**k <= s <= 0.1 * 2**k for k, s in enumerate(sleeps))
    assert elapsed < 4 * 0.4 + 2  # tries x timeout, plus slack; the sleeps were not slept


def test_retry_after_is_honoured_up_to_the_cap():
    sleeps = Sleeps()
    with FaultServer(["429:0.3", "429:3600", "500"]) as srv:
        c = client(max_retries=3, backoff_s=0.05, max_backoff_s=2.0, sleep=sleeps)
        answer = bounded(10, c.post, srv.url + "/completions", {"prompt": "p"})
    assert answer["choices"][0]["text"] == answer_text("p", None)
    assert sleeps[:2] == [0.3, 2.0]  # the server's wish, then the cap instead of an hour
    assert 0.05 <= sleeps[2] <= 0.2  # no Retry-After: our own backoff (retry 2: cap 0.2)


def test_429_retry_after_is_really_waited():
    with FaultServer(["429:0.4"]) as srv:
        c = client()
        t0 = time.monotonic()
        bounded(10, c.post, srv.url + "/completions", {"prompt": "p"})
    assert 0.4 <= time.monotonic() - t0 < 2.5


def test_a_flood_is_cut_at_the_size_cap():
    with FaultServer(lambda i: "flood") as srv:
        s = Session(timeout_s=20, max_bytes=1 << 20)
        with pytest.raises(TransientError, match="answer larger than 1 MiB"):
            bounded(20, s.post, srv.url + "/completions", {"prompt": "x"}, {})


def test_every_fault_mixed_under_concurrency_still_gives_every_sample():
    faults = ["500", "429:0", "drop", "truncate", "notjson", "slow:3", "endless"]
    with FaultServer(lambda i: faults[i] if i < len(faults) else "ok") as srv:
        policy = OpenAIPolicy("m", base_url=srv.url, concurrency=4, timeout_s=0.5, max_retries=4, backoff_s=0.01)
        out = bounded(20, policy.generate, ["a", "b", "c"], 3, SAMPLE)
    assert [[c.text for c in row] for row in out] == [[answer_text(p, 1 + i) for i in range(3)] for p in "abc"]


# -- an eval run against a server that fails midway --------------------------------------------


def _eval_cfg(url: str, out, **kw):
    from ponder.eval import EvalConfig

    return EvalConfig(model="m", backend="openai", base_url=url, tasks=("arith",), levels=(1, 2), per_level=2, n=2,
                      batch_problems=1, orchestrate=False, verify_workers=1, out=str(out), **kw)


def _policy(url: str) -> OpenAIPolicy:
    return OpenAIPolicy("m", base_url=url, concurrency=2, timeout_s=2, max_retries=2, backoff_s=0.01)


def _rows(run) -> list[tuple]:
    from ponder.runs import read_parquet

    return sorted((r["problem_id"], r["sample"], r["text"], r["score"], r["num_tokens"])
                  for r in read_parquet(run / "samples.parquet"))


def test_an_eval_interrupted_by_a_failing_server_keeps_whole_batches_and_resumes(tmp_path):
    from ponder import eval as stage
    from ponder.runs import RunDir, read_parquet

    with FaultServer() as srv:
        ref = _eval_cfg(srv.url, tmp_path / "ref")
        bounded(120, stage.run, ref, RunDir.open("eval", ref.out, ref), progress=False, policy=_policy(srv.url))

        ok_until = srv.count + 5  # 2 batches of 2 samples, then one sample of the third: the server goes down
        srv.fault = lambda i: "ok" if i < ok_until else "500"
        cfg = _eval_cfg(srv.url, tmp_path / "run")
        run_dir = RunDir.open("eval", cfg.out, cfg)
        with pytest.raises(PonderError, match="kept failing after 3 tries"):
            bounded(120, stage.run, cfg, run_dir, progress=False, policy=_policy(srv.url))

        run = tmp_path / "run"
        assert not (run / "samples.parquet").exists() and not (run / "metrics.json").exists()
        parts = sorted((run / "parts").glob("*.parquet"))
        assert parts, "the batches finished before the failure are kept"
        for part in parts:  # each part is a whole batch: 1 problem x n=2 samples, every field present
            rows = read_parquet(part)
            assert sorted(r["sample"] for r in rows) == [0, 1] and len({r["problem_id"] for r in rows}) == 1
            assert all(r["text"] for r in rows)
        partial_ids = {r["problem_id"] for p in parts for r in read_parquet(p)}
        assert len(partial_ids) < 4

        srv.fault = ()  # the server is back
        again = _eval_cfg(srv.url, run, resume=True)
        stage.check(again)
        bounded(120, stage.run, again, RunDir.open("eval", again.out, again, resume=True), progress=False,
                policy=_policy(srv.url))
    assert _rows(run) == _rows(tmp_path / "ref") and len(_rows(run)) == 8


def test_the_cli_exits_2_with_one_line_when_the_server_keeps_failing(tmp_path):
    # Retry-After: 0 keeps the default retry schedule (6 tries) fast
    with FaultServer(lambda i: "ok" if i == 0 else "429:0") as srv:  # the probe passes, the run does not
        env = {k: v for k, v in os.environ.items() if k not in ("PONDER_OPENAI_BASE_URL", "OPENAI_BASE_URL")}
        proc = bounded(180, subprocess.run,
                       [sys.executable, "-m", "ponder", "eval", "--backend", "openai", "--base-url", srv.url,
                        "--model", "m", "--tasks", "arith", "--levels", "1", "--per-level", "1", "-n", "1",
                        "--no-orchestrate", "--concurrency", "1", "--out", str(tmp_path / "run")],
                       env=env, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f"ponder: error: {srv.url}/completions kept failing after 6 tries "
                    "(last: HTTP 429: injected 429)")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "samples.parquet").exists()


def test_an_openai_eval_killed_at_seeded_points_resumes_to_the_same_samples(tmp_path):
    """`ponder eval --backend openai` (a real subprocess) against a healthy, slow loopback server,
    SIGKILLed at seeded moments, then `--resume`: the finished samples equal an uninterrupted run's
    as a set of (problem, sample, text, score, tokens) rows, and every file stays readable. The
    server's answer is a pure function of the request (prompt, seed), so the rows are comparable
    exactly; the order of rows may differ (batches land in parallel), so they are compared sorted."""
    from killpoints import kill_and_resume, ponder, record, run_ok, schedule

    with FaultServer(lambda i: "slow:0.1") as srv:
        args = ["--backend", "openai", "--base-url", srv.url, "--model", "m", "--tasks", "arith", "--levels", "1-3",
                "--per-level", "4", "-n", "2", "--batch-problems", "1", "--no-orchestrate", "--concurrency", "1",
                "--verify-workers", "1"]
        a, b = tmp_path / "a", tmp_path / "b"
        ref_s = run_ok(ponder("eval", *args, "--out", str(a)))
        log = kill_and_resume(ponder("eval", *args, "--out", str(b)), ponder("eval", "--resume", "--out", str(b)),
                              b, schedule(31, 3), ref_s)  # early moments: a resumed run is shorter
    assert not log.unreadable, log.unreadable
    equal = _rows(a) == _rows(b) and len(_rows(a)) == 12 * 2
    record("eval --backend openai", log, equal, f"samples.parquet equal as a set ({len(_rows(a))} rows)")
    assert equal and log.killed >= 1, log
