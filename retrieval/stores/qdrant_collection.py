"""The Qdrant server collection: what Enclave creates (vectors, cluster and storage options,
payload indexes) and the search params of the dense leg, from `QdrantCollectionOptions`.

The legacy placement flags (`on_disk`, `always_ram`, `on_disk_payload`) are sent rather than the
`memory` tiers of Qdrant 1.19+: every server Enclave can use takes them (1.11+: the query API
with RRF and the IDF modifier need 1.10, `is_tenant` 1.11), and newer ones map them to tiers.
Quantization, HNSW and on-disk options sit on the dense vector itself (the sparse BM25 vector
has no HNSW graph and is never quantized).
"""

from __future__ import annotations

import time
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from retrieval.errors import StoreUnavailable
from retrieval.settings import HnswSettings, QdrantCollectionOptions, QuantizationSettings
from retrieval.stores._schema import (
    COLLECTION_FIELD,
    DENSE_VECTOR,
    DOCUMENT_FIELD,
    GENERATION_FIELD,
    NAMES_VECTOR,
    SPARSE_VECTOR,
    WINDOWS_VECTOR,
)

# field -> keyword index; `collection` is the tenant key (Qdrant co-locates each tenant's points)
_KEYWORD = models.KeywordIndexType.KEYWORD
PAYLOAD_INDEXES = {
    COLLECTION_FIELD: models.KeywordIndexParams(type=_KEYWORD, is_tenant=True),
    DOCUMENT_FIELD: models.KeywordIndexParams(type=_KEYWORD),
    GENERATION_FIELD: models.KeywordIndexParams(type=_KEYWORD),
}
_CONFLICT = 409  # "already exists" (Qdrant >= 1.8; 400 before)
_READABLE_TRIES = 6  # after losing a creation race, the new collection may need a moment


def create_args(options: QdrantCollectionOptions, dense_dim: int) -> dict[str, Any]:
    """The keyword arguments of `QdrantClient.create_collection` for Enclave's collection."""
    dense = models.VectorParams(
        size=dense_dim,
        distance=models.Distance.COSINE,
        on_disk=options.on_disk_vectors,
        hnsw_config=_hnsw(options.hnsw),
        quantization_config=_quantization(options.quantization),
    )
    windows = dense.model_copy(  # the same vectors, several per point, scored by MaxSim
        update={
            "multivector_config": models.MultiVectorConfig(
                comparator=models.MultiVectorComparator.MAX_SIM
            )
        }
    )
    wal = options.wal_capacity_mb
    return {
        "vectors_config": {DENSE_VECTOR: dense, WINDOWS_VECTOR: windows},
        "sparse_vectors_config": {
            name: models.SparseVectorParams(modifier=models.Modifier.IDF)
            for name in (SPARSE_VECTOR, NAMES_VECTOR)
        },
        "shard_number": options.shard_number,
        "replication_factor": options.replication_factor,
        "write_consistency_factor": options.write_consistency_factor,
        "on_disk_payload": options.on_disk_payload,
        "wal_config": None if wal is None else models.WalConfigDiff(wal_capacity_mb=wal),
    }


def search_params(options: QdrantCollectionOptions) -> models.SearchParams | None:
    """The dense leg's search params (HNSW beam, quantization rescoring); None: the defaults."""
    q = options.quantization
    quantization = (
        models.QuantizationSearchParams(rescore=q.rescore, oversampling=q.oversampling)
        if q.kind != "none"
        else None
    )
    if quantization is None and options.hnsw.ef is None:
        return None
    return models.SearchParams(hnsw_ef=options.hnsw.ef, quantization=quantization)


def ensure_collection(
    client: QdrantClient,
    collection: str,
    *,
    dense_dim: int,
    options: QdrantCollectionOptions,
    indexes: bool,
) -> tuple[bool, bool]:
    """Create the collection if it does not exist (another process may win the race), check
    its dense size, and create missing payload indexes (`indexes`: not in local mode).

    Returns whether it has the windows vector and the names vector (a collection created
    before either existed has not: its queries run without that leg)."""
    if not client.collection_exists(collection):
        try:
            client.create_collection(collection, **create_args(options, dense_dim))
        except UnexpectedResponse as exc:
            if exc.status_code != _CONFLICT:
                raise
    info = _readable(client, collection)
    _check_dim(info, collection, dense_dim)
    if indexes:
        for field, schema in PAYLOAD_INDEXES.items():
            if field not in (info.payload_schema or {}):
                client.create_payload_index(collection, field, field_schema=schema, wait=True)
    vectors = info.config.params.vectors
    has_windows = isinstance(vectors, dict) and WINDOWS_VECTOR in vectors
    return has_windows, NAMES_VECTOR in (info.config.params.sparse_vectors or {})


def _readable(client: QdrantClient, collection: str) -> models.CollectionInfo:
    """The collection's info; retried briefly while a just-created collection's shards load."""
    for attempt in range(_READABLE_TRIES - 1):
        try:
            return client.get_collection(collection)
        except UnexpectedResponse as exc:
            if exc.status_code is None or exc.status_code < 500:
                raise
        time.sleep(0.05 * 2**attempt)
    return client.get_collection(collection)


def _check_dim(info: models.CollectionInfo, collection: str, dense_dim: int) -> None:
    vectors = info.config.params.vectors
    params = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
    if params is None or params.size != dense_dim:
        found = None if params is None else params.size
        raise StoreUnavailable(
            f"collection {collection!r} has dense vectors of size {found}, not {dense_dim}"
        )


def _hnsw(hnsw: HnswSettings) -> models.HnswConfigDiff | None:
    if hnsw.m is None and hnsw.ef_construct is None and hnsw.on_disk is None:
        return None
    return models.HnswConfigDiff(m=hnsw.m, ef_construct=hnsw.ef_construct, on_disk=hnsw.on_disk)


def _quantization(q: QuantizationSettings) -> models.ScalarQuantization | None:
    if q.kind == "none":
        return None
    config = models.ScalarQuantizationConfig(
        type=models.ScalarType.INT8, quantile=q.quantile, always_ram=q.always_ram
    )
    return models.ScalarQuantization(scalar=config)
