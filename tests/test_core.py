"""Config resolution, atomic run-directory writes and the core records."""

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import pytest

from ponder.config import add_config_args, parse_int_list, resolve_config
from ponder.errors import PonderError
from ponder.runs import RunDir, atomic_write_text, read_problems, write_problems
from ponder.types import Completion, Problem


@dataclass
class Cfg:
    steps: int = field(default=10, metadata={"help": "optimiser steps"})
    lr: float = field(default=1e-3, metadata={"help": "learning rate"})
    tasks: tuple[str, ...] = ("arith",)
    levels: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={"aliases": ("--difficulties",)})
    resume: bool = False
    out: str | None = None

    def __post_init__(self):
        if self.steps <= 0:
            raise PonderError(f"steps must be positive, got {self.steps}")


def _parse(argv):
    p = argparse.ArgumentParser()
    add_config_args(p, Cfg)
    return p.parse_args(argv)


def test_defaults_file_and_flags_layer(tmp_path):
    assert resolve_config(Cfg, _parse([])) == Cfg()
    f = tmp_path / "c.yaml"
    f.write_text("steps: 20\nlr: 0.5\ntasks: [a, b]\n")
    cfg = resolve_config(Cfg, _parse(["--config", str(f), "--lr", "0.1", "--difficulties", "1-3,5"]))
    assert cfg == Cfg(steps=20, lr=0.1, tasks=("a", "b"), levels=(1, 2, 3, 5))
    t = tmp_path / "c.toml"
    t.write_text('steps = 3\nresume = true\nout = "x"\n')
    assert resolve_config(Cfg, _parse(["--config", str(t)])) == Cfg(steps=3, resume=True, out="x")


def test_alias_spellings_in_flags_and_files(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("difficulties: 2-3\n")
    assert resolve_config(Cfg, _parse(["--config", str(f)])).levels == (2, 3)
    assert resolve_config(Cfg, _parse(["--config", str(f), "--levels", "1"])).levels == (1,)  # flags win
    f.write_text("difficulties: 2-3\nlevels: [1]\n")
    with pytest.raises(PonderError, match="levels is given twice"):
        resolve_config(Cfg, _parse(["--config", str(f)]))


def test_resume_starts_from_the_saved_config(tmp_path):
    run = RunDir.create("x", tmp_path / "run")
    run.write_config(Cfg(steps=7, tasks=("b",), out=str(tmp_path / "run")))
    cfg = resolve_config(Cfg, _parse(["--out", str(tmp_path / "run"), "--resume", "--lr", "0.5"]))
    assert cfg == Cfg(steps=7, lr=0.5, tasks=("b",), resume=True, out=str(tmp_path / "run"))
    # without --resume the saved run is not read
    assert resolve_config(Cfg, _parse(["--out", str(tmp_path / "run")])).steps == 10


def test_bad_values_are_one_line_errors(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("stepz: 3\n")
    with pytest.raises(PonderError, match="unknown option 'stepz'"):
        resolve_config(Cfg, _parse(["--config", str(f)]))
    f.write_text("steps: many\n")
    with pytest.raises(PonderError, match="bad value for steps"):
        resolve_config(Cfg, _parse(["--config", str(f)]))
    with pytest.raises(PonderError, match="steps must be positive"):
        resolve_config(Cfg, _parse(["--steps", "0"]))
    with pytest.raises(SystemExit):
        _parse(["--steps", "x"])
    with pytest.raises(PonderError, match="not found"):
        resolve_config(Cfg, _parse(["--config", str(tmp_path / "missing.yaml")]))


def test_parse_int_list():
    assert parse_int_list("1-5") == (1, 2, 3, 4, 5)
    assert parse_int_list("2, 4-5") == (2, 4, 5)
    with pytest.raises(ValueError):
        parse_int_list("a-b")


def test_run_dir_writes_config_and_metrics(tmp_path):
    run = RunDir.create("eval", root=tmp_path)
    assert run.path.name.startswith("eval-") and run.path.is_dir()
    run.write_config(Cfg())
    assert "steps: 10" in (run / "config.yaml").read_text()
    run.log({"step": 1, "loss": 0.5})
    run.log({"step": 2, "loss": 0.25})
    assert [r["step"] for r in run.metrics()] == [1, 2]
    # a torn final line (crash mid-append) is skipped, not fatal
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "lo')
    assert [r["step"] for r in run.metrics()] == [1, 2]


def test_atomic_write_keeps_old_file_when_writer_dies(tmp_path):
    target = tmp_path / "table.txt"
    atomic_write_text(target, "old")
    script = textwrap.dedent(
        f"""
        import os, signal
        import ponder.runs as r
        real_replace = os.replace
        def die(*a):  # killed after the temp file is written, before the rename
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace = die
        r.atomic_write_text({str(target)!r}, "new" * 100000)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -signal.SIGKILL
    assert target.read_text() == "old"


def test_problem_and_completion_round_trip(tmp_path):
    p = Problem(id="t/1", task="t", prompt="1+1=?", answer="2", difficulty=1, meta={"a": [1, {"b": None}]})
    assert Problem.from_json(p.to_json()) == p
    for name in ("p.parquet", "p.jsonl"):
        write_problems(tmp_path / name, [p, p])
        assert read_problems(tmp_path / name) == [p, p]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.answer = "3"  # type: ignore[misc]
    c = Completion(text="<answer>2</answer>", token_ids=[1, 2], num_tokens=2)
    assert Completion.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    """mkstemp/mkdtemp make owner-only temp files; the finished file and directory must not stay 0600/0700."""
    import os
    import stat

    from ponder.runs import _UMASK, atomic_dir

    f = atomic_write_text(tmp_path / "report.html", "<html></html>")
    with atomic_dir(tmp_path / "model") as d:
        (d / "w.bin").write_bytes(b"x")
    assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~_UMASK != 0o600
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o777 & ~_UMASK != 0o700
    assert os.umask(_UMASK) == _UMASK  # the process umask is what runs.py read at import
