"""A small JSON-over-HTTP client with retries, for the `openai` backend.

Standard library only (urllib), so the core install stays light. `post_json` sends one request;
`RetryingClient.post` wraps it with the retry policy OpenAI-compatible servers expect:

- retried: HTTP 429 and 5xx, timeouts, connection resets / aborts / server disconnects;
- not retried: a refused connection (nothing is listening: retrying only delays the error) and
  other 4xx (bad request, bad key, unknown model: retrying cannot fix them);
- delay before retry k (0-based): `backoff_delay(k)` = exponential with "equal jitter"
  (half the capped exponential plus a uniform draw over the other half), or the server's
  `Retry-After` when it sends one (capped too).

Every failure the user can act on ends as one `PonderError` line naming the URL and the cause.
"""

from __future__ import annotations

import errno
import http.client
import json
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from ponder.errors import PonderError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class HTTPStatusError(Exception):
    """The server answered with a non-2xx status."""

    def __init__(self, status: int, body: str, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status, self.body, self.retry_after = status, body, retry_after


class TransientError(Exception):
    """A timeout or dropped connection: worth retrying."""


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
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, ConnectionRefusedError) or getattr(reason, "errno", None) == errno.ECONNREFUSED


def post_json(url: str, payload: dict[str, Any], headers: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """POST `payload` as JSON and return the decoded JSON answer.

    Raises HTTPStatusError (non-2xx), TransientError (timeout, reset), PonderError (refused
    connection, bad URL, a 2xx answer that is not JSON).
    """
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace") if e.fp else ""
        raise HTTPStatusError(e.code, text, _retry_after(e.headers.get("Retry-After") if e.headers else None)) from None
    except urllib.error.URLError as e:
        if _is_refused(e):
            raise PonderError(f"cannot connect to {url}: connection refused (is the server running?)") from None
        if isinstance(e.reason, (TimeoutError, socket.timeout, ConnectionError, OSError)) and not isinstance(
            e.reason, socket.gaierror
        ):
            raise TransientError(f"{type(e.reason).__name__}: {e.reason}") from None
        raise PonderError(f"cannot reach {url}: {e.reason}") from None
    except (TimeoutError, socket.timeout) as e:
        raise TransientError(f"timed out after {timeout_s:g} s") from e
    except (ConnectionError, http.client.HTTPException) as e:  # reset, aborted, RemoteDisconnected
        raise TransientError(f"{type(e).__name__}: {e}") from e
    try:
        return json.loads(body)
    except ValueError:
        raise PonderError(f"{url} answered with something that is not JSON: {body[:100]!r}") from None


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait before retry `attempt` (0-based): in [cap/2, cap], cap = min(max_s, base_s * 2**attempt).

    "Equal jitter": the floor keeps retries from hammering a server that asked us to slow down;
    the random half spreads out many clients that failed at the same moment.
    """
    cap = min(max_s, base_s * (2**attempt))
    return cap / 2 + rng.uniform(0, cap / 2)


@dataclass
class RetryingClient:
    """POSTs JSON with timeouts and retries; safe to share between threads.

    `attempts` counts every request sent (tests and logs read it).
    """

    timeout_s: float = 60.0
    max_retries: int = 5  # retries after the first try, so at most max_retries + 1 requests
    backoff_s: float = 0.5  # cap of the first delay; doubles per retry
    max_backoff_s: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    sleep: Callable[[float], None] = time.sleep
    attempts: int = 0

    def __post_init__(self):
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def post(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        last = ""
        for attempt in range(self.max_retries + 1):
            with self._lock:
                self.attempts += 1
            try:
                return post_json(url, payload, self.headers, self.timeout_s)
            except HTTPStatusError as e:
                if e.status not in RETRY_STATUSES:
                    raise PonderError(f"{url} refused the request: HTTP {e.status}: {_server_message(e.body)}") from None
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
