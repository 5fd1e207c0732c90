"""Crash recovery, the way an operator meets it: an `enclave worker` process is killed with
SIGKILL halfway through a document's embedding batches, then started again.

Runs on SQLite (embedded) and PostgreSQL (production metadata), both with the embedded
qdrant-edge index and the fast deterministic doubles (hash embedder, echo generator). The
restarted worker's sweep finds the dead worker's expired lease and indexes the document again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.db.models import Collection, Document, Job
from app.db.session import make_engine, make_session_factory, migrate, transaction
from app.jobs import DatabaseJobQueue
from app.originals import Originals
from app.runtime import Runtime, build_runtime
from app.services import answers, collections, documents, local_admin
from app.settings import Settings
from ingestion.pipeline import IngestResult, chunk_id
from retrieval.types import Scope
from tests.support import searched_documents

ROOT = Path(__file__).resolve().parents[2]
MARKER = "The relief valve of pump QX-7731 opens at exactly nineteen bar."
FIRST_WORDS = 12
LEASE_S = 2


def document_text() -> str:
    """About 60 small chunks (2,000 words); the marker sentence ends the last one."""
    rng = random.Random(20261121)
    words = [f"term{i}" for i in range(3000)]
    paragraphs = [
        " ".join(" ".join(rng.choice(words) for _ in range(12)) + "." for _ in range(8))
        for _ in range(20)
    ]
    return "\n\n".join(paragraphs) + "\n\n" + MARKER + "\n"


def enclave_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """Settings as an operator sets them (ENCLAVE_* variables): small chunks and batches so
    that one document takes ~30 embedding batches, and a 2 s lease."""
    env = {
        "ENCLAVE_DATA_DIR": str(data_dir),
        "ENCLAVE_EMBEDDER__KIND": "hash",
        "ENCLAVE_RERANKER__KIND": "overlap",
        "ENCLAVE_GENERATOR__KIND": "echo",
        "ENCLAVE_INGESTION__MIN_TOKENS": "16",
        "ENCLAVE_INGESTION__MAX_TOKENS": "48",
        "ENCLAVE_INGESTION__EMBED_BATCH_SIZE": "2",
        "ENCLAVE_WORKER__LEASE_S": str(LEASE_S),
        "ENCLAVE_WORKER__POLL_INTERVAL_S": "0.2",
    }
    if database_url:
        env["ENCLAVE_DATABASE__URL"] = database_url
    return env


@dataclass
class Crash:
    settings: Settings
    document_id: str
    collection_id: str
    done_at_kill: int
    total: int
    status_at_kill: str
    hits_after_kill: list[str]  # documents of the chunks a search returned with the worker dead
    log: str = ""  # both workers' stderr


def start_worker(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """`enclave worker` (this checkout's code) in its own process, as a production operator
    starts it; stderr (the JSON log) appended to `log`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env={**base, **env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,  # no stray .env file
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_for(check: Callable[[], bool], *, timeout_s: float, what: str, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout_s
    while not check():
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout_s} s")
        time.sleep(0.05)


def document(runtime: Runtime, document_id: str) -> Document:
    with runtime.sessions() as db:
        return db.get_one(Document, document_id)


def search_documents(runtime: Runtime, collection_id: str, query: str) -> list[str]:
    return searched_documents(runtime, collection_id, query, k=10)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def crashed(request, tmp_path_factory) -> Iterator[Crash]:
    """Upload a document, kill the worker mid-embedding, look, restart it until indexed."""
    tmp = tmp_path_factory.mktemp(f"crash-{request.param}")
    with _database(request) as database_url:
        env = enclave_env(tmp / "data", database_url)
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            settings = Settings()  # what the worker process reads, for this process too
        source = tmp / "pump-manual.txt"
        source.write_text(document_text())
        log = tmp / "worker.log"
        crash = _kill_halfway(settings, source, start=lambda: start_worker(env, tmp, log))
        runtime = build_runtime(settings)
        worker = start_worker(env, tmp, log)
        try:

            def indexed() -> bool:
                return document(runtime, crash.document_id).status == "indexed"

            wait_for(indexed, timeout_s=180, what="indexed document", proc=worker)
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(60) == 0
            runtime.close()
        crash.log = log.read_text(errors="replace")
        yield crash


def _kill_halfway(
    settings: Settings, source: Path, *, start: Callable[[], subprocess.Popen]
) -> Crash:
    """Upload `source`, start a worker, SIGKILL it between two embedding batches, then search
    the index with the worker dead."""
    runtime = build_runtime(settings)
    try:
        principal = local_admin.principal(sessions=runtime.sessions)
        with transaction(runtime.sessions) as db:
            target = collections.get_or_create(db=db, principal=principal, name="manuals")
        (document_id,), _, failed = documents.upload_files(
            sessions=runtime.sessions,
            collection=target,
            paths=[source],
            principal=principal,
            originals=runtime.originals,
            max_bytes=settings.server.max_upload_bytes,
        )
        assert not failed
        worker = start()
        try:

            def halfway() -> bool:
                doc = document(runtime, document_id)
                return 0 < doc.chunks_done < doc.chunks_total

            wait_for(halfway, timeout_s=120, what="embedding progress", proc=worker)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        at_kill = document(runtime, document_id)
        # the index opens (the kernel dropped the dead worker's lock): search it
        first_words = " ".join(source.read_text().split()[:FIRST_WORDS])
        return Crash(
            settings=settings,
            document_id=document_id,
            collection_id=target.id,
            done_at_kill=at_kill.chunks_done,
            total=at_kill.chunks_total,
            status_at_kill=at_kill.status,
            hits_after_kill=search_documents(runtime, target.id, first_words),
        )
    finally:
        runtime.close()  # releases the index for the next worker


def _database(request: pytest.FixtureRequest) -> AbstractContextManager[str | None]:
    """A fresh database URL for the PostgreSQL run; None (the data dir's SQLite) otherwise."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_cluster").database()
    return nullcontext(None)


@pytest.mark.slow
def test_the_restarted_worker_indexes_the_document_exactly_once(crashed):
    assert crashed.status_at_kill == "embedding"
    assert 0 < crashed.done_at_kill < crashed.total
    runtime = build_runtime(crashed.settings)
    try:
        doc = document(runtime, crashed.document_id)
        assert (doc.status, doc.chunks_done, doc.chunks_total) == (
            "indexed",
            crashed.total,
            crashed.total,
        )
        with runtime.sessions() as db:
            job = db.scalars(select(Job).where(Job.document_id == doc.id)).one()
        assert (job.state, job.attempts) == ("done", 2)
        scope = Scope.of([crashed.collection_id])
        assert runtime.store.count(scope=scope) == crashed.total  # no stray or duplicate points
        ids = [chunk_id(doc.id, job.id, i) for i in range(crashed.total)]
        assert len(runtime.store.get(scope=scope, ids=ids)) == crashed.total
        result = answers.search(
            retriever=runtime.retriever, sessions=runtime.sessions, scope=scope, query=MARKER, k=3
        )
        assert MARKER in result.hits[0].chunk.text
    finally:
        runtime.close()
    assert '"worker.requeued"' in crashed.log  # the restarted worker's sweep took it back
    assert "relief valve" not in crashed.log
    assert "term1" not in crashed.log


@pytest.mark.slow
def test_a_half_indexed_document_is_not_searchable(crashed):
    assert crashed.status_at_kill != "indexed"
    assert crashed.hits_after_kill == []


def test_a_process_killed_inside_a_sqlite_transaction_leaves_the_database_intact(tmp_path):
    """SQLite in WAL mode: frames a killed process wrote without a commit are ignored; the
    database stays consistent, unlocked and usable."""
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    engine = make_engine(url)
    migrate(engine)
    queue = DatabaseJobQueue(
        make_session_factory(engine), originals=Originals(tmp_path), lease_s=60
    )
    _add_job(queue)
    script = (
        "import sys, time\n"
        "from sqlalchemy import text\n"
        "from app.db.session import make_engine\n"
        "engine = make_engine(sys.argv[1])\n"
        "with engine.connect() as conn:\n"
        "    conn.exec_driver_sql('PRAGMA cache_size=8')\n"  # spill uncommitted pages to the WAL
        "    conn.execute(text(\"UPDATE jobs SET state = 'done'\"))\n"
        "    for i in range(3000):\n"
        '        conn.execute(text("INSERT INTO audit_events (at, actor, actor_kind, action,'
        " outcome, target) VALUES ('2026-01-01', 'x', 'user', 'collection.create', 'ok',"
        " :t)\"), {'t': str(i) * 40})\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        wal = tmp_path / "meta.db-wal"
        assert wal.stat().st_size > 100_000  # the open transaction's pages are in the WAL
    finally:
        proc.kill()
        proc.wait(10)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 0
        assert conn.execute(text("SELECT state FROM jobs")).scalar_one() == "queued"
    job = queue.claim("w")  # the write lock is free
    assert job is not None
    queue.complete(job, IngestResult(chunks=1, pages=None))
    engine.dispose()


def _add_job(queue: DatabaseJobQueue) -> None:
    with transaction(queue.sessions) as db:
        collection = Collection(name="c")
        db.add(collection)
        db.flush()
        doc = Document(
            collection_id=collection.id, filename="a.txt", title="a", size_bytes=1, content_hash="0"
        )
        db.add(doc)
        db.flush()
        db.add(Job(document_id=doc.id))
