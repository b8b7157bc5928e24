"""kill -9 each long stage at seeded moments, resume, and compare with an uninterrupted run.

Real `ponder` subprocesses on tiny configs (CPU, one thread): sft, train, eval and curate are
deterministic there, so the resumed run's outputs must equal the uninterrupted run's exactly
(model weights bit for bit, samples row for row); only wall-clock columns are left out. After
every kill every file in the run directory must load (see killpoints.readable).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from killpoints import (
    kill_and_resume,
    ponder,
    record,
    run_ok,
    schedule,
    wait_for_no_process_mentioning,
)

pytestmark = pytest.mark.reliability

KILLS = 3  # moments per stage; the seed makes them the same on every run
TIMING = {"elapsed_s", "step_time_s", "gen_time_s", "tokens_per_s", "gen_tokens_per_s", "gen_s", "verify_s",
          "wall_s", "time_s", "seconds"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from ponder.policy.tiny import init_tiny

    return str(init_tiny(tmp_path_factory.mktemp("kill9") / "tiny"))


def _drop_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING and not k.endswith("_s")} for r in rows]


def _weights_equal(a: Path, b: Path) -> bool:
    from safetensors.torch import load_file

    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


def _table(path: Path, keys: list[str]) -> list[dict]:
    from ponder.runs import read_parquet

    rows = _drop_timing(read_parquet(path))
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))


def _stage(tmp_path, name, args, seed):
    """(reference dir, killed-and-resumed dir, KillLog) for `ponder NAME ARGS --out ...`."""
    a, b = tmp_path / "a", tmp_path / "b"
    ref_s = run_ok(ponder(name, *args, "--out", str(a)))
    log = kill_and_resume(ponder(name, *args, "--out", str(b)), ponder(name, "--resume", "--out", str(b)),
                          b, schedule(seed, KILLS), ref_s)
    assert not log.unreadable, log.unreadable
    return a, b, log


def test_sft_kill9_resume_bit_identical(tiny, tmp_path):
    args = ["--model", tiny, "--steps", "150", "--batch-size", "8", "--checkpoint-every", "10", "--log-every", "10",
            "--threads", "1", "--device", "cpu"]
    a, b, log = _stage(tmp_path, "sft", args, seed=11)
    from ponder.runs import read_jsonl

    equal = _weights_equal(a / "model", b / "model") and \
        _drop_timing(read_jsonl(a / "metrics.jsonl")) == _drop_timing(read_jsonl(b / "metrics.jsonl"))
    record("sft", log, equal, "model.safetensors bit-identical, metrics.jsonl equal")
    assert equal, log


def test_train_kill9_resume_bit_identical(tiny, tmp_path):
    args = ["--model", tiny, "--task", "arith", "--levels", "1-2", "--steps", "5", "--prompts-per-step", "2",
            "--group-size", "4", "--max-new-tokens", "12", "--reward", "correct:1,overlong:1", "--overlong-cache", "12",
            "--lr", "1e-3", "--save-every", "1", "--threads", "1", "--seed", "3", "--quiet"]
    a, b, log = _stage(tmp_path, "train", args, seed=12)
    from ponder.runs import read_jsonl

    equal = _weights_equal(a / "model", b / "model") and \
        _drop_timing(read_jsonl(a / "metrics.jsonl")) == _drop_timing(read_jsonl(b / "metrics.jsonl"))
    import pandas as pd

    ra, rb = (pd.read_parquet(d / "rollouts") for d in (a, b))
    keys = ["step", "group"]
    ra, rb = (r.drop(columns=[c for c in r.columns if c in TIMING or c.endswith("_s")]).sort_values(keys, kind="stable")
              .reset_index(drop=True) for r in (ra, rb))
    equal = equal and ra.equals(rb)
    record("train", log, equal, "model.safetensors bit-identical, metrics.jsonl and rollouts equal")
    assert equal, log


def test_eval_kill9_resume_same_samples(tiny, tmp_path):
    args = ["--model", tiny, "--tasks", "arith,countdown", "--levels", "1-2", "--per-level", "2", "-n", "2",
            "--max-new-tokens", "16", "--batch-problems", "1", "--verify-workers", "1", "--no-orchestrate"]
    a, b, log = _stage(tmp_path, "eval", args, seed=13)
    keys = ["problem_id", "sample"]
    sa, sb = _table(a / "samples.parquet", keys), _table(b / "samples.parquet", keys)
    equal = sa == sb and len(sa) == 8 * 2
    record("eval", log, equal, f"samples.parquet equal ({len(sa)} rows)")
    assert equal, log


def test_curate_kill9_resume_same_samples(tiny, tmp_path):
    args = ["--model", tiny, "--tasks", "arith", "--levels", "1-2", "--pool", "6", "--max-samples", "6",
            "--max-new-tokens", "12", "--batch-problems", "2", "--verify-timeout", "5"]
    a, b, log = _stage(tmp_path, "curate", args, seed=14)
    equal = True
    for name, keys in (("samples.parquet", ["problem_id", "sample"]), ("estimates.parquet", ["problem_id"]),
                       ("curated.parquet", ["id"])):
        if (a / name).exists() or (b / name).exists():
            try:
                equal = equal and _table(a / name, keys) == _table(b / name, keys)
            except KeyError:
                from ponder.runs import read_parquet

                equal = equal and read_parquet(a / name) == read_parquet(b / name)
    record("curate", log, equal, "samples, estimates and curated tables equal")
    assert equal, log


def test_sft_killed_before_its_first_checkpoint_resumes_by_starting_over(tiny, tmp_path):
    """Before: `--resume` said "no checkpoint" (exit 2) and a fresh start said "not empty", so a run
    killed in its first --checkpoint-every steps could be neither resumed nor restarted."""
    from ponder.runs import RunDir, append_jsonl, release_run
    from ponder.sft import SFTConfig

    args = ["--model", tiny, "--steps", "12", "--batch-size", "4", "--log-every", "4", "--threads", "1", "--device", "cpu"]
    run_ok(ponder("sft", *args, "--out", str(tmp_path / "a")))
    cfg = SFTConfig(model=tiny, out=str(tmp_path / "b"), steps=12, batch_size=4, log_every=4, threads=1, device="cpu")
    run = RunDir.open("sft", cfg.out, cfg)  # what a run killed at step 5 of 12 leaves: config + a metrics row
    append_jsonl(run / "metrics.jsonl", {"step": 4, "loss": 9.0})
    release_run(run.path)
    run_ok(ponder("sft", "--resume", "--out", cfg.out))
    from ponder.runs import read_jsonl

    assert _weights_equal(tmp_path / "a" / "model", tmp_path / "b" / "model")
    assert _drop_timing(read_jsonl(tmp_path / "a" / "metrics.jsonl")) == _drop_timing(read_jsonl(tmp_path / "b" / "metrics.jsonl"))


def test_sweep_kill9_resume_same_arms(tiny, tmp_path):
    """The sweep driver (Ray) killed at seeded moments. A stage in flight is not in the driver's
    process group: it dies with its Ray worker, which the test waits for before resuming (as the
    sweep's own test does); the arms' samples then equal an uninterrupted sweep's."""
    import yaml

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"command": "eval", "seeds": [0],
                                    "base": {"model": tiny, "per_level": 1, "n": 1, "max_new_tokens": 4,
                                             "levels": [1, 2], "verify_workers": 1},
                                    "grid": {"max_new_tokens": [2, 3]}}, sort_keys=False))
    a, b = tmp_path / "a", tmp_path / "b"
    ref_s = run_ok(ponder("sweep", str(spec), "--out", str(a), "--max-parallel", "1"))
    log = kill_and_resume(ponder("sweep", str(spec), "--out", str(b), "--max-parallel", "1"),
                          ponder("sweep", "--resume", "--out", str(b)), b, schedule(15, KILLS), ref_s,
                          settle=wait_for_no_process_mentioning)
    assert not log.unreadable, log.unreadable
    keys = ["problem_id", "sample"]
    arms = sorted(p.relative_to(a) for p in a.glob("arms/*/seed-0/run/samples.parquet"))
    equal = len(arms) == 2 and all(_table(a / p, keys) == _table(b / p, keys) for p in arms)
    record("sweep", log, equal, "both arms' samples.parquet equal")
    assert equal, log


DEMO_ARGS = ["--sft-steps", "10", "--rl-steps", "2", "--eval-per-level", "1", "--eval-n", "1", "--curate-pool", "5",
             "--window", "0,1"]


def _no_wall_clock(x):
    if isinstance(x, dict):
        return {k: _no_wall_clock(v) for k, v in x.items() if k not in TIMING and not k.endswith("_s")}
    return x


def _summary(run: Path) -> dict:
    """summary.json without its wall-clock fields (`seconds`, and the per-level `wall_s` of the
    abstraction axis), config.resume (how it was started) and config.out."""
    import json

    s = json.loads((run / "summary.json").read_text())
    s["config"].pop("resume"), s["config"].pop("out")
    return _no_wall_clock(s)


def _demos_equal(a: Path, b: Path, models: tuple[str, ...]) -> bool:
    """Two demo runs agree: summary.json (less wall clock), both evaluations' samples row for row,
    and the models of the `models` stages bit for bit."""
    keys = ["problem_id", "sample"]
    return _summary(a) == _summary(b) \
        and all(_weights_equal(a / m / "model", b / m / "model") for m in models) \
        and all(_table(a / e / "samples.parquet", keys) == _table(b / e / "samples.parquet", keys)
                for e in ("baseline", "trained"))


def test_demo_kill9_resume_same_summary(tmp_path):
    """The calibration demo (sft, eval, curate, train, eval in sub-directories) killed at seeded
    moments and resumed: finished stages are skipped, the killed one continues through its own
    --resume. Every stage is deterministic on CPU, so summary.json (less wall clock), both
    evaluations' samples and both models equal an uninterrupted demo's."""
    a, b, log = _stage(tmp_path, "demo", DEMO_ARGS, seed=16)
    equal = _demos_equal(a, b, models=("sft", "train"))
    record("demo", log, equal, "summary.json (less seconds) equal, both evals' samples equal, sft and RL models "
           "bit-identical")
    assert equal, log


@pytest.mark.parametrize("axis, seed", [("tools", 18), ("abstraction", 19)])
def test_axis_demo_kill9_resume_same_summary(tmp_path, axis, seed):
    """The tools and abstraction axes (sft, eval, RL, eval through ponder/demo/pipeline.py)
    killed at two seeded moments and resumed: the same summary, samples and RL model."""
    args = ["--axis", axis, "--sft-steps", "10", "--rl-steps", "1", "--eval-per-level", "1", "--eval-n", "1"]
    a, b = tmp_path / "a", tmp_path / "b"
    ref_s = run_ok(ponder("demo", *args, "--out", str(a)))
    log = kill_and_resume(ponder("demo", *args, "--out", str(b)), ponder("demo", "--resume", "--out", str(b)),
                          b, schedule(seed, 2), ref_s)
    assert not log.unreadable, log.unreadable
    equal = _demos_equal(a, b, models=("train",))
    record(f"demo --axis {axis}", log, equal, "summary.json (less wall clock) equal, both evals' samples equal, "
           "RL model bit-identical")
    assert equal, log


def test_demo_resume_is_refused_in_one_line_where_an_axis_cannot_resume(tmp_path):
    import subprocess

    from killpoints import env

    r = subprocess.run(ponder("demo", "--axis", "strategy", "--resume", "--out", str(tmp_path / "x")), env=env(),
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and "--resume is not available for --axis strategy" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_eval_resume_refuses_another_backend_or_api(tmp_path):
    """Before: --resume with --api chat continued a run sampled through the completions API
    (ponder's prompt vs the server's chat template), mixing two evaluations in one table."""
    from ponder.errors import PonderError
    from ponder.eval import EvalConfig, check
    from ponder.runs import RunDir, release_run

    out = str(tmp_path / "run")
    first = EvalConfig(model="m", tasks=("arith",), levels=(1,), per_level=1, backend="openai",
                       base_url="http://127.0.0.1:9/v1", out=out)
    release_run(RunDir.open("eval", out, first).path)
    for change, name in (({"api": "chat"}, "api"), ({"backend": "hf", "base_url": ""}, "backend")):
        cfg = EvalConfig(**{**{k: getattr(first, k) for k in ("model", "tasks", "levels", "per_level", "backend",
                                                                "base_url", "out")}, **change, "resume": True})
        with pytest.raises(PonderError, match=f"--resume: {name} was"):
            check(cfg)
