"""`enclave doctor`: a healthy configuration passes (with a canary ingest → search → erase and a
verified receipt); a broken database URL, a missing model, a changed model file and another
embedder than the index's each fail with a plain sentence; `--url` asks a running server's
/healthz and /readyz."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.support import FAST_ENV, fast_settings, free_port, live_server
from tests.unit.test_model_check import model_dir, write_manifest


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The embedded default with doubles for the models, on a migrated data directory."""
    for name, value in {"ENCLAVE_DATA_DIR": str(tmp_path / "data"), **FAST_ENV}.items():
        monkeypatch.setenv(name, value)
    assert CliRunner().invoke(cli, ["migrate"]).exit_code == 0
    return tmp_path


def doctor(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["doctor", *args])
    return result.exit_code, result.output


def test_a_healthy_configuration_passes(env: Path) -> None:
    code, output = doctor()
    assert code == 0, output
    for sentence in (
        "The database schema is current",
        "The index loads and answers.",
        "A canary document was indexed, found by search, erased, and its receipt verifies",
        "No problem found.",
    ):
        assert sentence in output
    assert "FAILED" not in output


def test_an_unreachable_database_is_named_without_its_password(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://enclave:s3cret-pw@127.0.0.1:{free_port()}/enclave"
    monkeypatch.setenv("ENCLAVE_DATABASE__URL", url)
    code, output = doctor()
    assert code == 1
    assert "The database at postgresql+psycopg://enclave:***@127.0.0.1:" in output
    assert "cannot be reached: OperationalError: connection failed" in output
    assert "s3cret-pw" not in output
    assert "Not checked: it needs the database." in output


def test_a_missing_model_is_named(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = env / "models" / "bge-reranker-v2-m3"
    monkeypatch.delenv("ENCLAVE_RERANKER__KIND")  # a model path: the cross-encoder
    monkeypatch.setenv("ENCLAVE_RERANKER__MODEL_PATH", str(missing))
    code, output = doctor()
    assert code == 1
    assert f"The reranker model {missing} does not exist." in output
    assert "Not checked: it needs the models and parts above." in output


def test_a_changed_model_file_is_named(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = model_dir(env)
    monkeypatch.delenv("ENCLAVE_RERANKER__KIND")
    monkeypatch.setenv("ENCLAVE_RERANKER__MODEL_PATH", str(model))
    monkeypatch.setenv("ENCLAVE_MODELS__MANIFEST", str(write_manifest(env, model)))
    (model / "model.safetensors").write_bytes(b"tampered")
    code, output = doctor()
    assert code == 1
    assert (
        f"The reranker model tiny-reranker at {model} does not match its checksums in "
        f"{env / 'manifest.json'} (model.safetensors differs)"
    ) in output


def test_another_embedder_than_the_index_s_is_named(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert doctor()[0] == 0  # the canary ingests: the index records hash:64
    monkeypatch.setenv("ENCLAVE_EMBEDDER__HASH_DIM", "32")
    code, output = doctor()
    assert code == 1
    assert "The index holds vectors of hash:64 (64-dim), but this process is configured" in output
    assert "hash:32 (32-dim)" in output


def test_an_invalid_configuration_is_a_sentence(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_MODE", "production")
    code, output = doctor()
    assert code == 1
    assert "The configuration is invalid: " in output
    assert "ENCLAVE_SECRET_KEY must be set to a real secret" in output
    assert "Traceback" not in output


def test_a_running_deployment(tmp_path: Path) -> None:
    with live_server(fast_settings(tmp_path)) as base:
        code, output = doctor("--url", base)
    assert code == 0, output
    assert f"Enclave at {base} is alive." in output
    for name in ("database", "index", "embedder", "generator"):
        assert f"The {name} is ready" in output
    closed = f"http://127.0.0.1:{free_port()}"
    code, output = doctor("--url", closed)
    assert code == 1
    assert f"Nothing answers at {closed}: ConnectError" in output
