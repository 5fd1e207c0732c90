#!/usr/bin/env bash
# Run every test suite: lint, the fast default run, then the marked heavier suites (slow, eval).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 SCARF_NO_ANALYTICS=true DO_NOT_TRACK=true

# From Debian (nothing downloads its own binaries here): the browser for the web UI's
# end-to-end tests, and tesseract + poppler for the OCR path of scanned PDFs.
if [ ! -x /usr/bin/chromium ] || ! command -v tesseract >/dev/null || ! command -v pdftoppm >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium tesseract-ocr poppler-utils >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/pytest -m "not slow and not eval" "$@"
.venv/bin/pytest -m "slow or eval" "$@"
