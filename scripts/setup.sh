#!/usr/bin/env bash
# Set up ponder in ./.venv. Usage: bash scripts/setup.sh [EXTRAS]   (e.g. dev, gym, "dev,gym")
#
# On a machine without an NVIDIA GPU this installs the CPU build of PyTorch first (a local
# wheel when pip can find one, else PyTorch's CPU index), so pip never pulls a CUDA build.
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
    # a local CPU wheel when pip's find-links has one (torch's own dependencies come from PyPI
    # with ponder's install below), else PyTorch's CPU index
    "${pip[@]}" --no-index --no-deps "torch==$ver" 2>/dev/null \
      || "${pip[@]}" "torch==$ver" --index-url "${PONDER_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}" \
      --extra-index-url https://pypi.org/simple
  fi
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
"${pip[@]}" -e "$spec" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import ponder, torch; print(f'ponder {ponder.__version__} ready (torch {torch.__version__})')"
