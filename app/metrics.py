"""Prometheus metrics: one registry per runtime, labels from closed sets only.

What is measured: HTTP requests and their latency per route *template* (never a path, a query
string or an id), the stages of a query (embed, index, rerank, first token, generation), the
generator's errors and requests in flight, and at scrape time, from the metadata database:
documents by status, jobs by state (the ingestion queue) and erasures by state. No label ever
holds content or identifies a user: label values are route templates, HTTP methods and status
codes, stage names and state names, all from sets fixed by the code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Document, Erasure, Job
from retrieval.search import Retriever, SearchResult
from serving.errors import GeneratorRejected, GeneratorUnavailable
from serving.protocols import Generator, Message

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
STAGES = frozenset({"embed", "index", "rerank"})  # Retriever timings; the rest are named here
# States reported even when no row has them (a zero is a value; a missing series is not).
DOCUMENT_STATES = ("queued", "parsing", "chunking", "embedding", "indexed", "failed")
JOB_STATES = ("queued", "running", "done", "failed", "cancelling", "cancelled")
ERASURE_STATES = ("requested", "completed")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The process's metrics; `render` them with prometheus_client.generate_latest(registry)."""

    def __init__(self, sessions: sessionmaker[Session] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "enclave_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "enclave_http_request_duration_seconds",
            "HTTP request latency, to the last byte of the response (streams included)",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stages = Histogram(
            "enclave_stage_duration_seconds",
            "Query stages: embed, index, rerank (retrieval), first_token, generate (generator)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.generator_errors = Counter(
            "enclave_generator_errors",
            "Generator failures: unavailable (unreachable, timed out, 5xx, cut short) or "
            "rejected (a 4xx other than 408/429)",
            ["kind"],
            registry=r,
        )
        self.generator_in_flight = Gauge(
            "enclave_generator_in_flight", "Answers being generated now", registry=r
        )
        if sessions is not None:
            r.register(DatabaseCollector(sessions))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            if stage in STAGES:
                self.stages.labels(stage).observe(ms / 1000)


class DatabaseCollector(Collector):
    """Counts read from the metadata database at each scrape (a few GROUP BYs on indexed
    columns). With several API replicas each reports the same totals: aggregate with max()."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def describe(self) -> Iterable[Any]:
        return []  # no scrape at registration time (the database may not be up yet)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            "enclave_documents": ("Documents by status", Document.status, "status"),
            "enclave_jobs": ("Ingestion jobs by state (queued = the queue)", Job.state, "state"),
            "enclave_erasures": ("Erasures by state", Erasure.state, "state"),
        }
        known = {
            "enclave_documents": DOCUMENT_STATES,
            "enclave_jobs": JOB_STATES,
            "enclave_erasures": ERASURE_STATES,
        }
        up = GaugeMetricFamily("enclave_database_up", "Whether the last scrape read the database")
        try:
            with self._sessions() as db:
                counted = {
                    name: db.execute(select(column, func.count()).group_by(column)).all()
                    for name, (_, column, _) in families.items()
                }
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database did
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, (help_text, _, label) in families.items():
            family = GaugeMetricFamily(name, help_text, labels=[label])
            counts = dict.fromkeys(known[name], 0)
            counts.update({str(value): count for value, count in counted[name]})
            for value, count in sorted(counts.items()):
                family.add_metric([value], count)
            yield family


class MeteredRetriever(Retriever):
    """A Retriever that records its stage timings."""

    def __init__(self, metrics: Metrics, **parts: Any) -> None:
        super().__init__(**parts)
        self._metrics = metrics

    def search(self, query: str, **kwargs: Any) -> SearchResult:  # type: ignore[override]
        result = super().search(query, **kwargs)
        self._metrics.observe_stages(result.timings_ms)
        return result


class MeteredGenerator:
    """Wraps a generator: times the first token and the whole generation, counts errors."""

    def __init__(self, inner: Generator, metrics: Metrics) -> None:
        self.inner = inner
        self._metrics = metrics

    @property
    def name(self) -> str:
        with self._counting():  # a remote generator may ask the server
            return self.inner.name

    @name.setter
    def name(self, value: str) -> None:
        self.inner.name = value

    @property
    def context_tokens(self) -> int | None:
        with self._counting():
            return getattr(self.inner, "context_tokens", None)

    @contextmanager
    def _counting(self) -> Iterator[None]:
        try:
            yield
        except GeneratorRejected:
            self._metrics.generator_errors.labels("rejected").inc()
            raise
        except GeneratorUnavailable:
            self._metrics.generator_errors.labels("unavailable").inc()
            raise

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        m = self._metrics
        started = time.perf_counter()
        first = True
        m.generator_in_flight.inc()
        inner = self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature)
        try:
            with self._counting():
                for delta in inner:
                    if first:
                        m.stages.labels("first_token").observe(time.perf_counter() - started)
                        first = False
                    yield delta
            m.stages.labels("generate").observe(time.perf_counter() - started)
        finally:
            m.generator_in_flight.dec()
            close = getattr(inner, "close", None)
            if close is not None:  # a closed answer closes the generator's connection now
                close()

    def __getattr__(self, attr: str) -> Any:  # close(), check(), ... of the wrapped generator
        return getattr(self.inner, attr)
