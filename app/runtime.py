"""The composition root: builds every part from `Settings` once, and closes them."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import index_embedder, model_check
from app.db.session import make_engine, make_session_factory, migrate
from app.jobs import DatabaseJobQueue
from app.metrics import MeteredGenerator, MeteredRetriever, Metrics
from app.originals import Originals
from app.services.answers import AnswerDefaults, AnswerService
from app.services.erasure import Eraser
from app.settings import Settings
from ingestion.parsers import prepare_parser
from ingestion.pipeline import IngestionPipeline, make_pipeline
from ingestion.sandbox import ParserSandbox
from ingestion.worker import Worker
from retrieval.bm25 import BM25Encoder
from retrieval.embedders import make_embedder
from retrieval.errors import StoreUnavailable
from retrieval.protocols import Embedder, Reranker, VectorStore
from retrieval.rerankers import make_reranker
from retrieval.search import Retriever
from retrieval.stores import make_vector_store
from serving.factory import make_generator
from serving.protocols import Generator

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a process needs, built lazily where loading is slow (models)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _worker_thread: threading.Thread | None = None
    metrics: Metrics = field(default_factory=Metrics)

    @cached_property
    def embedder(self) -> Embedder:
        model_check.verify(self.settings, ("embedder",))
        return make_embedder(self.settings.embedder)

    @cached_property
    def store(self) -> VectorStore:
        if self.settings.vector_store.kind == "edge":  # held elsewhere: say so before loading
            from retrieval.stores.edge import check_free  # the embedder (seconds)

            check_free(self.settings.index_path)
        try:
            return make_vector_store(
                self.settings.vector_store,
                dense_dim=self.embedder.dim,
                default_path=self.settings.index_path,
                min_free_bytes=self.settings.min_free_bytes,
            )
        except StoreUnavailable:  # e.g. another vector size: name the model, if that is why
            index_embedder.check(self.sessions, self.embedder, self.index_key)
            raise

    @property
    def index_key(self) -> str:
        """The index's record of its embedder (`app.index_embedder`)."""
        return index_embedder.key_for(self.settings.vector_store)

    @cached_property
    def bm25(self) -> BM25Encoder:
        s = self.settings.bm25
        return BM25Encoder(k1=s.k1, b=s.b, avg_len=s.avg_len)

    @cached_property
    def reranker(self) -> Reranker:
        model_check.verify(self.settings, ("reranker",))
        return make_reranker(self.settings.reranker)

    @cached_property
    def retriever(self) -> Retriever:
        s = self.settings.retrieval
        index_embedder.verify(self.sessions, self.embedder, self.index_key)
        return MeteredRetriever(
            self.metrics,
            store=self.store,
            embedder=self.embedder,
            bm25=self.bm25,
            reranker=self.reranker,
            prefetch_k=s.prefetch_k,
            rerank_k=s.rerank_k,
        )

    @cached_property
    def generator(self) -> Generator:
        with self._lock:
            model_check.verify(self.settings, ("generator",))
            return MeteredGenerator(make_generator(self.settings.generator), self.metrics)

    @cached_property
    def answers(self) -> AnswerService:
        """The one answer path (loads the generator on first use)."""
        return AnswerService(
            retriever=self.retriever,
            sessions=self.sessions,
            generator=self.generator,
            defaults=AnswerDefaults.of(self.settings),
        )

    @cached_property
    def originals(self) -> Originals:
        return Originals(self.settings.originals_dir, min_free_bytes=self.settings.min_free_bytes)

    @cached_property
    def jobs(self) -> DatabaseJobQueue:
        return DatabaseJobQueue(
            self.sessions,
            originals=self.originals,
            lease_s=self.settings.worker.lease_s,
        )

    @cached_property
    def parser(self) -> ParserSandbox:
        """The parser process (started on the first parse)."""
        return ParserSandbox()

    @cached_property
    def pipeline(self) -> IngestionPipeline:
        index_embedder.verify(self.sessions, self.embedder, self.index_key)
        return make_pipeline(
            self.settings.ingestion,
            embedder=self.embedder,
            bm25=self.bm25,
            store=self.store,
            parser=self.parser,
        )

    @cached_property
    def eraser(self) -> Eraser:
        s = self.settings
        embedded_index = s.vector_store.kind == "edge"
        return Eraser(
            sessions=self.sessions,
            engine=self.engine,
            store=self.store,
            originals=self.originals,
            index_dir=s.index_path if embedded_index else None,
            signing_key=s.signing_key_path,
            create_key=s.mode == "embedded",
            log_path=s.erasure_log_path,
            cancel_wait_s=s.erasure.cancel_wait_s,
            lease_s=s.worker.lease_s,
            query_grace_s=s.erasure.query_grace_s,
        )

    def worker(self) -> Worker:
        s = self.settings.worker
        return Worker(
            self.jobs,
            self.pipeline,
            poll_interval_s=s.poll_interval_s,
            lease_s=s.lease_s,
            retire_grace_s=self.settings.ingestion.retire_grace_s,
        )

    def warm_up(self) -> None:
        """Load the models and open the index now rather than on the first request."""
        _ = self.retriever
        _ = self.generator

    def start_worker(self) -> None:
        """Run the ingestion worker in a background thread of this process (embedded default)."""
        prepare_parser(
            self.settings.ingestion, parser=self.parser
        )  # start the parser process; check OCR tools
        if self.settings.mode == "embedded":  # one process: any running job was interrupted
            requeued = self.jobs.requeue_stale()
            if requeued:
                log.info("worker.requeued", extra={"count": requeued})
        # production: other workers may hold running jobs; expired leases are swept instead
        worker = self.worker()
        self._worker_thread = threading.Thread(
            target=worker.run_forever, args=(self._stop, self._wake), name="worker", daemon=True
        )
        self._worker_thread.start()

    def wake_worker(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker_thread is not None:
            self._worker_thread.join(timeout=60)
        if "parser" in self.__dict__:
            self.parser.shutdown()
        if "store" in self.__dict__:
            self.store.close()
        if "generator" in self.__dict__:
            self.generator.close()
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Create the data directory, migrate the metadata DB, and return the (lazy) runtime."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.originals_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(
        settings.database_url,
        echo=settings.database.echo,
        pool_size=settings.pool_size,
        pool_timeout_s=settings.database.pool_timeout_s,
    )
    migrate(engine)
    sessions = make_session_factory(engine)
    return Runtime(settings=settings, engine=engine, sessions=sessions, metrics=Metrics(sessions))
