"""Shared test helpers: settings for fast runs and a real HTTP server on loopback."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from app import visibility
from app.auth import users
from app.db.models import Collection
from app.db.session import make_engine, make_session_factory, transaction
from app.http_server import uvicorn_options
from app.identity import Principal
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.services import answers, collections, documents, local_admin
from app.settings import Settings
from retrieval.settings import EmbedderSettings, RerankerSettings
from retrieval.types import Scope
from serving.protocols import Generator, Message
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


FAST_ENV = {  # `fast_settings` as environment variables, for tests of the CLI
    "ENCLAVE_EMBEDDER__KIND": "hash",
    "ENCLAVE_RERANKER__KIND": "overlap",
    "ENCLAVE_GENERATOR__KIND": "echo",
    "ENCLAVE_INGESTION__ISOLATE_PARSING": "false",
    "ENCLAVE_ERASURE__QUERY_GRACE_S": "0",
}


def new_collection(runtime: Runtime, name: str) -> Collection:
    """A collection created by the local admin, straight through the service."""
    admin = local_admin.principal(sessions=runtime.sessions)
    with transaction(runtime.sessions) as db:
        return collections.create(db=db, name=name, description="", admin_user_id=admin.id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(settings: Settings, *, runtime: Runtime | None = None) -> Iterator[str]:
    """Run the app with uvicorn in a thread (on `runtime`, owned by the caller, if given);
    yields its base URL; stops it afterwards."""
    port = free_port()
    server_settings = settings.server.model_copy(update={"host": "127.0.0.1", "port": port})
    settings = settings.model_copy(update={"server": server_settings})
    config = uvicorn.Config(
        create_app(settings, runtime=runtime),
        host="127.0.0.1",
        port=port,
        **uvicorn_options(settings),
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


class Scripted:
    """A generator that says what the test wrote (e.g. an invented number), one word per
    delta, `pause_s` apart."""

    name = "scripted"

    def __init__(self) -> None:
        self.script = ""
        self.pause_s = 0.0

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        for word in self.script.split(" "):
            time.sleep(self.pause_s)
            yield word + " "

    def close(self) -> None:
        """Nothing to release."""


@contextmanager
def served_with(
    settings: Settings, generator: Generator, *, timeout_s: float = 60
) -> Iterator[tuple[str, httpx.Client]]:
    """The real app on loopback (its worker running) answering with `generator` instead of the
    configured one; yields its base URL and a client signed in as the local admin."""
    runtime = build_runtime(settings)
    runtime.generator = generator  # type: ignore[misc]
    runtime.start_worker()
    try:
        with (
            live_server(settings, runtime=runtime) as base,
            httpx.Client(base_url=base, timeout=timeout_s) as http,
        ):
            sign_in(http, settings)
            yield base, http
    finally:
        runtime.close()


def wait_indexed(client: httpx.Client, document_id: str, timeout_s: float = 120) -> dict:
    """Poll a document until its status is final; returns the document."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = client.get(f"/v1/documents/{document_id}").json()
        if doc["status"] in ("indexed", "failed"):
            return doc
        time.sleep(0.1)
    raise TimeoutError(f"document {document_id} not indexed in {timeout_s} s")


def admin_link(settings: Settings, base_url: str) -> str:
    """A one-time sign-in link for the local admin, issued on the server's database (as
    `enclave admin-link` does)."""
    engine = make_engine(settings.database_url)
    try:
        return users.local_sign_in_link(make_session_factory(engine), base_url=base_url, ttl_s=600)
    finally:
        engine.dispose()


def sign_in(client: httpx.Client, settings: Settings) -> dict:
    """Sign `client` in as the local admin through a one-time link, as a browser would: it keeps
    the session cookie and sends the CSRF token on every request. Returns /auth/me."""
    response = client.get(admin_link(settings, str(client.base_url)), follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    me = client.get("/auth/me").json()
    client.headers["X-CSRF-Token"] = me["csrf_token"]
    return me


def create_api_key(
    admin: httpx.Client, collections: list[str], permissions: tuple[str, ...] = ("read",)
) -> str:
    """An API key made by a signed-in collection admin; returns its secret."""
    response = admin.post(
        "/v1/api-keys",
        json={"name": "test", "collections": collections, "permissions": list(permissions)},
    )
    assert response.status_code == 201, response.text
    return response.json()["key"]


def upload_text(
    runtime: Runtime, collection: Collection, name: str, text: str, *, by: Principal | None = None
) -> str:
    """Upload `text` as file `name` (by the local admin unless `by`), as the API does; its id."""

    with transaction(runtime.sessions) as db:
        doc, _ = documents.upload(
            db=db,
            collection=collection,
            filename=name,
            stream=io.BytesIO(text.encode()),
            originals=runtime.originals,
            max_bytes=2**22,
            principal=by or local_admin.principal(sessions=runtime.sessions),
        )
        return doc.id


def searched_documents(runtime: Runtime, collection_id: str, query: str, k: int = 20) -> list[str]:
    """The documents of the hits a search returns, with the scope and checks the API uses."""
    with runtime.sessions() as db:
        scope = visibility.visible(db, Scope.of([collection_id]))
    result = answers.search(
        retriever=runtime.retriever, sessions=runtime.sessions, scope=scope, query=query, k=k
    )
    return [hit.chunk.document for hit in result.hits]
