#!/usr/bin/env bash
# Run every test suite: lint, the fast default run, then the marked heavier suites (slow, eval).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 SCARF_NO_ANALYTICS=true DO_NOT_TRACK=true

# The browser for the web UI's end-to-end tests comes from Debian (no browser downloads here).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/pytest -m "not slow and not eval" "$@"
.venv/bin/pytest -m "slow or eval" "$@"
