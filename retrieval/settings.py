"""Settings sections owned by the retrieval library (composed by the app's settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class EmbedderSettings(BaseModel):
    """`model_path` set: bge-m3 through FlagEmbedding. Unset: the packaged all-MiniLM-L6-v2."""

    kind: Literal["minilm", "bge-m3", "hash"] | None = None  # None: decided by model_path
    model_path: Path | None = None
    batch_size: int = Field(32, ge=1)
    device: str = "cpu"
    hash_dim: int = 64  # only for kind="hash", the deterministic unit-test double

    @property
    def resolved_kind(self) -> Literal["minilm", "bge-m3", "hash"]:
        if self.kind is not None:
            return self.kind
        return "bge-m3" if self.model_path else "minilm"


class VectorStoreSettings(BaseModel):
    """`edge`: qdrant-edge in-process (embedded default). `qdrant`: a server via qdrant-client."""

    kind: Literal["edge", "qdrant"] = "edge"
    path: Path | None = None  # edge: the shard directory (default: <data_dir>/index)
    url: str | None = None  # qdrant: e.g. http://qdrant:6333; ":memory:" for local mode in tests
    api_key: SecretStr | None = None
    collection: str = "enclave_chunks"  # the one Qdrant collection; tenants are payload-filtered
    timeout_s: float = 10.0


class RerankerSettings(BaseModel):
    """`model_path` set: a cross-encoder (e.g. bge-reranker-v2-m3). Unset: `proximity`, the
    model-free embedded default. `none` keeps the fusion order; `overlap` is a test double."""

    kind: Literal["cross-encoder", "proximity", "none", "overlap"] | None = (
        None  # None: by model_path
    )
    model_path: Path | None = None
    backend: Literal["flag", "sentence-transformers"] = "flag"
    batch_size: int = Field(16, ge=1)
    device: str = "cpu"

    @property
    def resolved_kind(self) -> Literal["cross-encoder", "proximity", "none", "overlap"]:
        if self.kind is not None:
            return self.kind
        return "cross-encoder" if self.model_path else "proximity"


class BM25Settings(BaseModel):
    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0  # average chunk length in tokens, for length normalisation


class RetrievalSettings(BaseModel):
    prefetch_k: int = Field(50, ge=1)  # candidates per hybrid leg
    rerank_k: int = Field(10, ge=1)  # fused candidates into the reranker
    answer_k: int = Field(3, ge=1)  # reranked sources into the generator
