"""Shared fixtures: the real tiny model, fresh (`tiny_model`) and briefly warm-started (`warm_model`).

Both return a model *directory* (HF format + ponder.json), built once per test session.
`warm_model` is the tiny model after a short `ponder.sft` run on arith levels 1-3 (about a minute
of CPU): it writes well-formed completions and solves most level-1/2 problems, which is what the
evaluation, curation and RL tests need. It is not the demo-quality warm start (see docs/policy.md).

Building it is the slow part, so the result is also cached across sessions under
$PONDER_TEST_CACHE (default: <tmp>/ponder-test-cache), keyed by a hash of the code and settings
that determine it; set PONDER_TEST_CACHE=off to always rebuild inside the session's tmp dir.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

import pytest

# The test machine's cores are shared: torch's default of one OpenMP thread per core spins at
# barriers when another process holds a core, which makes small ops 10-40x slower. One thread
# per process is faster there and no slower for the tiny model. Set before torch is imported;
# PONDER_TEST_THREADS or an explicit OMP_NUM_THREADS overrides.
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("PONDER_TEST_THREADS", "1"))

REPO = Path(__file__).resolve().parents[1]
# What the warm start depends on: changing any of these files or settings rebuilds it.
WARM_SOURCES = ("ponder/sft/config.py", "ponder/sft/data.py", "ponder/sft/loop.py", "ponder/policy/tiny.py", "ponder/policy/tokenizer.py", "ponder/policy/__init__.py",
                "ponder/policy/prompts.py",
                "ponder/tasks/arith.py", "ponder/format.py")
WARM_SETTINGS = dict(tasks=("arith",), levels=(1, 2, 3), level_weights=(3.0, 2.0, 1.0), steps=240,
                     batch_size=32, lr=2e-3, warmup=20, checkpoint_every=0, log_every=20, threads=1, seed=0)


def _warm_key() -> str:
    h = hashlib.sha256(repr(sorted(WARM_SETTINGS.items())).encode())
    for rel in WARM_SOURCES:
        p = REPO / rel
        h.update(p.read_bytes() if p.exists() else b"")
    return h.hexdigest()[:16]


def _build_warm(root: Path) -> Path:
    from ponder.policy.tiny import init_tiny
    from ponder.runs import RunDir
    from ponder.sft import SFTConfig, run

    base = init_tiny(root / "init")
    cfg = SFTConfig(model=str(base), out=str(root / "run"), **WARM_SETTINGS)
    return run(cfg, RunDir.open("sft", cfg.out, cfg), progress=False)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A freshly initialised tiny model directory (random weights)."""
    from ponder.policy.tiny import init_tiny

    return init_tiny(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def warm_model(tmp_path_factory) -> Path:
    """The tiny model briefly warm-started on arith (levels 1-3); built once, cached by code hash."""
    cache = os.environ.get("PONDER_TEST_CACHE", str(Path(tempfile.gettempdir()) / "ponder-test-cache"))
    if cache.lower() in ("off", "0", "no", ""):
        return _build_warm(tmp_path_factory.mktemp("warm"))
    root = Path(cache) / f"warm-{_warm_key()}"
    root.mkdir(parents=True, exist_ok=True)
    model = root / "run" / "model"
    with open(root / ".lock", "w") as lock:  # two test sessions at once build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (model / "ponder.json").exists():
            for stale in ("init", "run"):
                import shutil

                shutil.rmtree(root / stale, ignore_errors=True)
            _build_warm(root)
    return model


@pytest.fixture(scope="session")
def load_live():
    """model dir -> (model, tokenizer, HFPolicy over that in-memory model), freshly loaded per call,
    so a test can train the weights the policy samples from (as the trainer does)."""
    def load(model_dir):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ponder.policy.hf import HFPolicy

        model = AutoModelForCausalLM.from_pretrained(model_dir)
        tok = AutoTokenizer.from_pretrained(model_dir)
        return model, tok, HFPolicy.from_model(model, tok)

    return load
