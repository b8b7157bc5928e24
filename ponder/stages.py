"""What the sampling stages (eval, curate) share besides the run directory: the policy they sample.

    check_policy(model, backend, base_url, api="chat", concurrency=4)   # PonderError now, not later
    policy = open_policy(model, backend, base_url, api="chat", concurrency=4)

A stage's `check` calls `check_policy`; its command then opens the policy before creating the
run directory, so a missing model, an unknown backend or a server that does not answer is one
line and exit 2 with nothing written. `check_policy` loads no weights: for a local backend it
checks the model directory, for a served one it makes one single-token request (a stopped server
or a wrong URL would otherwise only show at the first batch).
"""

from __future__ import annotations

from ponder.errors import PonderError
from ponder.types import Sampling

LOCAL_BACKENDS = ("hf", "vllm")  # backends that run the model themselves, from a local directory
PROBE = Sampling(temperature=0.0, max_new_tokens=1, seed=0)


def open_policy(model: str, backend: str, base_url: str | None = None, **server):
    """The `Policy` for `model` on `backend`; `base_url` and `server` (api, concurrency) are the
    openai backend's server flags (`ponder.policy.backend_options`)."""
    from ponder.policy import backend_options, load_policy

    if not model:
        raise PonderError("--model is required (a model directory, or a served model name with --backend openai)")
    options = backend_options(backend, base_url, **server)
    try:
        return load_policy(model, backend=backend, **options)
    except (OSError, ValueError) as e:  # e.g. a model directory without weights, a config transformers rejects
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PonderError(f"cannot load model {model} ({backend}): {first}") from None


def check_policy(model: str, backend: str, base_url: str | None = None, **server) -> None:
    """PonderError unless `model` can be opened on `backend`; loads no weights (module docstring)."""
    from ponder.policy import backend_options, check_model_dir

    if not model:
        raise PonderError("--model is required (a model directory, or a served model name with --backend openai)")
    backend_options(backend, base_url, **server)
    if backend in LOCAL_BACKENDS:
        check_model_dir(model)
        return
    policy = open_policy(model, backend, base_url, **server)  # an unknown backend: its one-line error
    policy.generate([policy.render("1+1=?")], 1, PROBE)
