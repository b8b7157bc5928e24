"""A small JSON-over-HTTP client with keep-alive connections and retries, for the `openai` backend.

Standard library only (http.client), so the core install stays light.

- `Session` keeps a pool of keep-alive connections per (scheme, host, port), shared by threads:
  each request checks a connection out and puts it back when the answer has been read whole, so
  `concurrency` threads use at most `concurrency` connections and no request pays a new TCP (or
  TLS) handshake. A kept connection the server has closed meanwhile is replaced once, at once,
  without counting as a retry (the server never saw the request).
- Every answer is read against one deadline (`timeout_s` for the whole request, not per socket
  read) and a size cap, so a server that trickles bytes, or streams without end, cannot hang the
  caller.
- `RetryingClient.post` wraps `Session.post` with the retry policy OpenAI-compatible servers
  expect:
  - retried: HTTP 429 and 5xx, timeouts, connection resets / aborts / server disconnects,
    truncated answers and 2xx answers that are not JSON (a proxy's error page, a cut body);
  - not retried: a refused connection (nothing is listening: retrying only delays the error) and
    other 4xx (bad request, bad key, unknown model: retrying cannot fix them);
  - delay before retry k (0-based): `backoff_delay(k)` = exponential with "equal jitter"
    (half the capped exponential plus a uniform draw over the other half), or the server's
    `Retry-After` when it sends one, capped at `max_backoff_s` either way.

Every failure the user can act on ends as one `PonderError` line naming the URL and the cause.
Proxies: the environment's `http(s)_proxy` variables are not read (hosted APIs and local servers
are reached directly).
"""

from __future__ import annotations

import errno
import http.client
import json
import random
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from ponder.errors import PonderError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ANSWER_BYTES = 64 << 20  # a completion answer is kilobytes; more is a server streaming without end


class HTTPStatusError(Exception):
    """The server answered with a non-2xx status."""

    def __init__(self, status: int, body: str, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status, self.body, self.retry_after = status, body, retry_after


class RequestRefused(PonderError):
    """A 4xx other than 429: the server will not serve this request as sent (one line, not retried)."""

    def __init__(self, url: str, status: int, message: str):
        super().__init__(f"{url} refused the request: HTTP {status}: {message}")
        self.status, self.message = status, message


class TransientError(Exception):
    """A timeout, dropped connection, truncated or unreadable answer: worth retrying."""


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: ignore, fall back to our own backoff
        return None


def _server_message(body: str) -> str:
    """The `error.message` of an OpenAI-style error body, else the body's first 200 characters."""
    try:
        err = json.loads(body).get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return str(msg).splitlines()[0][:200]
    except (ValueError, AttributeError):
        pass
    return body.strip().splitlines()[0][:200] if body.strip() else "(empty body)"


def _is_refused(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED


CONNECTIONS = {"http": http.client.HTTPConnection, "https": http.client.HTTPSConnection}


class Session:
    """Keep-alive connections to the hosts it is asked to POST to; safe to share between threads.

    `opened` counts the connections made (tests read it to see reuse).
    """

    def __init__(self, timeout_s: float = 60.0, max_bytes: int = MAX_ANSWER_BYTES):
        self.timeout_s, self.max_bytes = timeout_s, max_bytes
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self.opened = 0

    def _checkout(self, key: tuple) -> tuple[http.client.HTTPConnection, bool]:
        """(a connection to `key`, whether it was kept from an earlier request)."""
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
            self.opened += 1
        scheme, host, port = key
        kw = {"context": ssl.create_default_context()} if scheme == "https" else {}
        return CONNECTIONS[scheme](host, port, timeout=self.timeout_s, **kw), False

    def _checkin(self, key: tuple, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(conn)

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()

    def post(self, url: str, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        """POST `payload` as JSON and return the decoded JSON answer.

        Raises HTTPStatusError (non-2xx), TransientError (timeout, reset, truncated or non-JSON
        answer), PonderError (refused connection, bad URL, unknown host).
        """
        parts = urlsplit(url)
        if parts.scheme not in CONNECTIONS or not parts.hostname:
            raise PonderError(f"not an http(s) URL: {url}")
        key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = json.dumps(payload).encode()
        head = {"Content-Type": "application/json", "Accept": "application/json", **headers}
        deadline = time.monotonic() + self.timeout_s
        while True:
            conn, kept = self._checkout(key)
            try:
                status, resp_headers, data, will_close = self._exchange(conn, path, body, head, deadline)
                break
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.RemoteDisconnected) as e:
                conn.close()
                if kept:  # the server closed this idle connection; it never saw the request
                    continue
                raise TransientError(f"{type(e).__name__}: {e}") from None
            except TimeoutError:  # socket.timeout is TimeoutError
                conn.close()
                raise TransientError(f"timed out after {self.timeout_s:g} s") from None
            except OSError as e:
                conn.close()
                if _is_refused(e):
                    raise PonderError(f"cannot connect to {url}: connection refused (is the server running?)") from None
                if isinstance(e, socket.gaierror):
                    raise PonderError(f"cannot reach {url}: {e}") from None
                raise TransientError(f"{type(e).__name__}: {e}") from None
            except http.client.HTTPException as e:  # IncompleteRead (truncated body), bad status line
                conn.close()
                raise TransientError(f"{type(e).__name__}: {e}"[:200]) from None
            except BaseException:
                conn.close()
                raise
        if will_close:
            conn.close()
        else:
            self._checkin(key, conn)
        if not 200 <= status < 300:
            raise HTTPStatusError(status, data.decode("utf-8", "replace"), _retry_after(resp_headers.get("retry-after")))
        try:
            return json.loads(data)
        except ValueError:
            raise TransientError(f"answer is not JSON: {data[:80]!r}") from None

    def _exchange(self, conn, path: str, body: bytes, head: dict, deadline: float) -> tuple[int, dict, bytes, bool]:
        """One request on `conn`: (status, headers, body, whether the server closes the connection),
        the answer read whole before `deadline` and within max_bytes."""
        conn.timeout = max(0.001, deadline - time.monotonic())
        if conn.sock is not None:
            conn.sock.settimeout(conn.timeout)
        conn.request("POST", path, body=body, headers=head)
        sock = conn.sock  # getresponse drops it from conn when the server will close; the answer still reads from it
        resp = conn.getresponse()
        chunks, size = [], 0
        while resp.length != 0:  # None: chunked, or read to the end of the connection
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = resp.read1(1 << 16)  # returns what arrived, so a trickling server meets the deadline
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_bytes:
                raise TransientError(f"answer larger than {self.max_bytes >> 20} MiB")
            chunks.append(chunk)
        if resp.length:  # the connection ended before the promised Content-Length
            raise http.client.IncompleteRead(b"".join(chunks), resp.length)
        resp.close()  # read whole: the connection is free for the next request
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, b"".join(chunks), bool(resp.will_close)


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait before retry `attempt` (0-based): in [cap/2, cap], cap = min(max_s, base_s * 2**attempt).

    "Equal jitter": the floor keeps retries from hammering a server that asked us to slow down;
    the random half spreads out many clients that failed at the same moment.
    """
    cap = min(max_s, base_s * (2**attempt))
    return cap / 2 + rng.uniform(0, cap / 2)


@dataclass
class RetryingClient:
    """POSTs JSON over one keep-alive `Session` with deadlines and retries; safe to share between threads.

    `attempts` counts every request sent (tests and logs read it). A call ends within about
    (max_retries + 1) * timeout_s + the backoff delays (each at most max_backoff_s).
    """

    timeout_s: float = 60.0  # per request, the whole answer included
    max_retries: int = 5  # retries after the first try, so at most max_retries + 1 requests
    backoff_s: float = 0.5  # cap of the first delay; doubles per retry
    max_backoff_s: float = 30.0  # also caps a server's Retry-After
    headers: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    sleep: Callable[[float], None] = time.sleep
    attempts: int = 0

    def __post_init__(self):
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self.session = Session(self.timeout_s)

    def post(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        last = ""
        for attempt in range(self.max_retries + 1):
            with self._lock:
                self.attempts += 1
            try:
                return self.session.post(url, payload, self.headers)
            except HTTPStatusError as e:
                if e.status not in RETRY_STATUSES:
                    raise RequestRefused(url, e.status, _server_message(e.body)) from None
                last = f"HTTP {e.status}: {_server_message(e.body)}"
                wait = e.retry_after
            except TransientError as e:
                last, wait = str(e), None
            if attempt == self.max_retries:
                break
            with self._lock:
                delay = backoff_delay(attempt, self.backoff_s, self.max_backoff_s, self._rng)
            self.sleep(min(wait, self.max_backoff_s) if wait is not None else delay)
        raise PonderError(f"{url} kept failing after {self.max_retries + 1} tries (last: {last})")
