"""The index records the embedder whose vectors it holds (app/index_embedder.py), on real SQLite
and qdrant-edge and over real HTTP: another model of the same size (as multilingual-e5-small is
to all-MiniLM-L6-v2) is refused before it mixes vectors, and `reembed` switches the index to it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app import index_embedder
from app.cli import cli, scope_of
from app.index_embedder import EmbedderMismatch
from app.runtime import Runtime, build_runtime
from app.services import reembed
from app.settings import ServerSettings
from retrieval.embedders import HashEmbedder
from retrieval.settings import VectorStoreSettings
from tests.support import FAST_ENV, fast_settings, live_server, sign_in

SAMPLES = Path(__file__).parents[2] / "samples"
NO_WORKER = ServerSettings(run_worker=False)


class SameSize(HashEmbedder):
    """Another model with the hash embedder's vector size (64)."""

    def __init__(self) -> None:
        super().__init__(64)
        self.name = "other-model"


def with_embedder(data: Path, embedder: HashEmbedder) -> Runtime:
    runtime = build_runtime(fast_settings(data, server=NO_WORKER))
    runtime.__dict__["embedder"] = embedder  # as if configured (the cached part)
    return runtime


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir with the samples ingested by `enclave ingest` (hash embedder)."""
    for name, value in {"ENCLAVE_DATA_DIR": str(tmp_path / "data"), **FAST_ENV}.items():
        monkeypatch.setenv(name, value)
    assert CliRunner().invoke(cli, ["ingest", str(SAMPLES), "-c", "handbook"]).exit_code == 0
    return tmp_path / "data"


def test_the_first_embedder_claims_the_index_and_a_same_size_one_is_refused(data: Path) -> None:
    same = with_embedder(data, HashEmbedder(64))
    try:
        assert index_embedder.recorded(same.sessions, same.index_key) == "hash:64 (64-dim)"
        assert same.retriever.search("pump", scope=scope_of(same, "handbook"), k=3).hits
    finally:
        same.close()

    other = with_embedder(data, SameSize())
    try:
        with pytest.raises(EmbedderMismatch) as refused:
            _ = other.retriever
        assert str(refused.value).startswith(
            "The index holds vectors of hash:64 (64-dim), but this process is configured with "
            "other-model (64-dim)."
        )
        assert "enclave reembed" in str(refused.value)
        with pytest.raises(EmbedderMismatch):
            _ = other.pipeline  # ingestion is refused too: no mixed index
        unchanged = index_embedder.recorded(other.sessions, other.index_key)
        assert unchanged == "hash:64 (64-dim)"
    finally:
        other.close()


def test_a_refused_embedder_answers_503_with_the_reason(data: Path) -> None:
    other = with_embedder(data, SameSize())
    try:
        with (
            live_server(other.settings, runtime=other) as base,
            httpx.Client(base_url=base, timeout=30) as http,
        ):
            sign_in(http, other.settings)
            refused = http.post("/v1/search", json={"query": "pump", "k": 3})
            assert refused.status_code == 503
            error = refused.json()["error"]
            assert error["code"] == "embedder_mismatch"
            assert "enclave reembed" in error["message"]
            assert "Traceback" not in refused.text
    finally:
        other.close()


def test_reembed_switches_the_index_and_servers_of_the_old_model_turn_unready(data: Path) -> None:
    old = with_embedder(data, HashEmbedder(64))
    try:
        old.warm_up()  # the server's parts, built as its start-up does
        with (
            live_server(old.settings, runtime=old) as base,
            httpx.Client(base_url=base, timeout=30) as http,
        ):
            assert http.get("/readyz").status_code == 200
            swaps = reembed.reembed_all(
                sessions=old.sessions,
                store=old.store,
                embedder=SameSize(),
                bm25=old.bm25,
                originals=old.originals,
                index_key=old.index_key,
            )
            assert swaps
            assert index_embedder.recorded(old.sessions, old.index_key) == "other-model (64-dim)"
            ready = http.get("/readyz")
            assert ready.status_code == 503
            index = ready.json()["checks"]["index"]
            assert (index["status"], index["error"]) == ("down", "EmbedderMismatch")
    finally:
        old.close()

    new = with_embedder(data, SameSize())
    try:
        assert new.retriever.search("pump", scope=scope_of(new, "handbook"), k=3).hits
    finally:
        new.close()
    again = with_embedder(data, HashEmbedder(64))
    try:
        with pytest.raises(EmbedderMismatch, match="holds vectors of other-model"):
            _ = again.retriever
    finally:
        again.close()


def test_each_qdrant_collection_records_its_own_embedder(tmp_path: Path) -> None:
    """A new collection (`ENCLAVE_VECTOR_STORE__COLLECTION`) may hold another model: the way to
    move to an embedder of another vector size on a Qdrant server."""

    def on_collection(name: str, embedder: HashEmbedder) -> Runtime:
        store = VectorStoreSettings(kind="qdrant", url=":memory:", collection=name)
        runtime = build_runtime(fast_settings(tmp_path / "data", vector_store=store))
        runtime.__dict__["embedder"] = embedder
        return runtime

    first, second = (
        on_collection("chunks_v1", HashEmbedder(64)),
        on_collection("chunks_v2", SameSize()),
    )
    try:
        _, _ = first.retriever, second.retriever  # each claims its own collection
        assert index_embedder.recorded(first.sessions, first.index_key) == "hash:64 (64-dim)"
        assert index_embedder.recorded(first.sessions, second.index_key) == "other-model (64-dim)"
        assert index_embedder.recorded(first.sessions, "embedder:edge") is None
    finally:
        first.close()
        second.close()
    again = on_collection("chunks_v1", SameSize())
    try:
        with pytest.raises(EmbedderMismatch):
            _ = again.retriever
    finally:
        again.close()
