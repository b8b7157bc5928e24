"""The openai backend's HTTP behaviour against a real HTTP server on 127.0.0.1.

The server (http.server in a thread) plays a scripted sequence of answers: 429, 500, slow
answers, dropped connections, then OpenAI-shaped JSON. Every test sends a bounded number of
requests to loopback only. The real engine behind a real `vllm serve` is tested in
tests/test_engines.py (marker `vllm`).
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ponder.errors import PonderError
from ponder.policy.http import RetryingClient, backoff_delay
from ponder.policy.openai import OpenAIPolicy
from ponder.types import Sampling

OK_TEXT = "<think>1+2=3</think><answer>3</answer>"


class ScriptedServer:
    """Answers POSTs from a script: each step is ("ok",), ("status", code[, retry_after]),
    ("sleep", seconds) (then ok), or ("drop",) (close without answering). After the script: ok.
    ok and status answers wait `ok_delay_s` first. `text` is the ok answer's text; `reasoning`
    (with `reasoning_field`) a chat answer's separate reasoning; a request holding a field named in
    `reject_fields` gets a 400 naming it (as OpenAI answers max_tokens for reasoning models);
    `keep_alive` answers HTTP/1.1 and keeps connections open (http.server's default closes them)."""

    def __init__(self, script=(), ok_delay_s: float = 0.0, text: str = "", reasoning: str = "",
                 reasoning_field: str = "reasoning_content", reject_fields=(), keep_alive: bool = False):
        self.script = list(script)
        self.ok_delay_s = ok_delay_s
        self.text, self.reasoning, self.reasoning_field = text or OK_TEXT, reasoning, reasoning_field
        self.reject_fields = tuple(reject_fields)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def log_message(self, *a):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, **body})
                    server.headers.append(dict(self.headers))
                    rejected = [f for f in server.reject_fields if f in body]
                    step = ("reject", rejected[0]) if rejected else server.script.pop(0) if server.script else ("ok",)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server.answer(self, step, body)
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, h: BaseHTTPRequestHandler, step: tuple, body: dict):
        kind = step[0]
        if kind == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "reject":
            message = f"Unsupported parameter: '{step[1]}' is not supported with this model."
            step = ("status", 400)
        else:
            message = f"scripted {step[1]}" if kind == "status" else ""
        if step[0] == "status":
            time.sleep(self.ok_delay_s)
            payload = json.dumps({"error": {"message": message, "code": step[1]}}).encode()
            h.send_response(step[1])
            if len(step) > 2:
                h.send_header("Retry-After", str(step[2]))
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        time.sleep(step[1] if kind == "sleep" else self.ok_delay_s)
        chat = h.path.endswith("/chat/completions")
        choice: dict = {"index": 0, "finish_reason": "stop"}
        text = self.text
        if "</answer>" in body.get("stop", []) and text.endswith("</answer>"):  # as vLLM: cut the stop string, name it
            text, choice["stop_reason"] = text[: -len("</answer>")], "</answer>"
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
            if self.reasoning:
                choice["message"][self.reasoning_field] = self.reasoning
        else:
            choice["text"] = text
        if body.get("logprobs") is not None and body["logprobs"] is not False:  # 0 asks too
            toks = list(self.text)  # pretend one token per character, like the tiny model
            lps = [-0.1 * (i + 1) for i in range(len(toks))]
            if chat:
                choice["logprobs"] = {"content": [{"token": t, "logprob": lp} for t, lp in zip(toks, lps)]}
            else:
                choice["logprobs"] = {"tokens": toks, "token_logprobs": lps}
        usage = {"prompt_tokens": len(body.get("prompt", "x")), "completion_tokens": 7, "total_tokens": 0}
        if self.text != OK_TEXT or self.reasoning:  # one token per character
            usage["completion_tokens"] = len(self.text) + len(self.reasoning)
        if self.reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": len(self.reasoning)}
        self.reply(h, {"id": "x", "choices": [choice], "usage": usage})

    @staticmethod
    def reply(h: BaseHTTPRequestHandler, body: dict) -> None:
        """Answer the request with 200 and `body` as JSON."""
        payload = json.dumps(body).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class Sleeps(list):
    """Records the backoff delays instead of waiting them out (the requests themselves are real)."""

    def __call__(self, s: float):
        self.append(s)


def test_backoff_delay_is_capped_exponential_with_equal_jitter():
    rng = random.Random(0)
    # attempt k: cap = min(max, base * 2**k); delay in [cap/2, cap]
    for attempt, cap in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (10, 5.0)]:
        for _ in range(50):
            d = backoff_delay(attempt, base_s=1.0, max_s=5.0, rng=rng)
            assert cap / 2 <= d <= cap


def test_429_then_ok_is_retried_once():
    sleeps = Sleeps()
    with ScriptedServer([("status", 429)]) as srv:
        client = RetryingClient(timeout_s=5, max_retries=3, backoff_s=0.2, sleep=sleeps)
        answer = client.post(srv.url + "/completions", {"prompt": "hi"})
    assert answer["choices"][0]["text"] == OK_TEXT
    assert len(srv.requests) == 2 and client.attempts == 2
    assert len(sleeps) == 1 and 0.1 <= sleeps[0] <= 0.2  # first backoff: [base/2, base]


def test_retry_after_header_is_honoured():
    sleeps = Sleeps()
    with ScriptedServer([("status", 503, "0.05"), ("status", 429, "0.07")]) as srv:
        RetryingClient(timeout_s=5, max_retries=3, backoff_s=10, sleep=sleeps).post(srv.url + "/completions", {})
    assert sleeps == [0.05, 0.07]
    assert len(srv.requests) == 3


def test_persistent_500_gives_one_line_error_after_bounded_tries():
    sleeps = Sleeps()
    with ScriptedServer([("status", 500)] * 10) as srv:
        client = RetryingClient(timeout_s=5, max_retries=3, backoff_s=0.1, sleep=sleeps)
        with pytest.raises(PonderError, match=r"kept failing after 4 tries \(last: HTTP 500: scripted 500\)") as e:
            client.post(srv.url + "/completions", {})
    assert len(srv.requests) == 4  # first try + max_retries
    assert "\n" not in str(e.value)
    # delays grow: [0.05,0.1], [0.1,0.2], [0.2,0.4]
    assert [lo <= s <= 2 * lo for s, lo in zip(sleeps, [0.05, 0.1, 0.2])] == [True] * 3


def test_client_errors_are_not_retried():
    with ScriptedServer([("status", 400)]) as srv:
        client = RetryingClient(timeout_s=5, max_retries=3, sleep=Sleeps())
        with pytest.raises(PonderError, match="HTTP 400: scripted 400"):
            client.post(srv.url + "/completions", {})
    assert len(srv.requests) == 1


def test_slow_answer_times_out_and_is_retried():
    with ScriptedServer([("sleep", 1.0)]) as srv:
        client = RetryingClient(timeout_s=0.3, max_retries=2, backoff_s=0.01)
        t0 = time.perf_counter()
        answer = client.post(srv.url + "/completions", {})
        elapsed = time.perf_counter() - t0
    assert answer["choices"][0]["text"] == OK_TEXT
    assert len(srv.requests) == 2
    assert 0.3 <= elapsed < 1.0  # gave up on the slow one at the timeout, did not wait it out


def test_always_slow_server_fails_with_timeout_message():
    with ScriptedServer([("sleep", 0.6)] * 3) as srv:
        client = RetryingClient(timeout_s=0.2, max_retries=1, backoff_s=0.01)
        with pytest.raises(PonderError, match="kept failing after 2 tries.*timed out"):
            client.post(srv.url + "/completions", {})
    assert len(srv.requests) == 2


def test_dropped_connection_is_retried():
    with ScriptedServer([("drop",), ("drop",)]) as srv:
        client = RetryingClient(timeout_s=5, max_retries=2, backoff_s=0.01)
        answer = client.post(srv.url + "/completions", {})
    assert answer["choices"][0]["text"] == OK_TEXT
    assert len(srv.requests) == 3


def test_refused_connection_is_one_clear_line_without_retries():
    with socket.socket() as s:  # a port nobody listens on: bind, read it, close
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    policy = OpenAIPolicy("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=3)
    policy.client.sleep = sleeps
    with pytest.raises(PonderError, match=r"cannot connect to http://127\.0\.0\.1:\d+/v1/completions: connection refused"):
        policy.generate(["2+3="], n=1, sampling=Sampling(max_new_tokens=4))
    assert sleeps == [] and policy.client.attempts == 1


def test_generate_sends_one_request_per_sample_and_maps_the_answer():
    with ScriptedServer() as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, api_key="sk-test")
        out = policy.generate(
            ["1+2=", "4+4="], n=3, sampling=Sampling(temperature=0.7, top_p=0.9, max_new_tokens=16, stop=("\n",), seed=5)
        )
    assert [len(row) for row in out] == [3, 3]
    assert len(srv.requests) == 6
    r = srv.requests[0]
    assert r["path"] == "/v1/completions" and r["model"] == "tiny" and r["n"] == 1
    assert (r["max_tokens"], r["temperature"], r["top_p"], r["stop"]) == (16, 0.7, 0.9, ["\n"])
    assert "logprobs" not in r
    assert sorted((q["prompt"], q["seed"]) for q in srv.requests) == [(p, s) for p in ("1+2=", "4+4=") for s in (5, 6, 7)]
    assert all(h["Authorization"] == "Bearer sk-test" for h in srv.headers)
    c = out[1][2]
    assert c.text == OK_TEXT and c.finish_reason == "stop" and c.logprobs is None
    assert (c.num_tokens, c.prompt_tokens) == (7, 4)  # from the server's usage field
    # no token detail: split pro rata by characters. "<think>1+2=3</think>" is 20 of the 38
    # characters, "<answer>3</answer>" 18: round(7 * 20/38) = round(3.68) = 4, round(7 * 18/38) = 3
    assert (c.think_tokens, c.answer_tokens) == (4, 3)
    assert c.time_s > 0


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_logprobs_and_token_split_from_logprob_tokens(endpoint):
    with ScriptedServer() as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, api=endpoint)
        [[c]] = policy.generate(["1+2="], n=1, sampling=Sampling(max_new_tokens=64, logprobs=True))
    r = srv.requests[0]
    if endpoint == "chat":
        assert r["path"] == "/v1/chat/completions" and r["messages"][1:] == [{"role": "user", "content": "1+2="}]
        assert r["logprobs"] is True and r["top_logprobs"] == 0
    else:
        assert r["path"] == "/v1/completions" and r["prompt"] == "1+2=" and r["logprobs"] == 0
    assert c.text == OK_TEXT
    assert c.logprobs == pytest.approx([-0.1 * (i + 1) for i in range(len(OK_TEXT))])
    # one token per character: "<think>1+2=3</think>" is 20 characters, "<answer>3</answer>" 18
    assert (c.think_tokens, c.answer_tokens) == (20, 18)


def test_concurrency_limit_bounds_requests_in_flight():
    with ScriptedServer(ok_delay_s=0.3) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, concurrency=2)
        out = policy.generate(["a", "b", "c"], n=2, sampling=Sampling(max_new_tokens=4))
    assert sum(len(row) for row in out) == 6
    assert srv.max_in_flight == 2


def test_first_hard_error_stops_the_queued_requests():
    with ScriptedServer([("status", 401)] * 20, ok_delay_s=0.1) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, concurrency=2)
        with pytest.raises(PonderError, match="HTTP 401: scripted 401"):
            policy.generate([str(i) for i in range(10)], n=2, sampling=Sampling(max_new_tokens=4))
    # 2 in flight when the first fails, 2 more started meanwhile; the other 16 were cancelled
    assert len(srv.requests) <= 6


def test_base_url_and_key_from_environment(monkeypatch):
    with ScriptedServer() as srv:
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        monkeypatch.setenv("PONDER_OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        policy = OpenAIPolicy("tiny")
        policy.generate(["x"], n=1, sampling=Sampling(max_new_tokens=2))
    assert policy.base_url == srv.url
    assert srv.headers[0]["Authorization"] == "Bearer sk-env"


def test_bad_options_are_one_line_errors():
    with pytest.raises(PonderError, match="unknown api 'responses'"):
        OpenAIPolicy("m", base_url="http://127.0.0.1:1/v1", api="responses")
    with pytest.raises(PonderError, match="must start with http"):
        OpenAIPolicy("m", base_url="127.0.0.1:8000")


def test_matched_stop_string_is_put_back_in_the_text():
    with ScriptedServer() as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url)
        [[c]] = policy.generate(["1+2="], n=1, sampling=Sampling(max_new_tokens=64, stop=("</answer>",)))
    assert srv.requests[0]["stop"] == ["</answer>"]
    assert c.text == OK_TEXT  # the server cut "</answer>" and named it in stop_reason


def test_render_plain_prompt_and_chat_refuses_suffix():
    from ponder.types import Problem

    prob = Problem(id="1", task="arith", prompt="2+3=", answer="5", difficulty=1)
    plain = OpenAIPolicy("tiny", base_url="http://127.0.0.1:1/v1")
    assert plain.render(prob) == "2+3=\n" and plain.render(prob, "<think>") == "2+3=\n<think>"
    chat = OpenAIPolicy("tiny", base_url="http://127.0.0.1:1/v1", api="chat")
    assert chat.render(prob) == "2+3="
    with pytest.raises(PonderError, match="cannot start the answer with a suffix"):
        chat.render(prob, "<think>")


def test_cli_with_no_server_exits_2_with_one_line(tmp_path):
    import os
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PONDER_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    proc = subprocess.run(
        [sys.executable, "-m", "ponder", "eval", "--backend", "openai", "--model", "tiny", "--tasks", "arith",
         "--difficulties", "1", "--per-level", "1", "-n", "1", "--out", str(tmp_path / "run")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"ponder: error: cannot connect to http://127.0.0.1:{port}/v1/completions: connection refused (is the server running?)"
    assert "Traceback" not in proc.stderr


def test_cli_eval_and_curate_take_the_server_from_base_url(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("PONDER_OPENAI_BASE_URL", "OPENAI_BASE_URL")}
    with ScriptedServer() as srv:
        ev = subprocess.run(
            [sys.executable, "-m", "ponder", "eval", "--backend", "openai", "--base-url", srv.url, "--model", "tiny",
             "--api", "chat", "--concurrency", "2",
             "--tasks", "arith", "--difficulties", "1", "--per-level", "2", "-n", "1", "--out", str(tmp_path / "eval")],
            env=env, capture_output=True, text=True, timeout=120)
        n_eval = len(srv.requests)
        cu = subprocess.run(
            [sys.executable, "-m", "ponder", "curate", "--backend", "openai", "--base-url", srv.url, "--model", "tiny",
             "--tasks", "arith", "--difficulties", "1", "--pool", "2", "--out", str(tmp_path / "curate")],
            env=env, capture_output=True, text=True, timeout=120)
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert cu.returncode == 0, cu.stderr[-2000:]
    assert len(srv.requests) >= 2 + 2 * 4  # eval: 2 problems x 1 sample; curate: at least a first round of 4 each
    assert all(r["model"] == "tiny" for r in srv.requests)
    # eval's --api chat reached the policy (its probe included); curate kept the default api
    assert {r["path"] for r in srv.requests[:n_eval]} == {"/v1/chat/completions"}
    assert {r["path"] for r in srv.requests[n_eval:]} == {"/v1/completions"}
    assert (tmp_path / "eval" / "config.yaml").read_text().count(srv.url) == 1


def test_base_url_with_a_local_backend_is_one_line_error_and_writes_nothing(tmp_path, capsys):
    from ponder.cli import main

    out = tmp_path / "run"
    assert main(["eval", "--model", "models/none", "--base-url", "http://127.0.0.1:1/v1", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == "ponder: error: --base-url is for --backend openai (the hf backend runs the model itself)"
    assert not out.exists()


# -- chat API details, stop strings, connection reuse -------------------------------------------


def test_chat_sends_max_completion_tokens_and_completions_max_tokens():
    with ScriptedServer() as srv:
        OpenAIPolicy("tiny", base_url=srv.url, api="chat").generate(["x"], n=1, sampling=Sampling(max_new_tokens=9))
        OpenAIPolicy("tiny", base_url=srv.url).generate(["x"], n=1, sampling=Sampling(max_new_tokens=9))
    chat, comp = srv.requests
    assert chat["max_completion_tokens"] == 9 and "max_tokens" not in chat
    assert comp["max_tokens"] == 9 and "max_completion_tokens" not in comp


def test_a_refused_length_field_switches_once_and_is_remembered():
    # chat starts with max_completion_tokens; a server that does not take it gets max_tokens from then on
    with ScriptedServer(reject_fields=["max_completion_tokens"]) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, api="chat", concurrency=1)
        out = policy.generate(["a", "b"], n=2, sampling=Sampling(max_new_tokens=9))
    assert all(c.text == OK_TEXT for row in out for c in row)
    assert ["max_completion_tokens" in r for r in srv.requests] == [True, False, False, False, False]  # remembered
    assert all(r["max_tokens"] == 9 for r in srv.requests[1:])


def test_a_400_about_the_value_or_on_completions_does_not_switch():
    from ponder.policy.openai import refuses_field

    assert refuses_field("Unsupported parameter: 'max_completion_tokens' is not supported with this model.",
                         "max_completion_tokens")
    assert not refuses_field("max_completion_tokens must be at most 4096", "max_completion_tokens")
    # /completions knows max_tokens alone: a 400 naming it is not a reason to switch
    with ScriptedServer(reject_fields=["max_tokens"]) as srv, \
            pytest.raises(PonderError, match="HTTP 400: Unsupported parameter: 'max_tokens'"):
        OpenAIPolicy("tiny", base_url=srv.url).generate(["a"], n=1, sampling=Sampling(max_new_tokens=9))
    assert len(srv.requests) == 1


def test_a_fixed_length_field_is_not_switched():
    with ScriptedServer(reject_fields=["max_completion_tokens"]) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, api="chat", max_tokens_field="max_completion_tokens")
        with pytest.raises(PonderError, match="HTTP 400: Unsupported parameter: 'max_completion_tokens'"):
            policy.generate(["a"], n=1, sampling=Sampling(max_new_tokens=9))
    assert len(srv.requests) == 1


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_a_separate_reasoning_field_becomes_the_think_block(field):
    with ScriptedServer(text="<answer>3</answer>", reasoning="1+2 is 3", reasoning_field=field) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, api="chat")
        [[c]] = policy.generate(["1+2="], n=1, sampling=Sampling.to_answer(max_new_tokens=64))
    assert c.text == "<think>1+2 is 3</think><answer>3</answer>"
    from ponder.format import parse

    assert parse(c.text).answer == "3"
    assert c.think_tokens == len("1+2 is 3")  # usage.completion_tokens_details.reasoning_tokens
    assert c.num_tokens == len("<answer>3</answer>") + len("1+2 is 3")


def test_more_than_four_stop_strings_the_rest_applied_client_side():
    text = "<think>a;b|c</think><answer>3</answer>"
    stops = ("#", "@", "!", "</answer>", "|", ";")  # ';' and '|' are not sent; ';' matches first
    with ScriptedServer(text=text) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url)
        [[c]] = policy.generate(["x"], n=1, sampling=Sampling(max_new_tokens=64, stop=stops, logprobs=True))
    assert srv.requests[0]["stop"] == ["#", "@", "!", "</answer>"]
    assert c.text == "<think>a;" and c.finish_reason == "stop"
    # one token per character: the ids, logprobs and counts are cut with the text
    assert c.num_tokens == len("<think>a;") and c.logprobs == pytest.approx([-0.1 * (i + 1) for i in range(9)])


def test_four_or_fewer_stop_strings_leave_the_text_alone():
    text = "<think>a;b</think><answer>3</answer>"
    with ScriptedServer(text=text) as srv:
        [[c]] = OpenAIPolicy("tiny", base_url=srv.url).generate(
            ["x"], n=1, sampling=Sampling(max_new_tokens=64, stop=("#", "</answer>")))
    assert c.text == text and c.num_tokens == len(text)


def test_connections_are_kept_alive_and_shared_by_threads():
    with ScriptedServer(keep_alive=True, ok_delay_s=0.05) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, concurrency=3)
        out = policy.generate([str(i) for i in range(6)], n=2, sampling=Sampling(max_new_tokens=4))
        again = policy.generate(["y"], n=3, sampling=Sampling(max_new_tokens=4))
        policy.close()
    assert sum(map(len, out)) == 12 and len(again[0]) == 3
    assert len(srv.requests) == 15
    assert policy.client.session.opened <= 3  # one connection per concurrent request, reused 15 times


def test_a_kept_connection_the_server_closed_is_replaced_without_a_retry():
    with ScriptedServer(keep_alive=True) as srv:
        policy = OpenAIPolicy("tiny", base_url=srv.url, concurrency=1, max_retries=0)
        policy.generate(["a"], n=1, sampling=Sampling(max_new_tokens=4))
        # the server drops its idle connections (as uvicorn does after 5 s)
        for conns in policy.client.session._idle.values():
            for conn in conns:
                conn.sock.shutdown(socket.SHUT_RDWR)
        [[c]] = policy.generate(["b"], n=1, sampling=Sampling(max_new_tokens=4))
    assert c.text == OK_TEXT and policy.client.attempts == 2 and policy.client.session.opened == 2


def test_server_flags_refused_for_local_backends():
    from ponder.eval import EvalConfig

    assert EvalConfig(backend="openai", api="chat", concurrency=2).api == "chat"
    with pytest.raises(PonderError, match="--api is for --backend openai"):
        EvalConfig(backend="hf", api="chat")
    with pytest.raises(PonderError, match="--concurrency is for --backend openai"):
        EvalConfig(backend="vllm", concurrency=2)
    with pytest.raises(PonderError, match="--concurrency must be >= 1"):
        EvalConfig(backend="openai", concurrency=0)
