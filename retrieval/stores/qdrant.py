"""`QdrantClientStore`: the index on a Qdrant server (or cluster) through qdrant-client.

Also runs qdrant-client's local mode (`url=":memory:"` or `path=`), which speaks the same API in
process; it is for tests: slow, an exact search that ignores HNSW, quantization, payload indexes,
optimizers and the cluster options, and `purge()` does nothing there.

The collection's options and the dense leg's search params: `qdrant_collection.py`.

Threads: the HTTP client is thread-safe, so server calls take no Python lock. Local mode is plain
Python over dicts and arrays, so there every call is serialised. Writes are always serialised so
`delete_document` counts exactly what it deletes (from this process).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from retrieval.errors import StoreUnavailable
from retrieval.settings import QdrantCollectionOptions
from retrieval.stores._schema import (
    COLLECTION_FIELD,
    DEFAULT_WINDOWS_LEG,
    DENSE_VECTOR,
    DOCUMENT_FIELD,
    GENERATION_FIELD,
    NAMES_VECTOR,
    SPARSE_VECTOR,
    WINDOWS_VECTOR,
    Fusion,
    Match,
    QueryVector,
    WindowsLeg,
    dense_values,
    in_asked_order,
    match_for,
    point_id,
    query_legs,
    similarity_vectors,
    to_chunk,
    to_hits,
    to_payload,
    window_values,
)
from retrieval.stores.qdrant_collection import ensure_collection, search_params
from retrieval.types import Chunk, Hit, IndexPoint, Scope, SparseVector

# purge(): vacuum any segment with a deleted point. The server refuses fewer than 100 vectors.
_PURGE_OPTIMIZERS = models.OptimizersConfigDiff(deleted_threshold=0.0, vacuum_min_vector_number=100)
_FUSION = {"rrf": models.Fusion.RRF, "dbsf": models.Fusion.DBSF}


class QdrantClientStore:
    """The `VectorStore` on one Qdrant collection (created with its indexes on first use).

    `windows`: how queries use the chunks' window vectors (`WindowsLeg`); a collection created
    before they existed has none, and runs as "off"."""

    def __init__(
        self,
        *,
        collection: str,
        dense_dim: int,
        url: str | None = None,
        path: Path | str | None = None,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        options: QdrantCollectionOptions | None = None,
        windows: WindowsLeg = DEFAULT_WINDOWS_LEG,
        fusion: Fusion = "rrf",
    ) -> None:
        self.collection = collection
        self.fusion = fusion
        self.dense_dim = dense_dim
        self.options = options or QdrantCollectionOptions()
        self._dense_params = search_params(self.options)
        self.where = url or str(path)
        self._local = url is None or url == ":memory:"
        self._write_lock = threading.RLock()
        self._call_lock = threading.RLock() if self._local else contextlib.nullcontext()
        self._client: QdrantClient | None = _client(url, path, api_key, timeout_s)
        try:
            with self._calling() as client:
                self.has_windows, self.has_names = ensure_collection(
                    client,
                    collection,
                    dense_dim=dense_dim,
                    options=self.options,
                    indexes=not self._local,  # local mode ignores payload indexes (and warns)
                )
        except BaseException:
            self.close()
            raise
        self.windows: WindowsLeg = windows if self.has_windows else "off"

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Insert or replace the points (by chunk id); applied when this returns."""
        if not points:
            return
        batch = [self._point(p) for p in points]
        with self._write_lock, self._calling() as client:
            client.upsert(self.collection, points=batch, wait=True)

    def query(
        self,
        *,
        scope: Scope,
        dense: np.ndarray | None = None,
        sparse: SparseVector | None = None,
        limit: int = 10,
        prefetch_limit: int = 50,
        documents: Sequence[str] | None = None,
        similarity: bool = False,
    ) -> list[Hit]:
        """Every leg in one request, each prefetched under the scope filter, then fused."""
        flt = _scope_filter(scope, documents=documents)
        legs = query_legs(dense, sparse, self.dense_dim, windows=self.windows, names=self.has_names)
        if flt is None or not legs or limit <= 0:
            return []
        measure = similarity and dense is not None
        args: dict[str, Any] = {
            "limit": limit,
            "query_filter": flt,
            "with_payload": True,
            "with_vectors": similarity_vectors(self.has_windows) if measure else False,
        }
        if len(legs) == 1:
            ((name, vector),) = legs
            args.update(query=_vector(vector), using=name, search_params=self._params(name))
        else:
            args["prefetch"] = [
                models.Prefetch(
                    query=_vector(v),
                    using=name,
                    filter=flt,
                    limit=prefetch_limit,
                    params=self._params(name),
                )
                for name, v in legs
            ]
            args["query"] = models.FusionQuery(fusion=_FUSION[self.fusion])  # RRF k: the default
        with self._calling() as client:
            points = client.query_points(self.collection, **args).points
        return to_hits(points, dense if measure else None, self.dense_dim)

    def get(self, *, scope: Scope, ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, only those inside the scope, in the order asked."""
        flt = _scope_filter(scope, ids=ids)
        if flt is None:
            return []
        with self._calling() as client:
            records, _ = client.scroll(
                self.collection, scroll_filter=flt, limit=len(ids), with_payload=True
            )
        return in_asked_order((to_chunk(r.id, r.payload) for r in records), ids)

    def delete_document(self, *, scope: Scope, document: str, generation: str | None = None) -> int:
        """Delete the document's points (of one generation, when given) inside the scope, by
        filter, hidden generations included; returns how many."""
        flt = _scope_filter(
            Scope(scope.collections),
            documents=[document],
            generations=None if generation is None else [generation],
        )
        if flt is None:
            return 0
        with self._write_lock, self._calling() as client:
            deleted = client.count(self.collection, count_filter=flt, exact=True).count
            if deleted:
                selector = models.FilterSelector(filter=flt)
                client.delete(self.collection, points_selector=selector, wait=True)
        return deleted

    def count(self, *, scope: Scope, document: str | None = None) -> int:
        flt = _scope_filter(scope, documents=None if document is None else [document])
        if flt is None:
            return 0
        with self._calling() as client:
            return client.count(self.collection, count_filter=flt, exact=True).count

    def purge(self) -> None:
        """Ask the server to vacuum segments with deleted points (it runs in the background).

        The server API has no "vacuum now": this lowers the collection's vacuum thresholds, which
        makes its optimizer rewrite such segments. Its WAL keeps deleted payloads until its
        segments rotate; proving erasure needs a scan on the server's disk. No-op in local mode.
        """
        if self._local:
            return
        with self._write_lock, self._calling() as client:
            client.update_collection(self.collection, optimizers_config=_PURGE_OPTIMIZERS)

    def close(self) -> None:
        """Close the client (local mode: release its directory); safe to call twice."""
        with self._call_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> QdrantClientStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _calling(self) -> Iterator[QdrantClient]:
        """The open client, under the local-mode lock; transport failures -> StoreUnavailable."""
        with self._call_lock:
            client = self._client
            if client is None:
                raise StoreUnavailable(f"the index at {self.where} is closed")
            try:
                yield client
            except (ResponseHandlingException, httpx.TransportError) as exc:
                raise StoreUnavailable(f"Qdrant at {self.where} did not answer") from exc
            except UnexpectedResponse as exc:
                if exc.status_code is not None and exc.status_code >= 500:
                    raise StoreUnavailable(
                        f"Qdrant at {self.where} failed: {exc.status_code}"
                    ) from exc
                raise

    def _point(self, point: IndexPoint) -> models.PointStruct:
        vectors: dict[str, Any] = {
            DENSE_VECTOR: dense_values(point.dense, self.dense_dim),
            SPARSE_VECTOR: _vector(point.sparse),
        }
        if self.has_windows:
            vectors[WINDOWS_VECTOR] = window_values(point, self.dense_dim)
        if self.has_names and point.names is not None and point.names.indices:
            vectors[NAMES_VECTOR] = _vector(point.names)
        return models.PointStruct(
            id=point_id(point.chunk.id), vector=vectors, payload=to_payload(point.chunk)
        )

    def _params(self, vector_name: str) -> models.SearchParams | None:
        """The search params of a leg: the dense ones' (HNSW beam, quantization); none for the
        sparse ones (BM25, names)."""
        return self._dense_params if vector_name in (DENSE_VECTOR, WINDOWS_VECTOR) else None


def _scope_filter(
    scope: Scope,
    *,
    documents: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    generations: Sequence[str] | None = None,
) -> models.Filter | None:
    """The Qdrant filter for a scope (+ documents / ids / generations); None when nothing
    can match."""
    match = match_for(scope, documents=documents, ids=ids, generations=generations)
    return None if match is None else _qdrant_filter(match)


def _qdrant_filter(match: Match) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(
            key=COLLECTION_FIELD, match=models.MatchAny(any=list(match.collections))
        )
    ]
    if match.documents is not None:
        must.append(
            models.FieldCondition(
                key=DOCUMENT_FIELD, match=models.MatchAny(any=list(match.documents))
            )
        )
    if match.generations is not None:
        must.append(
            models.FieldCondition(
                key=GENERATION_FIELD, match=models.MatchAny(any=list(match.generations))
            )
        )
    if match.ids is not None:
        must.append(models.HasIdCondition(has_id=list(match.ids)))
    must_not: list[models.Condition] | None = None
    if match.hidden:
        must_not = [
            models.FieldCondition(
                key=GENERATION_FIELD, match=models.MatchAny(any=list(match.hidden))
            )
        ]
    return models.Filter(must=must, must_not=must_not)


def _vector(vector: QueryVector) -> list[float] | list[list[float]] | models.SparseVector:
    if isinstance(vector, SparseVector):
        return models.SparseVector(
            indices=list(vector.indices), values=[float(v) for v in vector.values]
        )
    return vector


def _client(
    url: str | None, path: Path | str | None, api_key: str | None, timeout_s: float
) -> QdrantClient:
    if url == ":memory:":
        return QdrantClient(location=":memory:")
    if url is None:
        if path is None:
            raise ValueError("QdrantClientStore needs a url (or a path for local mode)")
        try:
            return QdrantClient(path=str(path))
        except RuntimeError as exc:  # qdrant-client's "already accessed by another instance"
            raise StoreUnavailable(
                f"the index at {path} is in use by another Enclave process"
            ) from exc
    return QdrantClient(
        url=url, api_key=api_key, timeout=max(1, math.ceil(timeout_s)), check_compatibility=False
    )
