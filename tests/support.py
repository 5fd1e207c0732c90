"""Shared test helpers: settings for fast runs and a real HTTP server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from app.main import create_app
from app.settings import Settings
from retrieval.settings import EmbedderSettings, RerankerSettings
from serving.settings import GeneratorSettings


def fast_settings(data_dir: Path, **overrides: object) -> Settings:
    """The embedded default with deterministic doubles for the models (hash embedder, echo
    generator, token-overlap reranker): real SQLite, real qdrant-edge, real HTTP."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "embedder": EmbedderSettings(kind="hash"),
        "reranker": RerankerSettings(kind="overlap"),
        "generator": GeneratorSettings(kind="echo"),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """Run the app with uvicorn in a thread; yields its base URL; stops it afterwards."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def wait_indexed(client: httpx.Client, document_id: str, timeout_s: float = 120) -> dict:
    """Poll a document until its status is final; returns the document."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = client.get(f"/v1/documents/{document_id}").json()
        if doc["status"] in ("indexed", "failed"):
            return doc
        time.sleep(0.1)
    raise TimeoutError(f"document {document_id} not indexed in {timeout_s} s")
