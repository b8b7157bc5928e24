"""Every command takes --config FILE (flags override it) and refuses a bad or contradictory config
with one line and exit status 2 before it creates its output.

Most cases run `ponder.cli.main` in-process (the config fails long before any model is loaded);
`train` and one case per error kind also run as a real `python -m ponder` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _run_in_process(argv: list[str], capsys) -> tuple[int, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse errors exit from inside parse_args
        rc = e.code
    return rc, capsys.readouterr().err


def _assert_one_line_error(rc: int, err: str, message: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("ponder: error: "), err
    assert message in lines[0], lines[0]


# (command words, a config file's text that is wrong for it, the message, extra flags)
# `OUT` in the flags is replaced by a path that must not exist afterwards.
BAD_FILES = {
    "sft": (["sft", "--model", "m"], "think_prob: 1.5\n", "--think-prob must be in [0, 1]"),
    "eval": (["eval", "--model", "m"], "n: 0\n", "-n must be >= 1"),
    "curate": (["curate", "--model", "m"], "window: [0.9, 0.1]\n", "window must satisfy"),
    "demo": (["demo"], "size: huge\n", "--size must be tiny or small"),
    "export": (["export", "--input", "x.jsonl"], "format: verl\nplain: true\n", "--plain applies to --format trl only"),
    "compare": (["compare", "a", "b"], "names: [one]\n", "--names needs two comma-separated labels"),
    "verify": (["verify", "--input", "x.jsonl"], "tasks: [arith, countdown]\n", "one task's verifier, got 2"),
    "tasks sample": (["tasks", "sample", "arith"], "n: -1\n", "-n must be >= 0"),
    "model init": (["model", "init"], "size: huge\n", "unknown model size 'huge'"),
}


def _out_flag(words: list[str], out: Path) -> list[str]:
    """The flag naming the command's output (a run directory, a directory, a file)."""
    if words[0] == "verify":
        return ["--out", str(out) + ".jsonl"]
    if words[:2] == ["tasks", "sample"]:
        return ["--out", str(out) + ".jsonl"]
    return ["--out", str(out)]


def _nothing_written(tmp_path: Path, keep: set[str]) -> None:
    assert {p.name for p in tmp_path.iterdir()} <= keep, sorted(p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_value_in_config_file(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a command that defaults to runs/<command>-<time> would write here
    words, text, message = BAD_FILES[name]
    cfg = _write(tmp_path / "bad.yaml", text)
    rc, err = _run_in_process([*words, "--config", str(cfg), *_out_flag(words, tmp_path / "out")], capsys)
    _assert_one_line_error(rc, err, message)
    _nothing_written(tmp_path, {"bad.yaml"})


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unknown_option_and_unparsable_file(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    words = BAD_FILES[name][0]
    for text, message in (("stepz: 3\n", "unknown option 'stepz'"), ("a: [1, 2\n", "cannot parse config")):
        cfg = _write(tmp_path / "bad.yaml", text)
        rc, err = _run_in_process([*words, "--config", str(cfg), *_out_flag(words, tmp_path / "out")], capsys)
        _assert_one_line_error(rc, err, message)
    _nothing_written(tmp_path, {"bad.yaml"})


def test_report_refuses_a_bad_config_and_writes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    cfg = _write(tmp_path / "bad.yaml", "runn: x\n")
    _assert_one_line_error(*_run_in_process(["report", "--config", str(cfg)], capsys), "unknown option 'runn'")
    _assert_one_line_error(*_run_in_process(["report"], capsys), "RUN is required")
    _assert_one_line_error(*_run_in_process(["report", str(run)], capsys), "not a finished eval run")
    assert list(run.iterdir()) == []


# Contradictory options: each names both sides.
CONTRADICTIONS = [
    (["eval", "--model", "m", "--base-url", "http://127.0.0.1:1/v1"], "--base-url is for --backend openai"),
    (["curate", "--model", "m", "--backend", "vllm", "--base-url", "http://127.0.0.1:1/v1"],
     "--base-url is for --backend openai (the vllm backend"),
    (["sft", "--model", "m", "--levels", "1,2,3", "--level-weights", "1,2"], "--level-weights has 2 values for 3 levels"),
    (["export", "--format", "verl", "--input", "x.jsonl", "--plain"], "--plain applies to --format trl only"),
    (["eval", "--model", "m", "--resume"], "--resume needs --out"),
]


@pytest.mark.parametrize("argv, message", CONTRADICTIONS)
def test_contradictory_flags(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = [] if "--resume" in argv else ["--out", str(tmp_path / "out")]
    rc, err = _run_in_process([*argv, *out], capsys)
    _assert_one_line_error(rc, err, message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "m", "--group-size", "1"], "group_size must be >= 2"),
    (["sft", "--model", "m", "--difficulties", "1,2", "--difficulty-weights", "1"], "--level-weights has 1 values"),
    (["eval", "--model", "m", "--config", "CFG"], "-n must be >= 1"),
])
def test_in_a_real_process(argv, message, tmp_path):
    cfg = _write(tmp_path / "c.yaml", "n: 0\n")
    argv = [str(cfg) if a == "CFG" else a for a in argv]
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "ponder", *argv, "--out", str(out)], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    _assert_one_line_error(r.returncode, r.stderr, message)
    assert "Traceback" not in r.stderr and not out.exists() and not (tmp_path / "runs").exists()


def test_train_config_file_is_checked_before_the_run_directory(tmp_path):
    cfg = _write(tmp_path / "t.yaml", "group_size: 1\n")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "ponder", "train", "--model", "m", "--config", str(cfg), "--out", str(out)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    _assert_one_line_error(r.returncode, r.stderr, "group_size must be >= 2")
    assert not out.exists()


# -- a good config file is used, and flags override it --------------------------------------------
def _configs():
    from ponder.commands.compare import CompareConfig
    from ponder.commands.export import ExportConfig
    from ponder.commands.model import ModelInitConfig
    from ponder.commands.report import ReportConfig
    from ponder.commands.tasks import SampleConfig
    from ponder.commands.verify import VerifyConfig
    from ponder.curate import CurateConfig
    from ponder.demo import DemoConfig
    from ponder.eval import EvalConfig
    from ponder.sft import SFTConfig

    # command words, its config class, file text, flags, {field: expected value}
    return [
        (["sft"], SFTConfig, "model: m\nsteps: 7\nlr: 0.01\ndifficulties: 1-2\n", ["--lr", "0.02"],
         dict(model="m", steps=7, lr=0.02, levels=(1, 2))),
        (["eval"], EvalConfig, "model: m\nn: 3\ntask: grid\nverify_timeout_s: 2\n", ["-n", "5"],
         dict(model="m", n=5, tasks=("grid",), verify_timeout=2.0)),
        (["curate"], CurateConfig, "model: m\npool: 9\nwindow: [0.2, 0.8]\n", ["--pool", "11"],
         dict(model="m", pool=11, window=(0.2, 0.8))),
        (["demo"], DemoConfig, "seed: 3\neval_n: 4\n", ["--seed", "5"], dict(seed=5, eval_n=4)),
        (["export"], ExportConfig, "format: trl\ninput: a.jsonl\nout: d\nplain: true\n", ["--split", "test"],
         dict(format="trl", input="a.jsonl", out="d", plain=True, split="test")),
        (["report"], ReportConfig, "run: runs/a\n", ["runs/b"], dict(run="runs/b")),
        (["compare"], CompareConfig, "run_a: a\nrun_b: b\nnames: [x, y]\n", ["--names", "p,q"],
         dict(run_a="a", run_b="b", names=("p", "q"))),
        (["verify"], VerifyConfig, "task: arith\ninput: i.jsonl\ntimeout: 2\n", ["--verify-timeout", "3"],
         dict(tasks=("arith",), input="i.jsonl", verify_timeout=3.0)),
        (["tasks", "sample"], SampleConfig, "name: grid\nn: 2\n", ["-d", "2-3"], dict(name="grid", n=2, levels=(2, 3))),
        (["model", "init"], ModelInitConfig, "out: m\nsize: small\n", ["--seed", "4"], dict(out="m", size="small", seed=4)),
    ]


def test_every_command_reads_its_config_file_and_flags_override_it(tmp_path):
    from ponder.config import resolve_config

    parser = build_parser()
    for words, cls, text, flags, want in _configs():
        cfg_file = _write(tmp_path / f"{'-'.join(words)}.yaml", text)
        args = parser.parse_args([*words, "--config", str(cfg_file), *flags])
        cfg = resolve_config(cls, args)
        for k, v in want.items():
            assert getattr(cfg, k) == v, (words, k, getattr(cfg, k), v)
    toml = _write(tmp_path / "e.toml", 'model = "m"\nlevels = [2, 4]\n')
    assert resolve_config(_configs()[1][1], parser.parse_args(["eval", "--config", str(toml)])).levels == (2, 4)


def test_model_init_from_a_config_file(tmp_path, capsys):
    from ponder.ledger import read_meta

    cfg = _write(tmp_path / "m.yaml", f"out: {tmp_path / 'ignored'}\nseed: 3\n")
    assert main(["model", "init", "--config", str(cfg), "--out", str(tmp_path / "model")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "model")
    assert read_meta(tmp_path / "model")["params"] > 0 and not (tmp_path / "ignored").exists()
