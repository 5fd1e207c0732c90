"""The two `VectorStore`s (qdrant-edge in-process, qdrant-client for a server) and their factory.

The engines are imported only when a store is built or named, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.settings import VectorStoreSettings
from retrieval.stores._schema import RRF_K

if TYPE_CHECKING:
    from retrieval.protocols import VectorStore
    from retrieval.stores.edge import EdgeVectorStore
    from retrieval.stores.qdrant import QdrantClientStore

__all__ = ["RRF_K", "EdgeVectorStore", "QdrantClientStore", "make_vector_store"]


def make_vector_store(
    settings: VectorStoreSettings, *, dense_dim: int, default_path: Path, min_free_bytes: int = 0
) -> VectorStore:
    """The store the settings name: `edge` at `settings.path or default_path` (refusing writes
    while its disk has less than `min_free_bytes` free), or `qdrant` at `settings.url` (":memory:"
    or a `path` without url: qdrant-client's local mode)."""
    if settings.kind == "edge":
        from retrieval.stores.edge import EdgeVectorStore

        path = settings.path or default_path
        return EdgeVectorStore(
            path,
            dense_dim=dense_dim,
            min_free_bytes=min_free_bytes,
            windows=settings.windows,
            fusion=settings.fusion,
        )
    from retrieval.stores.qdrant import QdrantClientStore

    return QdrantClientStore(
        collection=settings.collection,
        dense_dim=dense_dim,
        url=settings.url,
        path=settings.path,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        timeout_s=settings.timeout_s,
        options=settings,  # its QdrantCollectionOptions part: the collection's creation options
        windows=settings.windows,
        fusion=settings.fusion,
    )


def __getattr__(name: str) -> Any:
    if name == "EdgeVectorStore":
        from retrieval.stores.edge import EdgeVectorStore

        return EdgeVectorStore
    if name == "QdrantClientStore":
        from retrieval.stores.qdrant import QdrantClientStore

        return QdrantClientStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
