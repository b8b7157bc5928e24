"""`ponder sweep`: spec validation, grid expansion, the statistics, and real sweeps on a local Ray.

The real sweeps run `ponder eval` of the tiny random model on a few problems (a few seconds per
run); the driver is a subprocess, as a user runs it, so each test gets its own Ray instance.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ponder.cli import main
from ponder.sweep import aggregate, interval, parse_spec, plan, runs
from ponder.stats import t_quantile
from ponder.sweep.aggregate import find, non_overlapping
from ponder.sweep.arm import error_line, last_line, read_status, run_arm
from ponder.sweep.grid import Run, arms, shared_stages, units

REPO = Path(__file__).resolve().parents[1]


def _write(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "RAY_DISABLE_USAGE_STATS": "1"}


def _sweep(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ponder", "sweep", *args], capture_output=True, text=True,
                          env=_env(), timeout=240, **kw)


def test_help_lists_sweep(capsys):
    for argv in (["--help"], ["sweep", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    assert "sweep" in capsys.readouterr().out


# -- validation: one line, exit 2, nothing written ----------------------------------------------
GOOD = {"command": "eval", "base": {"model": "m"}, "grid": {"temperature": [0.5, 1.0]}, "seeds": [0, 1],
        "metrics": ["summary.accuracy"]}
PIPE = {"pipeline": [{"name": "sft", "command": "sft", "config": {"model": "m"}},
                     {"name": "train", "command": "train", "config": {"model": "{sft}/model"}}],
        "grid": {"train.lr": [1e-4, 3e-4]}, "seeds": [0], "metrics": ["train.final.accuracy"]}


@pytest.mark.parametrize("change, message", [
    ({"command": "trian"}, "unknown command 'trian'"),
    ({"grid": {"temperature": []}}, "grid: temperature needs a non-empty list"),
    ({"seeds": []}, "seeds: expected a non-empty list"),
    ({"seeds": [0, -1]}, "seeds: expected a non-empty list"),
    ({"seeds": ["a"]}, "seeds: expected a non-empty list"),
    ({"seeds": [1, 1]}, "repeats a seed"),
    ({"grids": {}}, "unknown key 'grids'"),
    ({"base": {"model": "m", "seed": 3}}, "'seed' is set per run by the sweep"),
    ({"grid": {"out": ["a", "b"]}}, "'out' is set per run by the sweep"),
    ({"grid": {"temperature": [1, 1]}}, "two arms get the name"),
    ({"metrics": "summary.accuracy"}, "metrics: expected a list"),
    ({"resources": {"cpus": 0}}, "resources.cpus must be a number > 0"),
    ({"curve": {"x": "time"}}, "curve.x: expected one of"),
    ({"pipeline": [{"command": "eval"}]}, "exactly one of `command`"),
    ({"grid": {"eval.temperature": [0.5]}}, "options have no dots"),
    ({"grid": {"temprature": [0.5, 1.0]}}, "base: `ponder eval` has no option 'temprature'; did you mean 'temperature'?"),
])
def test_bad_spec_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, change, message):
    spec = _write(tmp_path / "spec.yaml", {**GOOD, **change})
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ponder: error:") and "\n" not in err and message in err, err
    assert not out.exists()


@pytest.mark.parametrize("change, message", [
    ({"pipeline": [{"name": "sft", "command": "sft"}, {"name": "train", "command": "train",
                                                       "config": {"model": "{eval}/model"}}]},
     "{eval} names no earlier stage (earlier stages: sft)"),
    ({"pipeline": [{"name": "train", "command": "train", "config": {"model": "{sft}/model"}},
                   {"name": "sft", "command": "sft"}], "grid": {}}, "{sft} names no earlier stage"),
    ({"metrics": ["final.accuracy"]}, "must start with the stage it reads"),
    ({"grid": {"lr": [1, 2]}}, "must be STAGE.OPTION"),
    ({"base": {}}, "`base` is for a single `command`"),
    ({"curve": {"stage": "eval"}}, "curve.stage: 'eval' names no stage"),
    ({"pipeline": [{"name": "sft", "command": "sft", "config": {"stepz": 3}}], "grid": {}},
     "stage sft: `ponder sft` has no option 'stepz'; did you mean 'steps'?"),
])
def test_bad_pipeline_spec(tmp_path, capsys, change, message):
    spec = _write(tmp_path / "spec.yaml", {**PIPE, **change})
    assert main(["sweep", str(spec), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err


@pytest.mark.parametrize("argv, message", [
    (["--resume"], "--resume needs --out"),
    (["S", "--dry-run", "--resume", "--out", "x"], "contradict"),
    (["S", "--max-parallel", "0"], "--max-parallel must be >= 1"),
    (["S", "--aggregate-only", "x"], "takes no SPEC"),
    ([], "needs its SPEC"),
])
def test_bad_options(tmp_path, capsys, argv, message):
    assert main(["sweep", *argv]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_ray_address_fails_before_anything_is_written(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = _write(tmp_path / "spec.yaml", GOOD)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--address", f"127.0.0.1:{port}"]) == 2
    assert "cannot reach Ray at 127.0.0.1:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_resume_refuses_a_changed_spec(tmp_path, capsys):
    root = tmp_path / "sweep"
    root.mkdir()
    _write(root / "spec.yaml", parse_spec(GOOD).to_dict())
    (root / "config.yaml").write_text("out: x\n")
    other = _write(tmp_path / "spec.yaml", {**GOOD, "seeds": [0, 1, 2]})
    assert main(["sweep", str(other), "--resume", "--out", str(root)]) == 2
    assert "changes seeds" in capsys.readouterr().err


# -- expansion -----------------------------------------------------------------------------------
def test_grid_times_seeds_names_and_configs(tmp_path):
    spec = parse_spec({"command": "curate", "base": {"model": "m", "pool": 10},
                       "grid": {"window": [[0.1, 0.9], [0.0, 1.0]], "temperature": [0.5, 1.0],
                                "model": {"tiny": "runs/a/model", "other": "runs/b/model"}},
                       "seeds": "3-4"})
    names = [a.name for a in arms(spec)]
    assert len(names) == 8 and names[0] == "window=0.1_0.9,temperature=0.5,model=tiny"
    assert names[-1] == "window=0.0_1.0,temperature=1.0,model=other"
    all_runs = runs(spec)
    assert [r.key for r in all_runs[:3]] == [f"{names[0]}/seed-3", f"{names[0]}/seed-4", f"{names[1]}/seed-3"]
    (p,) = plan(spec, all_runs[-1], tmp_path)
    assert p.config == {"model": "runs/b/model", "pool": 10, "window": [0.0, 1.0], "temperature": 1.0, "seed": 4}
    assert p.home == tmp_path / "arms" / names[-1] / "seed-4" and p.run_dir == p.home / "run"
    assert spec.stages[0].config == {"model": "m", "pool": 10}  # the spec itself is not mutated


def test_pipeline_references_and_shared_warm_start(tmp_path):
    spec = parse_spec({"pipeline": [{"name": "sft", "command": "sft", "config": {"model": "m"}},
                                    {"name": "curate", "command": "curate", "config": {"model": "{sft}/model"}},
                                    {"name": "train", "command": "train",
                                     "config": {"model": "{sft}/model", "problems": "{curate}/curated.parquet"}}],
                       "grid": {"curate.window": {"curated": [0.1, 0.9], "all": [0.0, 1.0]}}, "seeds": [0, 1]})
    assert shared_stages(spec) == ("sft",)  # curate is set by the grid; train reads curate
    sft, curate, train = plan(spec, Run(arms(spec)[1], 1), tmp_path)
    assert sft.home == tmp_path / "shared" / "seed-1" / "sft"
    assert curate.home == tmp_path / "arms" / "window=all" / "seed-1" / "curate"
    assert curate.config == {"model": f"{sft.run_dir}/model", "window": [0.0, 1.0], "seed": 1}
    assert train.config["problems"] == f"{curate.run_dir}/curated.parquet"
    us = units(spec, tmp_path)
    assert [u.key for u in us] == ["shared/seed-0", "shared/seed-1", "window=curated/seed-0", "window=curated/seed-1",
                                   "window=all/seed-0", "window=all/seed-1"]
    assert [p.name for p in us[0].plans] == ["sft"] and [p.name for p in us[-1].plans] == ["curate", "train"]
    assert us[-1].deps == ("shared/seed-1",)
    one_arm = parse_spec({**{k: v for k, v in spec.to_dict().items()}, "grid": {}})
    assert shared_stages(one_arm) == ()  # nothing to share with a single arm


def test_spec_round_trips_through_its_saved_form():
    for data in (GOOD, PIPE, {**GOOD, "grid": {"model": {"a": "x", "b": "y"}}}):
        spec = parse_spec(data)
        assert parse_spec(yaml.safe_load(yaml.safe_dump(spec.to_dict()))) == spec


def test_dry_run_of_the_examples_lists_the_runs_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(REPO / "examples" / "demo-seeds.yaml"), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "1 arm(s) x 5 seed(s) = 5 runs" in text and "seeds: 0, 1, 2, 3, 4" in text and "claims.*.holds" in text
    assert main(["sweep", str(REPO / "examples" / "curation.yaml"), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "2 arm(s) x 3 seed(s) = 6 runs" in text and "window=curated" in text and "window=uncurated" in text
    assert "(run once per seed): sft" in text
    for spec in sorted((REPO / "examples").glob("*.yaml")):  # every shipped spec stays valid
        assert main(["sweep", str(spec), "--dry-run"]) == 0, spec.name
    assert list(tmp_path.iterdir()) == []


# -- statistics and metric lookup ------------------------------------------------------------------
def test_t_interval_against_hand_computed_values():
    # t(0.975, df) from tables
    for df, t in ((1, 12.706205), (2, 4.302653), (4, 2.776445), (9, 2.262157), (29, 2.045230)):
        assert t_quantile(0.975, df) == pytest.approx(t, abs=1e-6)
    s = interval([1.0, 2.0, 3.0, 4.0])
    # mean 2.5; sd = sqrt(((1.5^2 + 0.5^2) * 2) / 3) = sqrt(5/3); hw = 3.182446 * sd / 2
    assert s["mean"] == 2.5 and s["sd"] == pytest.approx(math.sqrt(5 / 3))
    assert s["half_width"] == pytest.approx(3.182446305 * math.sqrt(5 / 3) / 2, rel=1e-8)
    assert (s["lo"], s["hi"]) == pytest.approx((2.5 - s["half_width"], 2.5 + s["half_width"]))
    assert s["ci95"] == [s["lo"], s["hi"]]
    one = interval([0.7])
    assert one["mean"] == 0.7 and one["n"] == 1 and one["half_width"] is None and one["ci95"] is None
    assert interval([])["mean"] is None
    same = interval([0.5, 0.5, 0.5])
    assert same["half_width"] == 0.0
    stats = {"a": interval([1.0, 1.1]), "b": interval([5.0, 5.1]), "c": interval([1.0, 9.0]), "d": interval([5.0])}
    assert non_overlapping(stats) == [["a", "b"]]  # c overlaps both; d has no interval


def test_metric_paths():
    doc = {"claims": {"tokens_at_most_0.5": {"holds": True}, "think": {"holds": False}},
           "trained": {"by_difficulty": {"1": {"accuracy": 0.5}}}, "xs": [1, 2]}
    assert find(doc, "claims.tokens_at_most_0.5.holds".split(".")) == [("claims.tokens_at_most_0.5.holds", True)]
    assert find(doc, "claims.*.holds".split(".")) == [("claims.tokens_at_most_0.5.holds", True),
                                                       ("claims.think.holds", False)]
    assert find(doc, ["trained", "by_difficulty", "1", "accuracy"]) == [("trained.by_difficulty.1.accuracy", 0.5)]
    assert find(doc, ["xs", "1"]) == [("xs.1", 2)]
    assert find(doc, ["trained", "nope"]) == []


def _fake_sweep(root: Path, spec_data: dict, values: dict, curves: bool = True):
    """A finished sweep's directory without running anything: status.json + run/summary.json."""
    from ponder.runs import write_json

    spec = parse_spec(spec_data)
    root.mkdir(parents=True)
    _write(root / "spec.yaml", spec.to_dict())
    (root / "config.yaml").write_text("out: x\n")
    for r in runs(spec):
        (p,) = plan(spec, r, root)
        p.run_dir.mkdir(parents=True)
        v = values.get((r.arm.name, r.seed))
        state = "failed" if v is None else "done"
        write_json(p.home / "status.json", {"state": state, "wall_s": 2.0, "attempts": 1,
                                            "error": "ponder: error: boom" if v is None else None})
        if v is not None:
            write_json(p.run_dir / "summary.json", {"trained": {"accuracy": v}, "claims": {"a_0.5": {"holds": v > 0.5}}})
            if curves:
                (p.run_dir / "train").mkdir()
                (p.run_dir / "train" / "metrics.jsonl").write_text(
                    "".join(json.dumps({"step": s, "rl_flops": 1e9 * s, "accuracy": v * s / 3}) + "\n" for s in (1, 2, 3)))
    return spec


def test_aggregate_matches_the_runs(tmp_path, capsys):
    data = {"command": "demo", "grid": {"rl_steps": {"short": 10, "long": 20}}, "seeds": [0, 1, 2],
            "metrics": ["trained.accuracy", "claims.*.holds"]}
    vals = {("rl_steps=short", 0): 0.40, ("rl_steps=short", 1): 0.42, ("rl_steps=short", 2): 0.44,
            ("rl_steps=long", 0): 0.80, ("rl_steps=long", 1): 0.81}  # long/seed-2 failed
    root = tmp_path / "sweep"
    spec = _fake_sweep(root, data, vals)
    summary = aggregate(spec, root)
    import pandas as pd

    table = pd.read_parquet(root / "arms.parquet")
    assert list(table.columns) == ["arm", "rl_steps", "seed", "status", "wall_s", "attempts", "error",
                                   "trained.accuracy", "claims.a_0.5.holds"]
    assert list(table["status"]) == ["done"] * 5 + ["failed"]
    assert list(table["trained.accuracy"][:5]) == [0.40, 0.42, 0.44, 0.80, 0.81]
    assert list(table["claims.a_0.5.holds"][:5]) == [0.0, 0.0, 0.0, 1.0, 1.0]
    short, long = summary["arms"]["rl_steps=short"], summary["arms"]["rl_steps=long"]
    acc = short["metrics"]["trained.accuracy"]
    # mean 0.42, sd 0.02, hw = t(0.975, 2) * 0.02 / sqrt(3) = 4.302653 * 0.011547 = 0.049683
    assert acc["mean"] == pytest.approx(0.42) and acc["n"] == 3
    assert acc["half_width"] == pytest.approx(4.302652730 * 0.02 / math.sqrt(3))
    assert long["metrics"]["trained.accuracy"]["n"] == 2 and long["failed_seeds"] == [2]
    assert long["metrics"]["trained.accuracy"]["mean"] == pytest.approx(0.805)
    # two seeds: hw = t(0.975, 1) * sd / sqrt(2) = 12.706205 * 0.007071 / 1.414214 = 0.063531
    assert long["metrics"]["trained.accuracy"]["half_width"] == pytest.approx(0.0635310, abs=1e-6)
    assert summary["differ"]["trained.accuracy"] == [["rl_steps=short", "rl_steps=long"]]
    assert summary["failed"] == [{"run": "rl_steps=long/seed-2", "error": "ponder: error: boom"}]
    assert summary["runs"]["done"] == 5 and summary["unresolved"] == []
    html = (root / "report.html").read_text()
    assert "0.420 ± 0.050" in html and "data:image/png;base64," in html
    # --aggregate-only rewrites the same from the directories
    (root / "summary.json").unlink()
    assert main(["sweep", "--aggregate-only", str(root)]) == 0
    assert json.loads((root / "summary.json").read_text())["arms"] == json.loads(json.dumps(summary["arms"]))


def test_a_live_driver_lock_refuses_a_second_driver(tmp_path, capsys):
    from ponder.sweep.runner import driver_lock

    root = tmp_path / "sweep"
    _fake_sweep(root, {**GOOD, "command": "demo", "base": {}, "grid": {}}, {}, curves=False)
    with driver_lock(root):
        assert main(["sweep", "--resume", "--out", str(root)]) == 2
        err = capsys.readouterr().err
        assert "another sweep driver (pid " in err and "\n" not in err.strip()
        assert main(["sweep", "--aggregate-only", str(root)]) == 2
    assert main(["sweep", "--aggregate-only", str(root)]) == 0  # released


# -- one run, without Ray ---------------------------------------------------------------------------
def test_error_line():
    assert last_line("a\nb\r  \rtrain: 10%\r\n\n") == "train: 10%"
    assert error_line(2, "loading\nponder: error: no such model\n") == "ponder: error: no such model"
    assert error_line(-9, "eval:  5%|\r") == "killed by SIGKILL; last stderr line: eval:  5%|"
    assert error_line(1, "") == "exit status 1"


def test_run_arm_records_the_error_and_restarts_a_stage_that_refuses_to_resume(tmp_path):
    home = tmp_path / "run"
    (home / "run").mkdir(parents=True)
    (home / "run" / "config.yaml").write_text("model: x\n")  # as if an attempt died before its first batch
    _write(home / "config-in.yaml", {"model": str(tmp_path / "missing"), "seed": 0})
    task = {"root": str(home), "pipeline": False, "cwd": str(tmp_path), "threads": 1,
            "stages": [{"name": "eval", "command": "eval", "home": str(home), "run_dir": str(home / "run")}]}
    status = run_arm(task)
    assert status["state"] == "failed" and "missing" in status["error"] and status["error"].startswith("ponder: error:")
    assert read_status(home / "status.json") == status and status["attempts"] == 1
    log = (home / "stderr.log").read_text()
    assert "--resume" in log and "removed the interrupted run/" in log  # tried to resume, then started over
    assert run_arm(task)["attempts"] == 2


# -- real sweeps on a local Ray ----------------------------------------------------------------------
def _eval_spec(tmp_path: Path, model: Path, **extra) -> Path:
    data = {"command": "eval", "base": {"model": str(model), "per_level": 1, "n": 1, "max_new_tokens": 4},
            "seeds": [0, 1], "metrics": ["summary.accuracy", "summary.by_difficulty.*.mean_tokens"], **extra}
    return _write(tmp_path / "spec.yaml", data)


def test_sweep_on_ray_aggregates_the_runs_and_survives_a_failing_arm(tmp_path, tiny_model):
    spec = _eval_spec(tmp_path, tiny_model, grid={"model": {"tiny": str(tiny_model), "missing": str(tmp_path / "nope")}})
    root = tmp_path / "sweep"
    done = _sweep(str(spec), "--out", str(root), "--max-parallel", "2")
    assert done.returncode == 1, done.stderr  # one arm failed
    assert "2/4 runs done, 2 failed" in done.stdout
    import pandas as pd

    table = pd.read_parquet(root / "arms.parquet")
    assert list(table["arm"]) == ["model=tiny"] * 2 + ["model=missing"] * 2
    assert list(table["status"]) == ["done", "done", "failed", "failed"]
    assert all("nope" in e for e in table["error"][2:])
    status = read_status(root / "arms" / "model=missing" / "seed-0" / "status.json")
    assert status["state"] == "failed" and status["error"].startswith("ponder: error:") and "nope" in status["error"]
    summary = json.loads((root / "summary.json").read_text())
    tokens = []
    for i, seed in enumerate((0, 1)):
        run_dir = root / "arms" / "model=tiny" / f"seed-{seed}" / "run"
        cfg_in = yaml.safe_load((run_dir.parent / "config-in.yaml").read_text())
        assert cfg_in["seed"] == seed and cfg_in["model"] == str(tiny_model)
        truth = json.loads((run_dir / "metrics.json").read_text())["summary"]
        assert table["summary.accuracy"][i] == truth["accuracy"]
        assert table["summary.by_difficulty.1.mean_tokens"][i] == truth["by_difficulty"]["1"]["mean_tokens"]
        tokens.append(truth["by_difficulty"]["1"]["mean_tokens"])
    got = summary["arms"]["model=tiny"]["metrics"]["summary.by_difficulty.1.mean_tokens"]
    want = interval(tokens)
    assert got["n"] == 2 and got["mean"] == pytest.approx(want["mean"])
    assert got["half_width"] == pytest.approx(want["half_width"]) and got["ci95"] == pytest.approx(want["ci95"])
    assert summary["arms"]["model=missing"]["failed_seeds"] == [0, 1]
    assert (root / "report.html").exists() and (root / ".lock").exists()


def _processes_mentioning(path: Path) -> list[int]:
    """Pids whose command line names `path` (Linux /proc; empty elsewhere)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(path).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_resume_after_kill_9_runs_only_the_missing_arms(tmp_path, tiny_model):
    spec = _eval_spec(tmp_path, tiny_model, grid={"max_new_tokens": [2, 3]}, seeds=[0])
    root = tmp_path / "sweep"
    driver = subprocess.Popen([sys.executable, "-m", "ponder", "sweep", str(spec), "--out", str(root),
                               "--max-parallel", "1"], env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    statuses = [root / "arms" / f"max_new_tokens={k}" / "seed-0" / "status.json" for k in (2, 3)]
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not any(read_status(p).get("state") == "done" for p in statuses):
            assert driver.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.1)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    # the stage in flight dies with its Ray worker (no orphan left to race the resumed sweep); Ray
    # notices the dead driver within seconds on an idle machine, but took over 30 s at load 4
    deadline = time.time() + 90
    while _processes_mentioning(root) and time.time() < deadline:
        time.sleep(0.2)
    assert not _processes_mentioning(root)
    before = {p: (read_status(p).get("state"), p.stat().st_mtime_ns) for p in statuses if p.exists()}
    finished = [p for p, (state, _) in before.items() if state == "done"]
    assert len(finished) == 1  # one at a time: killed while the second ran (or waited to)
    resumed = _sweep("--resume", "--out", str(root))
    assert resumed.returncode == 0, resumed.stderr
    assert "1 of 2 runs already done; running the other 1" in resumed.stderr
    for p in statuses:
        st = read_status(p)
        assert st["state"] == "done"
        if p in finished:  # untouched: not re-run, not even re-written
            assert p.stat().st_mtime_ns == before[p][1] and st["attempts"] == 1
    summary = json.loads((root / "summary.json").read_text())
    assert summary["runs"]["done"] == 2 and summary["timing"]["sessions"] == 2
