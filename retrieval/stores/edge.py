"""`EdgeVectorStore`: the index in-process on qdrant-edge (Qdrant's engine), one shard directory.

Durability and erasure: the shard runs without a write-ahead log, and every write is flushed
before it returns (that is what makes it durable without one). With a WAL, each update's payload,
chunk text included, stays in preallocated 32 MiB WAL files (plus one retained closed file)
that the Python API can neither shrink nor rewrite, so `purge()` could not erase it. Without one,
vacuum (`optimize()`) + `flush()` leaves no copy of a deleted chunk in the directory.

Locking: without a WAL the engine takes no directory lock, so the store holds an exclusive
`flock` on `<path>/.enclave.lock` while open: a second store on the directory, in this process or
another, gets `StoreUnavailable`. The kernel drops the lock if the process dies.

Disk space: the engine writes through memory-mapped files, and a write into a page the full disk
cannot back kills the process (SIGBUS) rather than failing (seen on tmpfs and on ext4). So
upserts and purges are refused with `IndexFull` while the disk has less than `min_free_bytes`
free; a purge also needs room for a copy of the largest segment it rewrites. Deletes are not
refused: they write little (on a full ext4 they succeeded; on a full tmpfs their flush failed
with an error and the process went on), and an erasure's delete must go through.

Threads: the engine synchronises reads and writes itself (concurrent queries while upserting were
tested); the store only serialises its own writes, so `delete_document` counts exactly what it
deletes. Queries take no Python lock.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import qdrant_edge as qe

from retrieval.errors import IndexFull, StoreUnavailable
from retrieval.stores._schema import (
    COLLECTION_FIELD,
    DEFAULT_WINDOWS_LEG,
    DENSE_VECTOR,
    DOCUMENT_FIELD,
    GENERATION_FIELD,
    NAMES_VECTOR,
    RRF_K,
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
from retrieval.types import Chunk, Hit, IndexPoint, Scope, SparseVector

LOCK_FILE = ".enclave.lock"
_CONFIG_FILE = "edge_config.json"  # written by qdrant-edge when it creates a shard


class EdgeVectorStore:
    """The `VectorStore` on a qdrant-edge shard at `path` (created on first use).

    `windows`: how queries use the chunks' window vectors (`WindowsLeg`); a shard created
    before they existed has none, and runs as "off"."""

    def __init__(
        self,
        path: Path | str,
        *,
        dense_dim: int,
        min_free_bytes: int = 0,
        windows: WindowsLeg = DEFAULT_WINDOWS_LEG,
        fusion: Fusion = "rrf",
    ) -> None:
        self.path = Path(path)
        self.dense_dim = dense_dim
        self.min_free_bytes = min_free_bytes
        self.fusion = fusion
        self._write_lock = threading.Lock()
        self._lock_handle: IO[str] | None = _lock_directory(self.path)
        self.has_windows = _has_windows(self.path)
        self.windows: WindowsLeg = windows if self.has_windows else "off"
        self._shard: qe.EdgeShard | None = None
        try:
            self.has_names = _has_names(self.path)
            config = _config(dense_dim, windows=self.has_windows, names=self.has_names)
            self._shard = _open_shard(self.path, config)
            self._ensure_indexes()
        except BaseException:
            self.close()
            raise

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Insert or replace the points (by chunk id); durable when this returns."""
        if not points:
            return
        batch = [self._point(p) for p in points]
        with self._write_lock:
            shard = self._open()
            self._check_space()
            shard.update(qe.UpdateOperation.upsert_points(batch))
            shard.flush()

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
        legs = [
            qe.Query.Nearest(_vector(v), using=name)
            for name, v in query_legs(
                dense, sparse, self.dense_dim, windows=self.windows, names=self.has_names
            )
        ]
        if flt is None or not legs or limit <= 0:
            return []
        measure = similarity and dense is not None
        common: dict[str, Any] = {
            "limit": limit,
            "filter": flt,
            "with_payload": True,
            "with_vector": similarity_vectors(self.has_windows) if measure else False,
        }
        if len(legs) == 1:
            request = qe.QueryRequest(query=legs[0], **common)
        else:
            request = qe.QueryRequest(
                query=_fusion(self.fusion),
                prefetches=[
                    qe.Prefetch(limit=prefetch_limit, query=leg, filter=flt) for leg in legs
                ],
                **common,
            )
        return to_hits(self._open().query(request), dense if measure else None, self.dense_dim)

    def get(self, *, scope: Scope, ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, only those inside the scope, in the order asked."""
        flt = _scope_filter(scope, ids=ids)
        if flt is None:
            return []
        request = qe.ScrollRequest(limit=len(ids), filter=flt, with_payload=True, with_vector=False)
        records, _ = self._open().scroll(request)
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
        with self._write_lock:
            shard = self._open()
            deleted = shard.count(qe.CountRequest(exact=True, filter=flt))
            if deleted:
                shard.update(qe.UpdateOperation.delete_points_by_filter(flt))
                shard.flush()
        return deleted

    def count(self, *, scope: Scope, document: str | None = None) -> int:
        flt = _scope_filter(scope, documents=None if document is None else [document])
        if flt is None:
            return 0
        return self._open().count(qe.CountRequest(exact=True, filter=flt))

    def purge(self) -> None:
        """Rewrite every segment holding deleted points (vacuum) and drop the old files."""
        with self._write_lock:
            shard = self._open()
            self._check_space(extra=_largest_segment(self.path))  # rewritten beside the old one
            shard.optimize()  # the shard's vacuum thresholds are 0: any deleted point qualifies
            shard.flush()  # the replaced segment directories are removed here

    def close(self) -> None:
        """Flush, close the shard and release the directory lock; safe to call twice."""
        with self._write_lock:
            shard, self._shard = self._shard, None
            try:
                if shard is not None:
                    shard.close()  # flushes
            finally:
                _unlock(self._lock_handle)
                self._lock_handle = None

    def __enter__(self) -> EdgeVectorStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> qe.EdgeShard:
        shard = self._shard
        if shard is None:
            raise StoreUnavailable(f"the index at {self.path} is closed")
        return shard

    def _check_space(self, *, extra: int = 0) -> None:
        free = shutil.disk_usage(self.path).free
        if free < self.min_free_bytes + extra:
            raise IndexFull(
                f"the index's disk is full: {free // 2**20} MB free, "
                f"{(self.min_free_bytes + extra) // 2**20} MB needed"
            )

    def _point(self, point: IndexPoint) -> qe.Point:
        vectors: dict[str, Any] = {
            DENSE_VECTOR: dense_values(point.dense, self.dense_dim),
            SPARSE_VECTOR: _vector(point.sparse),
        }
        if self.has_windows:
            vectors[WINDOWS_VECTOR] = window_values(point, self.dense_dim)
        if self.has_names and point.names is not None and point.names.indices:
            vectors[NAMES_VECTOR] = _vector(point.names)
        return qe.Point(point_id(point.chunk.id), vectors, to_payload(point.chunk))

    def _ensure_indexes(self) -> None:
        shard = self._open()
        present = shard.info().payload_schema
        wanted = {
            COLLECTION_FIELD: qe.KeywordIndexParams(is_tenant=True),
            DOCUMENT_FIELD: qe.KeywordIndexParams(),
            GENERATION_FIELD: qe.KeywordIndexParams(),
        }
        for field, params in wanted.items():
            if field not in present:
                shard.update(qe.UpdateOperation.create_field_index(field, params))
        shard.flush()


def _scope_filter(
    scope: Scope,
    *,
    documents: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    generations: Sequence[str] | None = None,
) -> qe.Filter | None:
    """The engine filter for a scope (+ documents / ids / generations); None when nothing
    can match."""
    match = match_for(scope, documents=documents, ids=ids, generations=generations)
    return None if match is None else _edge_filter(match)


def _edge_filter(match: Match) -> qe.Filter:
    must: list[Any] = [
        qe.FieldCondition(COLLECTION_FIELD, match=qe.MatchAny(list(match.collections)))
    ]
    if match.documents is not None:
        must.append(qe.FieldCondition(DOCUMENT_FIELD, match=qe.MatchAny(list(match.documents))))
    if match.generations is not None:
        must.append(qe.FieldCondition(GENERATION_FIELD, match=qe.MatchAny(list(match.generations))))
    if match.ids is not None:
        must.append(qe.HasIdCondition(set(match.ids)))
    must_not: list[Any] | None = None
    if match.hidden:
        must_not = [qe.FieldCondition(GENERATION_FIELD, match=qe.MatchAny(list(match.hidden)))]
    return qe.Filter(must=must, must_not=must_not)


def _vector(vector: QueryVector) -> Any:
    if isinstance(vector, SparseVector):
        return qe.SparseVector(list(vector.indices), [float(v) for v in vector.values])
    return vector


def _fusion(fusion: Fusion) -> Any:
    """The engine's fusion query (the stub omits the Fusion variants as queries)."""
    return qe.Fusion.Dbsf() if fusion == "dbsf" else qe.Fusion.Rrf(k=RRF_K)


def _stored_config(path: Path) -> dict[str, Any] | None:
    """The shard's saved config; None for a new shard (it gets every vector)."""
    config = path / _CONFIG_FILE
    return json.loads(config.read_text()) if config.exists() else None


def _has_windows(path: Path) -> bool:
    """Whether the shard at `path` has (or, being new, will have) the windows vector."""
    config = _stored_config(path)
    return config is None or WINDOWS_VECTOR in config.get("vectors", {})


def _has_names(path: Path) -> bool:
    """Whether the shard at `path` has the names vector: a new one does; one created before
    the vector existed keeps working without that leg (re-ingest into a new one to get it)."""
    config = _stored_config(path)
    return config is None or NAMES_VECTOR in config.get("sparse_vectors", {})


def _config(dense_dim: int, *, windows: bool, names: bool) -> qe.EdgeConfig:
    vectors = {DENSE_VECTOR: qe.EdgeVectorParams(size=dense_dim, distance=qe.Distance.Cosine)}
    if windows:
        vectors[WINDOWS_VECTOR] = qe.EdgeVectorParams(
            size=dense_dim,
            distance=qe.Distance.Cosine,
            multivector_config=qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim),
        )
    sparse = [SPARSE_VECTOR, NAMES_VECTOR] if names else [SPARSE_VECTOR]
    return qe.EdgeConfig(
        vectors=vectors,
        sparse_vectors={v: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf) for v in sparse},
        # optimize() runs only from purge(); there, any segment with a deleted point is rewritten.
        optimizers=qe.EdgeOptimizersConfig(deleted_threshold=0.0, vacuum_min_vector_number=0),
        wal_enabled=False,
    )


def _open_shard(path: Path, config: qe.EdgeConfig) -> qe.EdgeShard:
    try:
        if (path / _CONFIG_FILE).exists():
            return qe.EdgeShard.load(str(path), config)  # checks dims and settings against disk
        return qe.EdgeShard.create(str(path), config)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the bindings raise Exception, or PanicException on a Rust panic
        raise StoreUnavailable(f"cannot open the index at {path}: {exc}") from None


def check_free(path: Path) -> None:
    """Raise `StoreUnavailable` now if another store holds `path`: a cheap check, for callers
    that load models (seconds) before they can open one."""
    _unlock(_lock_directory(path))


def _largest_segment(path: Path) -> int:
    """Bytes the shard's largest segment occupies on disk (sparse files count what they use)."""
    sizes = [
        sum(f.lstat().st_blocks * 512 for f in segment.rglob("*") if f.is_file())
        for segment in (path / "segments").glob("*")
    ]
    return max(sizes, default=0)


def _lock_directory(path: Path) -> IO[str]:
    path.mkdir(parents=True, exist_ok=True)
    handle = open(path / LOCK_FILE, "a")  # noqa: SIM115 - held open until close()
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreUnavailable(
            f"the index at {path} is in use by another Enclave process"
        ) from None
    return handle


def _unlock(handle: IO[str] | None) -> None:
    if handle is not None and not handle.closed:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
