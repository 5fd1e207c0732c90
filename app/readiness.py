"""Readiness: is each dependency of this process usable now? Database, index, embedder, generator.

Each check is a real round trip (a `SELECT 1`, an index count under a scope that matches no
collection, one embedding of a fixed word, the generator's model list) run on its own thread
with a time limit, so a hung dependency reports `timeout` instead of hanging the probe. A model
not loaded yet reports `loading`. Failures name the exception type only: messages can carry
connection strings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import index_embedder
from app.runtime import Runtime
from retrieval.types import Scope

PROBE_SCOPE = Scope.of(["enclave-readiness-probe"])  # no collection has this id


@dataclass(frozen=True)
class Check:
    status: str  # ok, loading, down, timeout
    latency_ms: float
    error: str | None = None  # an exception type name

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def sentence(self, name: str) -> str:
        """The check's state in one plain sentence (as /readyz and `enclave doctor` say it)."""
        return sentence(name, self.status, self.latency_ms, self.error)


def sentence(name: str, status: str, latency_ms: object, error: str | None) -> str:
    if status == "ok":
        return f"The {name} is ready ({latency_ms} ms)."
    if status == "loading":
        return f"The {name} is still loading: ask again in a moment."
    if status == "timeout":
        return f"The {name} did not answer within the readiness timeout."
    return f"The {name} is down ({error or status})."


class NotLoaded(Exception):
    """The part is not built yet (the process is still warming up)."""


def _loaded(runtime: Runtime, part: str) -> object:
    if part not in runtime.__dict__:  # a cached_property not computed yet
        raise NotLoaded(part)
    return runtime.__dict__[part]


def check_database(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check_index(runtime: Runtime) -> None:
    store = _loaded(runtime, "store")
    store.count(scope=PROBE_SCOPE)  # type: ignore[attr-defined]
    if "embedder" in runtime.__dict__:  # its vectors are the index's (`app.index_embedder`)
        with suppress(SQLAlchemyError):  # no record to read: the database check says why
            index_embedder.check(runtime.sessions, runtime.embedder, runtime.index_key)


def check_embedder(runtime: Runtime) -> None:
    embedder = _loaded(runtime, "embedder")
    vectors = embedder.embed(["readiness"], kind="query")  # type: ignore[attr-defined]
    if vectors.shape != (1, embedder.dim):  # type: ignore[attr-defined]
        raise ValueError("embedder returned a wrong shape")


def check_generator(runtime: Runtime) -> None:
    generator = _loaded(runtime, "generator")
    check = getattr(generator, "check", None)
    if check is not None:  # a remote generator (vLLM): its model list answers
        check()


CHECKS: dict[str, Callable[[Runtime], None]] = {
    "database": check_database,
    "index": check_index,
    "embedder": check_embedder,
    "generator": check_generator,
}


def readiness(runtime: Runtime, *, timeout_s: float) -> dict[str, Check]:
    """Run every check concurrently; each gets `timeout_s`."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    started = time.perf_counter()
    futures = {name: pool.submit(_timed, check, runtime) for name, check in CHECKS.items()}
    results: dict[str, Check] = {}
    for name, future in futures.items():
        remaining = max(0.0, timeout_s - (time.perf_counter() - started))
        try:
            results[name] = future.result(timeout=remaining)
        except FutureTimeout:
            results[name] = Check("timeout", round(timeout_s * 1000, 1))
    pool.shutdown(wait=False, cancel_futures=True)  # a hung check finishes on its own
    return results


def _timed(check: Callable[[Runtime], None], runtime: Runtime) -> Check:
    started = time.perf_counter()
    try:
        check(runtime)
    except NotLoaded:
        return Check("loading", _ms(started))
    except Exception as exc:  # noqa: BLE001 - reported as the dependency's state
        return Check("down", _ms(started), type(exc).__name__)
    return Check("ok", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
