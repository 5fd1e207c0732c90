"""The Qdrant server collection's options (shards, replication, on-disk storage, HNSW, int8
quantization with rescoring, payload indexes), exercised without a Qdrant server:

- what qdrant-client sends: the REST requests recorded by `tests/qdrant_front.py`, compared with
  the JSON shapes of Qdrant's documentation (the server's answers to them were never seen here);
- what local mode reports back (it keeps the dense vector's options, drops the cluster ones);
- what the dense-vector options do in Qdrant's own engine: qdrant-edge built with the same int8
  quantization and HNSW, queried with the same search params, against the exact search.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe
from qdrant_client import models

from app.settings import Settings
from retrieval.errors import StoreUnavailable
from retrieval.settings import HnswSettings, QdrantCollectionOptions, QuantizationSettings
from retrieval.stores import QdrantClientStore, make_vector_store
from retrieval.stores._schema import point_id, to_payload
from retrieval.stores.qdrant_collection import create_args, search_params
from retrieval.types import Scope
from tests.contracts.test_vector_store import DIM, chunk, point, sparse, unit
from tests.qdrant_front import QdrantFront

A = Scope.of(["A"])
LARGE = QdrantCollectionOptions(
    shard_number=6,
    replication_factor=2,
    write_consistency_factor=1,
    on_disk_vectors=True,
    on_disk_payload=True,
    wal_capacity_mb=8,
    hnsw=HnswSettings(m=32, ef_construct=256, on_disk=False, ef=128),
    quantization=QuantizationSettings(kind="scalar", quantile=0.99, oversampling=2.0),
)
# the JSON Qdrant's docs show for these options ("Optimizing Qdrant Performance", "Quantization")
LARGE_DENSE = {
    "size": DIM,
    "distance": "Cosine",
    "on_disk": True,
    "hnsw_config": {"m": 32, "ef_construct": 256, "on_disk": False},
    "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
}
LARGE_WINDOWS = {**LARGE_DENSE, "multivector_config": {"comparator": "max_sim"}}
DENSE_PARAMS = {"hnsw_ef": 128, "quantization": {"rescore": True, "oversampling": 2.0}}
COLLECTION = ("/collections/c", "/collections/c/index")


@pytest.fixture
def front() -> Iterator[QdrantFront]:
    f = QdrantFront()
    yield f
    f.stop()


def open_server(front: QdrantFront, options: QdrantCollectionOptions = LARGE) -> QdrantClientStore:
    return QdrantClientStore(url=front.url, collection="c", dense_dim=DIM, options=options)


# -- what qdrant-client sends ----------------------------------------------------------------


def test_environment_settings_reach_the_create_request(
    front: QdrantFront, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "KIND": "qdrant",
        "URL": front.url,
        "COLLECTION": "c",
        "SHARD_NUMBER": "6",
        "REPLICATION_FACTOR": "2",
        "WRITE_CONSISTENCY_FACTOR": "1",
        "ON_DISK_VECTORS": "true",
        "ON_DISK_PAYLOAD": "true",
        "WAL_CAPACITY_MB": "8",
        "HNSW__M": "32",
        "HNSW__EF_CONSTRUCT": "256",
        "HNSW__ON_DISK": "false",
        "HNSW__EF": "128",
        "QUANTIZATION__KIND": "scalar",
        "QUANTIZATION__QUANTILE": "0.99",
        "QUANTIZATION__OVERSAMPLING": "2.0",
    }
    for name, value in env.items():
        monkeypatch.setenv(f"ENCLAVE_VECTOR_STORE__{name}", value)
    settings = Settings(_env_file=None).vector_store  # type: ignore[call-arg]
    make_vector_store(settings, dense_dim=DIM, default_path=tmp_path).close()
    [create] = front.bodies("PUT", "/collections/c")
    assert create == {
        "vectors": {"dense": LARGE_DENSE, "windows": LARGE_WINDOWS},
        "sparse_vectors": {"bm25": {"modifier": "idf"}, "names": {"modifier": "idf"}},
        "shard_number": 6,
        "replication_factor": 2,
        "write_consistency_factor": 1,
        "on_disk_payload": True,
        "wal_config": {"wal_capacity_mb": 8},
    }


def test_defaults_send_only_the_vectors(front: QdrantFront) -> None:
    open_server(front, QdrantCollectionOptions()).close()
    [create] = front.bodies("PUT", "/collections/c")
    assert create == {
        "vectors": {
            "dense": {"size": DIM, "distance": "Cosine"},
            "windows": {
                "size": DIM,
                "distance": "Cosine",
                "multivector_config": {"comparator": "max_sim"},
            },
        },
        "sparse_vectors": {"bm25": {"modifier": "idf"}, "names": {"modifier": "idf"}},
    }


def test_payload_indexes_tenant_document_generation(front: QdrantFront) -> None:
    open_server(front).close()
    assert front.bodies("PUT", "/collections/c/index") == [
        {"field_name": "collection", "field_schema": {"type": "keyword", "is_tenant": True}},
        {"field_name": "document", "field_schema": {"type": "keyword"}},
        {"field_name": "generation", "field_schema": {"type": "keyword"}},
    ]
    open_server(front).close()  # an existing collection with its indexes: nothing is re-created
    assert len(front.bodies("PUT", "/collections/c")) == 1
    assert len(front.bodies("PUT", "/collections/c/index")) == 3


def test_an_older_collection_gets_its_missing_index(front: QdrantFront) -> None:
    front.twin.create_collection("c", **create_args(LARGE, DIM))
    front.indexes["c"] = {
        f: {"data_type": "keyword", "points": 0} for f in ("collection", "document")
    }
    open_server(front).close()
    assert front.bodies("PUT", "/collections/c") == []  # existing options are left alone
    assert front.bodies("PUT", "/collections/c/index") == [
        {"field_name": "generation", "field_schema": {"type": "keyword"}}
    ]


def test_the_dense_leg_carries_the_search_params(front: QdrantFront) -> None:
    with open_server(front) as store:
        store.upsert([point(chunk("A", "d", i)) for i in range(3)])
        store.query(scope=A, dense=unit("q"), sparse=sparse({999: 1.0}))
        store.query(scope=A, dense=unit("q"))
        store.query(scope=A, sparse=sparse({999: 1.0}))
    hybrid, dense, lexical = front.bodies("POST", "/collections/c/points/query")
    dense_leg, bm25_leg, names_leg = hybrid["prefetch"]
    assert (dense_leg["using"], dense_leg["params"]) == ("dense", DENSE_PARAMS)
    assert (bm25_leg["using"], names_leg["using"]) == ("bm25", "names")
    assert "params" not in bm25_leg
    assert "params" not in names_leg
    assert hybrid["query"] == {"fusion": "rrf"}
    assert "params" not in hybrid
    assert dense["params"] == DENSE_PARAMS
    assert "params" not in lexical


def test_purge_asks_the_server_to_vacuum(front: QdrantFront) -> None:
    with open_server(front) as store:
        store.upsert([point(chunk("A", "d", i)) for i in range(3)])
        assert store.delete_document(scope=A, document="d") == 3
        store.purge()
    assert front.bodies("PATCH", "/collections/c") == [
        {"optimizers_config": {"deleted_threshold": 0.0, "vacuum_min_vector_number": 100}}
    ]
    [delete] = front.bodies("POST", "/collections/c/points/delete")
    assert delete["filter"]["must"][0] == {"key": "collection", "match": {"any": ["A"]}}


def test_losing_the_creation_race_to_another_process_is_not_an_error(front: QdrantFront) -> None:
    front.twin.create_collection("c", **create_args(LARGE, DIM))  # the winner's collection
    front.script = {
        ("GET", "/collections/c/exists"): [(200, {"exists": False})],  # checked before it won
        ("PUT", "/collections/c"): [(409, None)],
        ("GET", "/collections/c"): [(500, None)],  # its shards still loading
    }
    with open_server(front) as store:
        store.upsert([point(chunk("A", "d"))])
        assert store.count(scope=A) == 1
    assert len(front.bodies("GET", "/collections/c")) == 2


def test_a_collection_of_another_dimension_is_refused(front: QdrantFront) -> None:
    front.twin.create_collection("c", **create_args(LARGE, DIM * 2))
    with pytest.raises(StoreUnavailable, match=f"size {DIM * 2}, not {DIM}"):
        open_server(front)


def test_write_consistency_above_the_replicas_is_refused() -> None:
    with pytest.raises(ValueError, match="no write could succeed"):
        QdrantCollectionOptions(replication_factor=2, write_consistency_factor=3)
    with pytest.raises(ValueError, match="no write could succeed"):
        QdrantCollectionOptions(write_consistency_factor=2)


# -- what local mode reports back ------------------------------------------------------------


def test_local_mode_keeps_the_dense_vector_options() -> None:
    with QdrantClientStore(url=":memory:", collection="c", dense_dim=DIM, options=LARGE) as store:
        assert store._client is not None
        params = store._client.get_collection("c").config.params
    dense = params.vectors["dense"]  # type: ignore[index]
    assert dense.model_dump(mode="json", exclude_none=True) == LARGE_DENSE
    assert params.sparse_vectors["bm25"].modifier == models.Modifier.IDF  # type: ignore[index]
    assert params.sparse_vectors["names"].modifier == models.Modifier.IDF  # type: ignore[index]


# -- what the dense options do in Qdrant's engine ----------------------------------------------

ENGINE_DIM, ENGINE_POINTS = 64, 1200


@pytest.mark.filterwarnings("ignore:Local mode performs exact:UserWarning")
def test_int8_quantized_search_rescored_ranks_like_the_exact_search(tmp_path: Path) -> None:
    """The server store in local mode searches exactly; Qdrant's engine with the same int8
    quantization and HNSW, queried with the same params, must rank alike after rescoring."""
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((ENGINE_POINTS, ENGINE_DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    points = [
        point(chunk("AB"[i % 2], f"doc{i % 9}", i), dense=vectors[i]) for i in range(ENGINE_POINTS)
    ]
    engine = _quantized_engine(tmp_path / "engine", LARGE, points)
    params = search_params(LARGE)
    assert params is not None
    assert params.quantization is not None
    with QdrantClientStore(
        url=":memory:", collection="c", dense_dim=ENGINE_DIM, options=LARGE
    ) as store:
        store.upsert(points)
        recalls, drift = [], []
        for n in range(8):
            q = rng.standard_normal(ENGINE_DIM).astype(np.float32)
            q /= np.linalg.norm(q)
            exact = {h.chunk.position for h in store.query(scope=A, dense=q, limit=10)}
            rescored = _engine_query(engine, q, params, rescore=True)
            recalls.append(len(exact & rescored.keys()) / 10)
            for i, score in rescored.items():  # rescored scores are the exact cosines
                assert score == pytest.approx(float(vectors[i] @ q), abs=1e-5)
            raw = _engine_query(engine, q, params, rescore=False)
            drift += [abs(score - float(vectors[i] @ q)) for i, score in raw.items()]
            assert {i % 2 for i in rescored} == {0}, n  # tenant A only
    engine.close()
    assert np.mean(recalls) >= 0.95, recalls
    assert max(drift) > 1e-4, "without rescoring the int8 scores differ: quantization was used"


def _quantized_engine(path: Path, options: QdrantCollectionOptions, points: list) -> qe.EdgeShard:
    """Qdrant's engine with the dense vector the server store would create, indexed (HNSW +
    int8) and with the tenant index."""
    dense: models.VectorParams = create_args(options, ENGINE_DIM)["vectors_config"]["dense"]
    assert dense.hnsw_config is not None
    assert isinstance(dense.quantization_config, models.ScalarQuantization)
    scalar = dense.quantization_config.scalar
    config = qe.EdgeConfig(
        vectors={
            "dense": qe.EdgeVectorParams(
                size=ENGINE_DIM,
                distance=qe.Distance.Cosine,
                on_disk=dense.on_disk,
                quantization_config=qe.ScalarQuantizationConfig(
                    type=qe.ScalarType.Int8, quantile=scalar.quantile, always_ram=scalar.always_ram
                ),
                hnsw_config=qe.HnswIndexConfig(
                    m=dense.hnsw_config.m or 16,
                    ef_construct=dense.hnsw_config.ef_construct or 100,
                    full_scan_threshold=1,  # KB: search the graph, not a plain scan
                ),
            )
        },
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1, default_segment_number=1),
        wal_enabled=False,
    )
    shard = qe.EdgeShard.create(str(path), config)
    shard.update(
        qe.UpdateOperation.create_field_index("collection", qe.KeywordIndexParams(is_tenant=True))
    )
    batch = [
        qe.Point(point_id(p.chunk.id), {"dense": p.dense.tolist()}, to_payload(p.chunk))
        for p in points
    ]
    shard.update(qe.UpdateOperation.upsert_points(batch))
    shard.optimize()
    shard.flush()
    assert shard.info().indexed_vectors_count == len(points)
    assert list(path.rglob("quantized.data")), "the segment holds int8 vectors"
    return shard


def _engine_query(
    shard: qe.EdgeShard, q: np.ndarray, params: models.SearchParams, *, rescore: bool
) -> dict[int, float]:
    assert params.quantization is not None
    request = qe.QueryRequest(
        limit=10,
        query=qe.Query.Nearest(q.tolist(), using="dense"),
        filter=qe.Filter(must=[qe.FieldCondition("collection", match=qe.MatchAny(["A"]))]),
        params=qe.SearchParams(
            hnsw_ef=params.hnsw_ef,
            quantization=qe.QuantizationSearchParams(
                rescore=rescore, oversampling=params.quantization.oversampling
            ),
        ),
        with_payload=True,
    )
    return {int((p.payload or {})["position"]): float(p.score) for p in shard.query(request)}
