"""An RL run on a mix of reasoning-gym datasets: a few steps on the tiny model, scored through the
verifier pool (the rg scoring sandbox in each worker), without a scoring timeout (-m gym)."""

from __future__ import annotations

import pytest

pytest.importorskip("reasoning_gym")
pytestmark = pytest.mark.gym

MIX = ["chain_sum", "basic_arithmetic", "gcd", "spell_backward", "letter_counting"]  # short ASCII prompts


def test_rl_on_a_mix_of_rg_datasets_scores_without_timeouts(tiny_model, tmp_path):
    from helpers import train
    from ponder.rl import TrainConfig
    from ponder.runs import write_jsonl
    from ponder.tasks import get_task
    from ponder.verify import shared_pool, verify_batch

    problems = [p for name in MIX for p in get_task(f"rg/{name}").sample(4, 1, seed=7)]
    write_jsonl(tmp_path / "mix.jsonl", [p.to_dict() for p in problems])
    cfg = TrainConfig(model=str(tiny_model), problems=str(tmp_path / "mix.jsonl"), levels=(1,), steps=3,
                      prompts_per_step=5, group_size=2, max_new_tokens=12, save_every=0, threads=1)
    run = train(cfg, tmp_path / "run")
    metrics = run.metrics()
    assert len(metrics) == 3 and all(0.0 <= m["reward_mean"] <= 1.0 for m in metrics)
    # the same pool scores every dataset's oracle 1.0 within the default 5 s per item
    oracles = [get_task(p.task).oracle(p) for p in problems]
    assert verify_batch(problems, oracles) == [1.0] * len(problems)
    assert shared_pool().timeouts == 0, list(shared_pool().errors)
