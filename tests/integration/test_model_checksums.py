"""Model checksums at start-up, through the real commands: `enclave serve` and `enclave worker`
refuse to start, in one plain sentence and without a traceback, when a model file differs from
the checksum manifest (the model is never loaded)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port
from tests.unit.test_model_check import model_dir, write_manifest

ROOT = Path(__file__).resolve().parents[2]


def enclave(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """This checkout's `enclave` in its own process (no stray ENCLAVE_* or .env file)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**base, **env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", [["serve", "--port", str(free_port())], ["worker"]])
def test_a_tampered_model_file_refuses_to_start(tmp_path: Path, command: list[str]) -> None:
    model = model_dir(tmp_path)
    env = {
        "ENCLAVE_DATA_DIR": str(tmp_path / "data"),
        "ENCLAVE_EMBEDDER__KIND": "hash",
        "ENCLAVE_GENERATOR__KIND": "echo",
        "ENCLAVE_RERANKER__MODEL_PATH": str(model),
        "ENCLAVE_MODELS__MANIFEST": str(write_manifest(tmp_path, model)),
    }
    (model / "config.json").write_text('{"model_type": "bert", "auto_map": "evil"}')
    refused = enclave(command, env, tmp_path)
    assert refused.returncode == 1
    said = " ".join(refused.stderr.split())  # the console wraps long lines
    assert (
        f"error: The reranker model tiny-reranker at {model} does not match its checksums in "
        f"{tmp_path / 'manifest.json'} (config.json differs): it was changed or damaged. "
        "Restore it from the bundle."
    ) in said
    assert "Traceback" not in refused.stderr + refused.stdout
