"""The `openai` backend: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, hosted APIs).

    policy = load_policy("my-model", backend="openai", base_url="http://127.0.0.1:8000/v1")
    policy.generate(["2+3="], n=4, sampling=Sampling(temperature=1.0, max_new_tokens=64))

- Where the server is: `base_url`, else $PONDER_OPENAI_BASE_URL, else $OPENAI_BASE_URL, else
  http://127.0.0.1:8000/v1 (a local `vllm serve`). The key: `api_key`, else $OPENAI_API_KEY
  (sent as `Authorization: Bearer ...`; none sent if neither is set). Never in code or configs.
- `api="completions"` sends the rendered prompt as text (`/completions`); `api="chat"` sends
  ponder's system instruction and the problem as messages (`/chat/completions`) and the server
  applies the model's chat template.
- Length limit: `max_tokens` on completions; on chat `max_completion_tokens` (what OpenAI's
  reasoning models require; vLLM and SGLang accept it), switched to `max_tokens` for the rest of
  the run when a server's 400 says it does not take the field (`max_tokens_field` fixes either).
- A chat server's separate reasoning field (`reasoning_content`: vLLM's reasoning parsers,
  DeepSeek; `reasoning`: newer vLLM, OpenRouter) is put back in front of the answer as
  `<think>...</think>`, so ponder's format, verifiers and effort metrics see one text; its tokens
  are the completion's think tokens (`usage.completion_tokens_details.reasoning_tokens` when the
  server reports it).
- Stop strings: OpenAI-compatible servers take at most 4 (`MAX_SERVER_STOPS`); the first 4 go to
  the server and any others are applied here (the text cut after the earliest match, token ids,
  logprobs and counts cut with it).
- Each of the n samples of a prompt is its own request (n=1, seed + i when a seed is given), so
  per-sample token counts come straight from the server's `usage` field, and servers without `n`
  (llama.cpp) work. Up to `concurrency` requests are in flight at once (a thread pool) over one
  pool of keep-alive connections; 429 / 5xx / timeouts / dropped connections / truncated answers
  are retried with exponential backoff and jitter (ponder.policy.http).
- Token ids come back only from servers that return them: `token_ids=True` asks vLLM for them
  (its `return_token_ids` extension; other servers may reject the field). Think / answer token
  counts use a local tokenizer when there is one (`tokenizer=` a directory, or `model` itself
  when it is a local directory), else the logprob token strings, else a pro-rata estimate by
  characters of the server's `completion_tokens`.
- ponder's contract keeps a matched stop string in the text (the verifier needs `</answer>`);
  OpenAI-style servers cut it, so it is put back from the choice's `stop_reason` (vLLM) or
  `matched_stop` (SGLang). Servers that report neither return the text without it.
- Logprobs are what the server reports: vLLM reports the raw model distribution (before
  temperature), as the hf backend does; other servers may report the sampled distribution.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ponder.errors import PonderError
from ponder.format import segments
from ponder.policy import CHAT_SYSTEM, render_prompt, segment_token_counts
from ponder.policy.http import RequestRefused, RetryingClient
from ponder.types import Completion, Problem, Sampling

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
ENDPOINTS = {"completions": "/completions", "chat": "/chat/completions"}
MAX_SERVER_STOPS = 4  # OpenAI's API and vLLM's server refuse more stop strings
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
DEFAULT_MAX_TOKENS_FIELD = {"completions": "max_tokens", "chat": "max_completion_tokens"}
REASONING_FIELDS = ("reasoning_content", "reasoning")


def resolve_base_url(base_url: str | None) -> str:
    url = base_url or os.environ.get("PONDER_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    if not url.startswith(("http://", "https://")):
        raise PonderError(f"openai backend: base URL must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


# --- request payloads and answer parsing, one pair per API (picked from API_IO) ---


def _sampling_fields(model: str, sampling: Sampling, seed: int | None, max_tokens_field: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": model,
        "n": 1,
        max_tokens_field: sampling.max_new_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
    }
    if sampling.stop:
        payload["stop"] = list(sampling.stop[:MAX_SERVER_STOPS])  # the rest are applied in OpenAIPolicy._completion
    if seed is not None:
        payload["seed"] = seed
    return payload


def completions_payload(model: str, prompt: str, sampling: Sampling, seed: int | None,
                        max_tokens_field: str = "max_tokens") -> dict[str, Any]:
    payload = {**_sampling_fields(model, sampling, seed, max_tokens_field), "prompt": prompt}
    if sampling.logprobs:
        payload["logprobs"] = 0  # the sampled token's logprob, no alternatives
    return payload


def chat_payload(model: str, prompt: str, sampling: Sampling, seed: int | None,
                 max_tokens_field: str = "max_completion_tokens") -> dict[str, Any]:
    messages = [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": prompt}]
    payload = {**_sampling_fields(model, sampling, seed, max_tokens_field), "messages": messages}
    if sampling.logprobs:
        payload["logprobs"] = True
        payload["top_logprobs"] = 0
    return payload


def parse_completions_choice(choice: dict[str, Any]) -> tuple[str, str, list[float] | None, list[str] | None]:
    """(text, reasoning, sampled-token logprobs or None, token strings or None) of a /completions choice."""
    lp = choice.get("logprobs") or {}
    return choice.get("text") or "", "", lp.get("token_logprobs"), lp.get("tokens")


def parse_chat_choice(choice: dict[str, Any]) -> tuple[str, str, list[float] | None, list[str] | None]:
    """(text, reasoning, sampled-token logprobs or None, token strings or None) of a /chat/completions
    choice; reasoning is the server's separate reasoning field ("" when it sends none)."""
    content = (choice.get("logprobs") or {}).get("content")
    logprobs = [c["logprob"] for c in content] if content else None
    tokens = [c["token"] for c in content] if content else None
    message = choice.get("message") or {}
    reasoning = next((message[f] for f in REASONING_FIELDS if isinstance(message.get(f), str) and message[f]), "")
    return message.get("content") or "", reasoning, logprobs, tokens


def refuses_field(message: str, field: str) -> bool:
    """Whether a 400's message says the server does not take `field` at all (rather than that its
    value is too large): it names the field and says it is unsupported, unknown or extra."""
    words = ("support", "unrecognized", "unknown", "extra", "not permitted", "not allowed", "instead")
    return field in message and any(w in message.lower() for w in words)


def with_reasoning(text: str, reasoning: str) -> str:
    """The answer with the server's separate reasoning put back in front as ponder's think block."""
    return f"<think>{reasoning}</think>{text}" if reasoning else text


def earliest_stop_end(text: str, stops: tuple[str, ...]) -> int | None:
    """End of the first completed stop string in `text` (where a stopping decoder would have
    stopped: the earliest end, as the hf backend's stop criterion), or None."""
    ends = [i + len(s) for s in stops if s and (i := text.find(s)) >= 0]
    return min(ends) if ends else None


def tokens_before(cut: int, text: str, pieces: list[str] | None, ids: list[int], tokenizer, num: int) -> int:
    """How many generated tokens make up text[:cut]: from the token strings when they spell the
    text, else by decoding prefixes of the ids with the local tokenizer, else pro rata by characters."""
    if pieces and sum(map(len, pieces)) == len(text):
        pos = k = 0
        while k < len(pieces) and pos < cut:
            pos += len(pieces[k])
            k += 1
        return k
    if tokenizer is not None and ids:
        lo, hi = 0, len(ids)  # smallest k whose decoded prefix reaches the cut
        while lo < hi:
            mid = (lo + hi) // 2
            if len(tokenizer.decode(ids[:mid], skip_special_tokens=True)) >= cut:
                hi = mid
            else:
                lo = mid + 1
        return lo
    return round(num * cut / len(text)) if text else 0


def piece_token_counts(text: str, pieces: list[str]) -> tuple[int, int]:
    """(think_tokens, answer_tokens) from the server's token strings: tokens overlapping each span."""
    spans, pos = [], 0
    for piece in pieces:
        spans.append((pos, pos + len(piece)))
        pos += len(piece)
    seg = segments(text)

    def count(block: tuple[int, int] | None) -> int:
        return sum(1 for a, b in spans if a < block[1] and b > block[0]) if block else 0

    return count(seg["think"]), count(seg["answer"])


def estimate_token_counts(text: str, num_tokens: int) -> tuple[int, int]:
    """(think_tokens, answer_tokens) pro rata by characters, for servers that give no token detail."""
    if not text or not num_tokens:
        return 0, 0
    seg = segments(text)
    width = {k: (v[1] - v[0] if v else 0) for k, v in seg.items()}
    return round(num_tokens * width["think"] / len(text)), round(num_tokens * width["answer"] / len(text))


def restore_stop(text: str, choice: dict[str, Any], stops: tuple[str, ...]) -> str:
    """Put back the stop string the server cut (ponder's contract keeps it in the text)."""
    matched = choice.get("stop_reason", choice.get("matched_stop"))
    if choice.get("finish_reason") == "stop" and isinstance(matched, str) and matched in stops:
        if not text.endswith(matched):
            return text + matched
    return text


API_IO = {
    "completions": (completions_payload, parse_completions_choice),
    "chat": (chat_payload, parse_chat_choice),
}


class OpenAIPolicy:
    """A policy served over HTTP by an OpenAI-compatible server. See the module docstring."""

    backend = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        api: str = "completions",
        concurrency: int = 8,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        max_tokens_field: str = "auto",
        token_ids: bool = False,
        tokenizer: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ):
        if api not in API_IO:
            raise PonderError(f"openai backend: unknown api {api!r}; choose from {', '.join(API_IO)}")
        if concurrency < 1:
            raise PonderError(f"openai backend: concurrency must be >= 1, got {concurrency}")
        if max_tokens_field not in ("auto", *MAX_TOKENS_FIELDS):
            raise PonderError(f"openai backend: max_tokens_field must be auto, {' or '.join(MAX_TOKENS_FIELDS)}, "
                              f"got {max_tokens_field!r}")
        self.model, self.api, self.concurrency = model, api, concurrency
        self.max_tokens_field = DEFAULT_MAX_TOKENS_FIELD[api] if max_tokens_field == "auto" else max_tokens_field
        # chat only: /completions knows max_tokens alone, so a 400 naming it there is about its value
        self._fallback = max_tokens_field == "auto" and api == "chat"
        self.base_url = resolve_base_url(base_url)
        self.url = self.base_url + ENDPOINTS[api]
        key = api_key or os.environ.get("OPENAI_API_KEY")
        self.client = RetryingClient(
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
        self.extra_body = dict(extra_body or {})
        if token_ids:
            self.extra_body["return_token_ids"] = True
        tok_dir = tokenizer or (model if os.path.isdir(model) else None)
        self.tokenizer = _load_tokenizer(tok_dir) if tok_dir else None
        self.num_params = None  # unknown behind a server

    def close(self) -> None:
        """Close the kept connections now (else they go with the process)."""
        self.client.session.close()

    def render(self, problem: Problem | str, suffix: str = "") -> str:
        """The prompt text to send.

        completions: as the hf backend renders it (the local tokenizer's chat template when there
        is one, else the plain prompt). chat: the bare problem; the server applies the template
        (with ponder's system instruction as the system turn), so there is no way to put `suffix`
        after the start of the assistant turn.
        """
        if self.api == "chat":
            if suffix:
                raise PonderError("openai backend: api 'chat' cannot start the answer with a suffix; use 'completions'")
            return problem.prompt if isinstance(problem, Problem) else str(problem)
        return render_prompt(self.tokenizer, problem, suffix)

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Completion]]:
        if n < 1:
            raise PonderError(f"n must be >= 1, got {n}")
        jobs = [(p, i) for p in range(len(prompts)) for i in range(n)]

        def one(job: tuple[int, int]) -> Completion:
            p, i = job
            seed = None if sampling.seed is None else sampling.seed + i
            t0 = time.perf_counter()
            answer = self._post(prompts[p], sampling, seed)
            return self._completion(answer, time.perf_counter() - t0, sampling)

        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(jobs))))
        try:
            flat = list(pool.map(one, jobs))
        finally:  # on the first error, drop the queued requests instead of sending them all
            pool.shutdown(wait=True, cancel_futures=True)
        return [flat[p * n : (p + 1) * n] for p in range(len(prompts))]

    def _post(self, prompt: str, sampling: Sampling, seed: int | None) -> dict[str, Any]:
        """One request; with the length field chosen automatically, a 400 that names it switches
        to the other field (remembered for the rest of the run) and sends the request once more."""
        make_payload = API_IO[self.api][0]
        field = self.max_tokens_field
        try:
            return self.client.post(self.url, {**make_payload(self.model, prompt, sampling, seed, field), **self.extra_body})
        except RequestRefused as e:
            if not (self._fallback and e.status == 400 and refuses_field(e.message, field)):
                raise
            other = next(f for f in MAX_TOKENS_FIELDS if f != field)
            self.max_tokens_field = other
            return self.client.post(self.url, {**make_payload(self.model, prompt, sampling, seed, other), **self.extra_body})

    def _completion(self, answer: dict[str, Any], elapsed: float, sampling: Sampling) -> Completion:
        choices = answer.get("choices") if isinstance(answer, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise PonderError(f"{self.url} answered without choices: {str(answer)[:200]}")
        choice = choices[0]
        content, reasoning, logprobs, pieces = API_IO[self.api][1](choice)
        text = with_reasoning(restore_stop(content, choice, sampling.stop), reasoning)
        if reasoning:
            pieces = None  # the token strings may not spell the joined text
        ids = list(choice.get("token_ids") or [])
        usage = answer.get("usage") or {}
        num = usage.get("completion_tokens")
        if num is None:
            num = len(ids) or (len(logprobs) if logprobs else 0)
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        cut = earliest_stop_end(text, sampling.stop) if len(sampling.stop) > MAX_SERVER_STOPS else None
        if cut is not None and cut < len(text):  # a stop string the server was not sent
            k = tokens_before(cut, text, pieces, ids, self.tokenizer, int(num))
            text, ids, num, finish = text[:cut], ids[:k], k, "stop"
            logprobs, pieces = (logprobs[:k] if logprobs else logprobs), (pieces[:k] if pieces else pieces)
        if self.tokenizer is not None:  # same counting as the hf / vllm backends
            think, ans = segment_token_counts(text, lambda s: len(self.tokenizer.encode(s, add_special_tokens=False)))
        elif pieces:
            think, ans = piece_token_counts(text, pieces)
        else:
            think, ans = estimate_token_counts(text, num)
        reasoning_tokens = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
        if reasoning and reasoning_tokens:  # the server's own count of its reasoning
            think = int(reasoning_tokens)
        return Completion(
            text=text,
            token_ids=ids,
            logprobs=[float(x) for x in logprobs] if (sampling.logprobs and logprobs) else None,
            finish_reason=finish,
            num_tokens=int(num),
            think_tokens=think,
            answer_tokens=ans,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            time_s=elapsed,
        )


def _load_tokenizer(path: str):
    if not os.path.isdir(path):
        raise PonderError(f"openai backend: tokenizer directory not found: {path}")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)
