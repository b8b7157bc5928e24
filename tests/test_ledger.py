"""The compute ledger: pre-training entries, and sampling that dynamic sampling throws away."""

from __future__ import annotations

import contextlib

import pytest

from ponder.ledger import PRETRAIN, post_training_share, pretrain_entry, train_flops


def test_pretrain_entry_is_6NT_or_the_given_flops():
    meta = {"params": 100, "flops": {"sft": 5.0}}
    got = pretrain_entry(meta, 100, tokens=1000)
    assert got["flops"] == {"sft": 5.0, PRETRAIN: train_flops(100, 1000)} == {"sft": 5.0, PRETRAIN: 600000.0}
    assert got["pretrain_tokens"] == 1000 and meta["flops"] == {"sft": 5.0}  # a copy
    assert pretrain_entry(meta, 100, flops=7.0)["flops"][PRETRAIN] == 7.0
    assert pretrain_entry(meta, 100) == meta
    # with pre-training recorded, a little RL is a little share (without it: 100%)
    assert post_training_share({"rl": 1.0}) == 1.0
    assert post_training_share(pretrain_entry({"flops": {"rl": 1.0}}, 1, flops=99.0)["flops"]) == pytest.approx(0.01)


def test_import_records_pretraining_from_flags_or_the_package_figure():
    from ponder.errors import PonderError
    from ponder.model import ImportConfig, pretrain_meta

    assert pretrain_meta(ImportConfig(gguf="x.gguf", out="o", pretrain_tokens=10), 3)["flops"] == {PRETRAIN: 180.0}
    assert pretrain_meta(ImportConfig(gguf="x.gguf", out="o", pretrain_flops=5), 3)["flops"] == {PRETRAIN: 5.0}
    assert pretrain_meta(ImportConfig(gguf="x.gguf", out="o"), 3)["flops"] == {}
    # the packaged SmolLM2-135M: 2T tokens per its model card
    assert pretrain_meta(ImportConfig(gguf="smollm2", out="o"), 3)["flops"] == {PRETRAIN: 6 * 3 * 2e12}
    with pytest.raises(PonderError, match="give one"):
        ImportConfig(gguf="x.gguf", out="o", pretrain_tokens=1, pretrain_flops=1)


def test_import_bad_input_one_line_nothing_written(tmp_path, capsys):
    from ponder.cli import main

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 16)
    cases = [(["--gguf", str(tmp_path / "none.gguf")], "no such file"),
             (["--gguf", str(bad)], "is not a GGUF file"),
             (["--gguf", str(bad), "--dtype", "float16"], "expected one of float32, bfloat16"),
             ([], "--gguf is required")]
    for flags, message in cases:
        out = tmp_path / "out"
        with pytest.raises(SystemExit) if "--dtype" in flags else contextlib.nullcontext():  # argparse's own exit
            rc = main(["model", "import", "--out", str(out), *flags])
            assert rc == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_dynamic_sampling_dropped_groups_are_counted_as_generated():
    from ponder.rewards import combine
    from ponder.rl import TrainConfig
    from ponder.rl.data import PromptSource
    from ponder.rl.rollout import collect
    from tests.helpers import RecordingPolicy

    # every completion is "<answer>0</answer>" (3 tokens): every group has zero variance and is
    # dropped, in the first round and in the one re-sampling round; all 2 x 2 x 2 samples cost
    cfg = TrainConfig(model="x", prompts_per_step=2, group_size=2, max_new_tokens=8, dynamic_sampling=True,
                      max_resample_rounds=1)
    batch = collect(RecordingPolicy(), PromptSource.from_task("arith", levels=(1,), seed=7), combine("correct:1"), cfg)
    assert batch.completions == [] and batch.dropped_groups == 4
    assert batch.generated_tokens == 2 * 2 * 2 * 3
