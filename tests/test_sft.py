"""`ponder sft`: the warm start's data mix, the command, and resume after a kill (real model, real process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_mode_mix_is_independent_of_difficulty():
    from ponder.policy.tokenizer import build_tokenizer
    from ponder.sft import SFTConfig, pool_examples
    from ponder.tasks import get_task

    tok = build_tokenizer()
    cfg = SFTConfig(model="m", levels=(1, 5), level_weights=(1, 1), batch_size=100, think_prob=0.5)
    counts = {1: [0, 0], 5: [0, 0]}  # level -> [examples, with think]
    for pool in range(2):
        for batch in pool_examples(cfg, pool, tok, [get_task("arith")]):
            for ids, plen in batch:
                prompt, completion = tok.decode(ids[:plen]), tok.decode(ids[plen:])
                level = 1 if prompt.count("+") + prompt.count("-") == 1 else 5
                counts[level][0] += 1
                counts[level][1] += completion.startswith("<think>")
                assert completion.endswith("</answer></s>") and prompt.endswith("=?\n")
    for level, (n, think) in counts.items():
        assert n > 500 and 0.42 < think / n < 0.58, (level, n, think)  # ~Binomial(n, 0.5)


def test_mode_mix_is_configurable():
    from ponder.policy.tokenizer import build_tokenizer
    from ponder.sft import SFTConfig, pool_examples
    from ponder.tasks import get_task

    tok = build_tokenizer()
    for p, want in ((0.0, 0), (1.0, 64 * 8)):
        cfg = SFTConfig(model="m", batch_size=64, think_prob=p)
        ex = [tok.decode(ids[plen:]) for b in pool_examples(cfg, 0, tok, [get_task("arith")]) for ids, plen in b]
        assert sum(c.startswith("<think>") for c in ex) == want


def test_sft_loss_weighs_the_mode_token_the_same_in_short_and_long_batches():
    import torch

    from ponder.sft import sft_loss

    def first_token_grad(prompt: int, completion: int, mean_tokens: float):
        T, V = prompt + completion, 7
        logits = torch.zeros(2, T, V, requires_grad=True)
        labels = torch.full((2, T), -100)
        labels[:, prompt:] = 3
        sft_loss(logits, labels, mean_tokens).backward()
        return logits.grad[:, prompt - 1]  # the logits that predict the first completion token

    short, long = first_token_grad(4, 2, 10.0), first_token_grad(4, 20, 10.0)
    assert torch.allclose(short, long)  # 1 / mean_tokens in both; a plain batch mean gives 1/4 vs 1/40
    assert not torch.allclose(first_token_grad(4, 2, 4.0), long)
    # with mean_tokens equal to the batch's tokens it is the plain mean cross-entropy
    logits, labels = torch.randn(3, 9, 7), torch.randint(0, 7, (3, 9))
    labels[:, :4] = -100
    plain = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 7), labels[:, 1:].reshape(-1), ignore_index=-100)
    assert float(sft_loss(logits, labels, float((labels[:, 1:] != -100).sum()))) == pytest.approx(float(plain), rel=1e-6)


def test_lr_schedule():
    from ponder.sft import SFTConfig, lr_at

    cfg = SFTConfig(model="m", steps=110, warmup=10, lr=1e-3)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half-way through the cosine
    assert lr_at(110, cfg) == pytest.approx(1e-4)


def test_cli_sft_writes_model_curve_and_flops(tiny_model, tmp_path, capsys):
    from ponder.cli import main
    from ponder.ledger import read_meta
    from ponder.runs import read_jsonl

    run = tmp_path / "run"
    rc = main(["sft", "--model", str(tiny_model), "--tasks", "arith", "--steps", "3", "--batch-size", "4",
               "--log-every", "1", "--out", str(run), "--difficulties", "1,2"])
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(run / "model")
    rows = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["loss"] > 0 for r in rows)
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    meta = read_meta(run / "model")
    assert meta["flops"]["sft"] == 6 * meta["params"] * rows[-1]["tokens"]
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(run / "model")


def test_cli_sft_bad_input_one_line_nothing_written(tiny_model, tmp_path, capsys):
    from ponder.cli import main

    cases = [
        (["--model", str(tiny_model), "--tasks", "nosuchtask"], "unknown task"),
        (["--model", str(tmp_path / "missing")], "model directory not found"),
        (["--model", str(tiny_model), "--think-prob", "1.5"], "think-prob"),
        (["--model", str(tiny_model), "--difficulties", "1,2", "--difficulty-weights", "1"], "--level-weights has 1"),
        (["--model", str(tiny_model), "--levels", "1,2", "--level-weights", "1,-1"], "non-negative"),
        (["--model", str(tiny_model), "--levels", "9"], "level 9 is not a level of any of arith"),
        (["--resume"], "--resume needs --out"),
    ]
    for i, (extra, message) in enumerate(cases):
        out = tmp_path / f"out{i}"
        argv = ["sft", *extra] + ([] if "--resume" in extra else ["--out", str(out)])
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not out.exists()


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


def test_two_threads_give_the_same_weights_and_the_callers_thread_count_comes_back(tiny_model, tmp_path):
    """The demo warm-starts on two threads and samples on one in the same process: the stage's
    threads must not leak, and two threads must not change the result (it is only faster)."""
    import torch

    from ponder.runs import RunDir
    from ponder.sft import SFTConfig, run

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        outs = {}
        for t in (1, 2):
            cfg = SFTConfig(model=str(tiny_model), tasks=("route",), levels=(4, 5), steps=4, batch_size=8,
                            warmup=2, checkpoint_every=0, seed=0, threads=t, out=str(tmp_path / f"t{t}"))
            outs[t] = _weights(run(cfg, RunDir.open("sft", cfg.out, cfg), progress=False))
            assert torch.get_num_threads() == 1
        assert outs[1].keys() == outs[2].keys()
        assert all(torch.equal(outs[1][k], outs[2][k]) for k in outs[1])
    finally:
        torch.set_num_threads(before)


def test_the_demos_warm_start_threads_are_capped_at_the_usable_cores(monkeypatch):
    import os

    from ponder.demo.config import DemoConfig, sft_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert sft_threads(DemoConfig()) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert sft_threads(DemoConfig()) == 2
    assert sft_threads(DemoConfig(sft_threads=3)) == 3
    assert sft_threads(DemoConfig(sft_threads=0)) == 0


def test_resume_after_kill_matches_uninterrupted(tiny_model, tmp_path):
    """Kill a real `ponder sft` process after its first checkpoint; --resume ends where a clean run does."""
    import torch

    from ponder.cli import main
    from ponder.runs import read_jsonl

    args = ["--model", str(tiny_model), "--steps", "30", "--batch-size", "2", "--checkpoint-every", "2",
            "--log-every", "1", "--difficulties", "1", "--threads", "1"]
    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "ponder", "sft", *args, "--out", str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = killed / "checkpoints" / "last" / "trainer_state.pt"
    deadline = time.time() + 300
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists()
    assert not (killed / "model").exists(), "the run finished before it could be killed"

    assert main(["sft", "--out", str(killed), "--resume"]) == 0
    clean = tmp_path / "clean"
    assert main(["sft", *args, "--out", str(clean)]) == 0
    a, b = _weights(killed / "model"), _weights(clean / "model")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    steps = [r["step"] for r in read_jsonl(killed / "metrics.jsonl")]
    assert steps == list(range(1, 31))  # no step lost or logged twice
    meta_a = json.loads((killed / "model" / "ponder.json").read_text())
    meta_b = json.loads((clean / "model" / "ponder.json").read_text())
    assert meta_a["flops"] == meta_b["flops"]


def test_resume_refuses_a_different_data_stream(tiny_model, tmp_path, capsys):
    """--resume continues with the saved config; a flag that changes the data or the start model is refused."""
    from ponder.cli import main
    from ponder.runs import read_jsonl

    run = tmp_path / "run"
    assert main(["sft", "--model", str(tiny_model), "--steps", "2", "--batch-size", "2", "--levels", "1",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    before = (run / "config.yaml").read_text()
    for flag, value in (("--seed", "1"), ("--levels", "1,2"), ("--think-prob", "0.5")):
        assert main(["sft", "--out", str(run), "--resume", flag, value]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ponder: error: --resume:") and err.count("\n") == 1, err
    assert (run / "config.yaml").read_text() == before
    # more steps is allowed: the saved config supplies everything else
    assert main(["sft", "--out", str(run), "--resume", "--steps", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(run / "model")
    assert read_jsonl(run / "metrics.jsonl")[-1]["step"] == 3


def test_subcall_traces_mask_the_injected_results_and_mix_both_ways_of_solving():
    """With --subcall-prob, sumprod examples are sub-call traces (results masked out of the loss),
    single parts (a child's example) or serial traces; never a plan."""
    from ponder.policy.tokenizer import build_tokenizer
    from ponder.sft import SFTConfig, collate, pool_examples
    from ponder.tasks import get_task

    tok = build_tokenizer()
    cfg = SFTConfig(model="x", tasks=("sumprod",), subcall_prob=0.3, batch_size=8)
    batches = pool_examples(cfg, 0, tok, [get_task("sumprod")])
    kinds = {"spawn": 0, "child": 0, "serial": 0}
    for batch in batches:
        _, _, labels = collate(batch, 0, 512)
        for ex, lab in zip(batch, labels):
            text = tok.decode(ex[0])
            trained = tok.decode([x for x in lab.tolist() if x != -100])
            assert "<plan>" not in text
            if "<spawn>" in text:
                kinds["spawn"] += 1
                assert "<result>" in text and "<result>" not in trained and trained.startswith("<spawn>")
                assert "<join><think>" in trained or "<join><answer>" in trained
            else:
                kinds["child" if "+" not in text.split("\n")[0] else "serial"] += 1
                assert len(ex) == 2
    assert all(kinds.values()), kinds
