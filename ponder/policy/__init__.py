"""Policy backends: one interface over transformers (`hf`), vLLM (`vllm`) and HTTP (`openai`).

    from ponder.policy import load_policy
    policy = load_policy("models/tiny")                      # hf backend, CPU or CUDA
    prompts = [policy.render(p) for p in problems]
    outs = policy.generate(prompts, n=4, sampling=Sampling(temperature=1.0, max_new_tokens=128))
    outs[i][j].text, outs[i][j].num_tokens, outs[i][j].finish_reason

Contract every backend keeps (tests check it per backend; docs/policy.md says more):
- `generate` returns one list per prompt, each of `n` `Completion`s, in prompt order.
- `Completion.token_ids` / `logprobs` cover the generated tokens, including the final EOS token
  when the model stopped by itself; `text` excludes EOS but includes a matched stop string
  (ponder's natural stop string is `</answer>`, which the verifier needs to see).
- `logprobs` (when `sampling.logprobs`) are log-softmax of the model's raw logits at the sampled
  token: before temperature / top-p, i.e. log pi(token | prefix), the quantity RL losses need.
- `finish_reason` is "stop" (EOS or a stop string) or "length" (hit `max_new_tokens`).
- `think_tokens` / `answer_tokens` count the tokens of the <think> / final <answer> spans.
- `render(problem, suffix)` is the prompt string for that model: the plain prompt for models
  without a chat template (the tiny model), the chat template otherwise; `suffix` is appended
  after the assistant turn starts (e.g. "<think>" to force a mode).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from ponder.errors import PonderError
from ponder.format import segments
from ponder.policy.prompts import CHAT_SYSTEM, PLAIN_SEP, render_prompt  # re-exported: the backends' shared rendering
from ponder.registry import Registry
from ponder.types import Completion, Problem, Sampling

# name -> backend class, registered lazily ("module:Class", imported on first lookup) so `hf` never
# pulls vllm or an HTTP client; another backend registers with BACKENDS.register_lazy(name, target).
BACKENDS: Registry[type] = Registry("backend")
BACKENDS.register_lazy("hf", "ponder.policy.hf:HFPolicy")
BACKENDS.register_lazy("vllm", "ponder.policy.vllm:VLLMPolicy")
BACKENDS.register_lazy("openai", "ponder.policy.openai:OpenAIPolicy")


@runtime_checkable
class Policy(Protocol):
    """What every backend provides."""

    num_params: int

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Completion]]: ...

    def render(self, problem: Problem, suffix: str = "") -> str: ...


def segment_token_counts(text: str, count: Callable[[str], int]) -> tuple[int, int]:
    """(think_tokens, answer_tokens) of a completion: `count` tokens in each span of `format.segments`.

    Spans are re-tokenised on their own, which is exact for the character tokenizer and within a
    token or two of the in-context count for BPE tokenizers.
    """
    spans = segments(text)
    think = count(text[slice(*spans["think"])]) if spans["think"] else 0
    answer = count(text[slice(*spans["answer"])]) if spans["answer"] else 0
    return think, answer


# a Hugging Face Hub model id: "org/name"
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def is_hub_id(model: str) -> bool:
    """Whether `model` names a Hub model (org/name) rather than a local directory: it has that
    shape, does not exist here, and its first part is not a local folder (so a mistyped
    `runs/sft-a` stays a missing directory instead of becoming a download)."""
    path = Path(model).expanduser()
    return bool(_HUB_ID.fullmatch(model)) and not path.exists() and not Path(model.split("/")[0]).exists()


def check_model_dir(model: str) -> Path:
    """A local model directory, a Hub model id (`is_hub_id`: transformers' from_pretrained fetches
    it, which needs network; nothing here downloads), or PonderError."""
    path = Path(model).expanduser()
    if is_hub_id(model):
        return path
    if not path.is_dir():
        raise PonderError(f"model directory not found: {model} (build one with `ponder model init --out DIR` or "
                          "`ponder model import`, or give a Hub id like org/name)")
    if not (path / "config.json").exists():
        raise PonderError(f"{model} is not a model directory (no config.json)")
    return path


def load_policy(model: str, backend: str = "hf", **kwargs) -> Policy:
    """A `Policy` for `model` on `backend` (a name in BACKENDS); PonderError on bad input, or when the
    backend's package is not installed."""
    return BACKENDS.get(backend)(model, **kwargs)


SERVER_DEFAULTS = {"api": "completions", "concurrency": 8}  # the openai backend's own defaults


def backend_options(backend: str, base_url: str | None, *, api: str = "completions", concurrency: int = 8) -> dict:
    """The `load_policy` keyword arguments of a command's server flags, for the openai backend:
    `--base-url` (without it: $PONDER_OPENAI_BASE_URL, $OPENAI_BASE_URL, a local `vllm serve`),
    `--api completions|chat` and `--concurrency K` (requests in flight). PonderError when one is
    given a value for a backend that runs the model itself, or a bad value."""
    given = {"base_url": base_url or None, "api": api, "concurrency": concurrency}
    if api not in ("completions", "chat"):
        raise PonderError(f"--api must be completions or chat, got {api!r}")
    if concurrency < 1:
        raise PonderError(f"--concurrency must be >= 1, got {concurrency}")
    if backend != "openai":
        for name, value in given.items():
            if value is not None and value != SERVER_DEFAULTS.get(name):
                flag = "--" + name.replace("_", "-")
                raise PonderError(f"{flag} is for --backend openai (the {backend} backend runs the model itself)")
        return {}
    return {k: v for k, v in given.items() if v is not None}


__all__ = [
    "BACKENDS", "CHAT_SYSTEM", "PLAIN_SEP", "Policy", "backend_options", "check_model_dir", "is_hub_id", "load_policy", "render_prompt",
    "segment_token_counts",
]
