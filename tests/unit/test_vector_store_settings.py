"""Vector store settings fail closed: production refuses qdrant-client's local mode (a test
tool whose deletes stay on disk), and impossible write consistency is refused at start."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from app.auth.settings import AuthSettings
from app.settings import Settings
from retrieval.settings import VectorStoreSettings


def production(store: VectorStoreSettings) -> Settings:
    return Settings(
        mode="production",
        secret_key=SecretStr("x" * 64),
        auth=AuthSettings(local_admin=True),
        vector_store=store,
    )


@pytest.mark.parametrize("url", [None, ":memory:"])
def test_production_refuses_qdrant_local_mode(url: str | None) -> None:
    with pytest.raises(ValidationError, match="needs a Qdrant server"):
        production(VectorStoreSettings(kind="qdrant", url=url))


def test_production_takes_a_qdrant_server_and_embedded_takes_local_mode() -> None:
    server = VectorStoreSettings(kind="qdrant", url="http://qdrant:6333")
    assert production(server).vector_store.url == "http://qdrant:6333"
    local = VectorStoreSettings(kind="qdrant", url=":memory:")
    assert Settings(vector_store=local).vector_store.kind == "qdrant"


def test_write_consistency_above_the_replicas_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_VECTOR_STORE__REPLICATION_FACTOR", "2")
    monkeypatch.setenv("ENCLAVE_VECTOR_STORE__WRITE_CONSISTENCY_FACTOR", "3")
    with pytest.raises(ValidationError, match="no write could succeed"):
        Settings(_env_file=None)  # type: ignore[call-arg]
