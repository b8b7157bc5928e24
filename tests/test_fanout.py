"""`--ray` fan-out of `ponder eval` and `ponder curate`: the samples equal a single-process run's.

One local Ray instance with 2 CPUs serves the module; each stage runs once in-process and once
over 2 policy actors, at temperature 1 (so a wrong seed or a batch-dependent draw would show), on
the warm tiny model (so scores are not all 0).
"""

from __future__ import annotations

import dataclasses

import pytest

from ponder.errors import PonderError
from ponder.runs import RunDir

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    import logging

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def _run(stage, cfg):
    stage.check(cfg)
    return stage.run(cfg, RunDir.open(stage.__name__.split(".")[-1], cfg.out, cfg), progress=False)


def _same(a: list[dict], b: list[dict], keys: tuple[str, ...]) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        assert {k: x[k] for k in keys} == {k: y[k] for k in keys}


# first: while no Ray instance runs in this process, the local size check applies
def test_ray_options_are_checked_before_anything_runs(warm_model, tmp_path):
    import os

    from ponder import eval as stage
    from ponder.curate import CurateConfig
    from ponder.eval import EvalConfig

    out = tmp_path / "never"
    with pytest.raises(PonderError, match="cannot reach Ray at 127.0.0.1:1"):
        stage.check(EvalConfig(model=str(warm_model), ray="127.0.0.1:1", out=str(out)))
    if not ray.is_initialized():
        with pytest.raises(PonderError, match="do not fit a local Ray instance"):
            stage.check(EvalConfig(model=str(warm_model), ray="local", ray_actors=(os.cpu_count() or 1) + 1, out=str(out)))
    assert not out.exists()

    with pytest.raises(PonderError, match="--ray-actors"):
        EvalConfig(ray_actors=2)  # without --ray
    with pytest.raises(PonderError, match="--backend openai"):
        EvalConfig(ray="local", backend="openai")
    with pytest.raises(PonderError, match="--batch-problems"):
        CurateConfig(ray="local")  # one generate call per round: nothing to shard


def test_eval_over_two_actors_equals_one_process(warm_model, tmp_path, local_ray):
    from ponder import eval as stage
    from ponder.runs import read_parquet

    base = stage.EvalConfig(model=str(warm_model), tasks=("arith",), levels=(1, 2, 3), per_level=4, n=2,
                            batch_problems=3, temperature=1.0, max_new_tokens=48, seed=7, orchestrate=False,
                            verify_workers=1, out=str(tmp_path / "one"))
    fanned = dataclasses.replace(base, ray="local", ray_actors=2, out=str(tmp_path / "ray"))
    m_one, m_ray = _run(stage, base), _run(stage, fanned)
    one, two = read_parquet(tmp_path / "one" / "samples.parquet"), read_parquet(tmp_path / "ray" / "samples.parquet")
    _same(one, two, ("problem_id", "sample", "batch", "text", "score", "num_tokens"))
    assert len({r["batch"] for r in two}) == 4  # 12 problems in batches of 3: both actors had work
    assert len({r["text"] for r in one}) > len(one) // 2  # sampled, not greedy: the seeds matter
    assert 0 < m_one["summary"]["accuracy"] == m_ray["summary"]["accuracy"]


def test_curate_over_two_actors_equals_one_process(warm_model, tmp_path, local_ray):
    from ponder import curate as stage

    base = stage.CurateConfig(model=str(warm_model), tasks=("arith",), levels=(1, 2, 3), pool=12, max_samples=6,
                              first_round=2, window=(0.1, 0.9), batch_problems=4, temperature=1.0,
                              max_new_tokens=48, seed=3, out=str(tmp_path / "one"))
    fanned = dataclasses.replace(base, ray="local", ray_actors=2, out=str(tmp_path / "ray"))
    one, two = _run(stage, base), _run(stage, fanned)
    _same(one.samples, two.samples, ("problem_id", "round", "sample", "text", "score"))
    _same(one.estimates, two.estimates, ("id", "successes", "samples", "kept"))
    assert one.stats["rounds"] > 1  # later rounds (fewer active problems, other chunks) matched too
