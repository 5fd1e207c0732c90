"""The `VectorStore` contract, run against every implementation, plus a congruence test that
puts the same points in each and diffs the rankings (as qdrant-client does with its local twin).

The server store runs twice: on qdrant-client's local mode, and over real HTTP (qdrant-client's
REST client) against `tests/qdrant_front.py`, a loopback stand-in answering from local mode, so
its server-only branches (payload indexes, purge's vacuum request, no local lock) run too.

Vectors are deterministic: sha256-seeded unit vectors and hand-made sparse vectors, no models.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval.errors import IndexFull, StoreUnavailable
from retrieval.protocols import VectorStore
from retrieval.settings import VectorStoreSettings
from retrieval.stores import EdgeVectorStore, QdrantClientStore, make_vector_store
from retrieval.stores._schema import DEFAULT_WINDOWS_LEG, DENSE_VECTOR, SPARSE_VECTOR, WindowsLeg
from retrieval.types import Chunk, Hit, IndexPoint, Place, Scope, SparseVector
from tests.qdrant_front import QdrantFront

DIM = 16
A, B = Scope.of(["A"]), Scope.of(["B"])
QUERY = "query"
KINDS = ["edge", "qdrant", "qdrant-http"]
SERVER_KINDS = ["qdrant", "qdrant-http"]
# the handle every engine call goes through
ENGINE_ATTR = {"edge": "_shard", "qdrant": "_client", "qdrant-http": "_client"}


# -- deterministic vectors and chunks ---------------------------------------------------------


def unit(seed: str) -> np.ndarray:
    """A unit vector seeded by sha256(seed): the same seed always gives the same vector."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    v = rng.standard_normal(DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


def near(base: np.ndarray, seed: str, distance: float) -> np.ndarray:
    """A unit vector whose cosine to `base` is 1/sqrt(1 + distance^2): ordered by `distance`."""
    noise = unit(seed).astype(np.float64)
    noise -= noise.dot(base) * base
    v = base + distance * noise / np.linalg.norm(noise)
    return (v / np.linalg.norm(v)).astype(np.float32)


def sparse(weights: dict[int, float]) -> SparseVector:
    terms = sorted(weights)
    return SparseVector(tuple(terms), tuple(weights[t] for t in terms))


def chunk(collection: str, document: str, position: int = 0, **fields: object) -> Chunk:
    cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{collection}/{document}/{position}"))
    text = fields.pop("text", f"text of {collection}/{document}/{position}")
    return Chunk(
        id=cid, collection=collection, document=document, position=position, text=text, **fields
    )  # type: ignore[arg-type]


def point(
    c: Chunk, dense: np.ndarray | None = None, terms: dict[int, float] | None = None
) -> IndexPoint:
    return IndexPoint(
        chunk=c, dense=unit(c.id) if dense is None else dense, sparse=sparse(terms or {999: 1.0})
    )


# -- the stores ------------------------------------------------------------------------------


def open_store(
    kind: str, tmp_path: Path, front: QdrantFront, windows: WindowsLeg = DEFAULT_WINDOWS_LEG
) -> VectorStore:
    if kind == "edge":
        return EdgeVectorStore(tmp_path / "index", dense_dim=DIM, windows=windows)
    if kind == "qdrant-http":  # a fresh collection on the shared front
        collection = f"t{uuid.uuid4().hex}"
        return QdrantClientStore(
            url=front.url, collection=collection, dense_dim=DIM, windows=windows
        )
    return QdrantClientStore(url=":memory:", collection="t", dense_dim=DIM, windows=windows)


@pytest.fixture(scope="module")
def front() -> Iterator[QdrantFront]:
    f = QdrantFront()
    yield f
    f.stop()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(kind: str, tmp_path: Path, front: QdrantFront) -> Iterator[VectorStore]:
    s = open_store(kind, tmp_path, front)
    yield s
    s.close()


@pytest.fixture
def two_tenants(store: VectorStore) -> VectorStore:
    """The same document (same vectors, same terms) in collection A and in collection B."""
    q = unit(QUERY)
    points = []
    for coll in ("A", "B"):
        for pos in range(3):
            c = chunk(coll, "shared", pos)
            points.append(
                point(c, near(q, f"shared/{pos}", 0.2 * (pos + 1)), {1: 1.0, 2 + pos: 0.5})
            )
    store.upsert(points)
    return store


# -- upsert + query ---------------------------------------------------------------------------


def test_dense_query_returns_nearest_first(store: VectorStore) -> None:
    q = unit(QUERY)
    chunks = [chunk("A", "d", i) for i in range(5)]
    store.upsert([point(c, near(q, c.id, 0.1 * (i + 1))) for i, c in enumerate(chunks)])
    hits = store.query(scope=A, dense=q, limit=3)
    assert [h.chunk for h in hits] == chunks[:3]
    assert hits[0].score == pytest.approx(1 / np.sqrt(1.01), abs=1e-4)


def test_sparse_query_ranks_by_term_weight(store: VectorStore) -> None:
    chunks = [chunk("A", "d", i) for i in range(3)]
    store.upsert([point(c, terms={7: 0.3 * (i + 1), 8: 1.0}) for i, c in enumerate(chunks)])
    hits = store.query(scope=A, sparse=sparse({7: 1.0}), limit=10)
    assert [h.chunk.id for h in hits] == [c.id for c in reversed(chunks)]


def test_hybrid_query_fuses_both_legs_with_rrf(store: VectorStore) -> None:
    q = unit(QUERY)
    top_dense, top_sparse, second_both = chunk("A", "d", 0), chunk("A", "d", 1), chunk("A", "d", 2)
    store.upsert(
        [
            point(top_dense, near(q, "x", 0.1), {50: 0.1}),
            point(top_sparse, near(q, "y", 5.0), {40: 2.0}),
            point(second_both, near(q, "z", 0.3), {40: 1.0}),
        ]
    )
    hits = store.query(scope=A, dense=q, sparse=sparse({40: 1.0}), limit=3, prefetch_limit=2)
    # RRF (k=2): second in both legs (1/3 + 1/3) beats first in only one (1/2).
    assert [h.score for h in hits] == pytest.approx([2 / 3, 1 / 2, 1 / 2])
    assert _ranking(hits) == [{second_both.id}, {top_dense.id, top_sparse.id}]  # a tie: any order


def test_names_leg_lifts_the_chunk_that_defines_the_query_terms(store: VectorStore) -> None:
    q = unit(QUERY)
    near_dense, mentions = chunk("A", "d", 0), chunk("A", "d", 1)
    defines = chunk("A", "d", 2, names=("xj-220",))
    store.upsert(
        [
            point(near_dense, near(q, "a", 0.1), {50: 1.0}),
            point(mentions, near(q, "b", 3.0), {40: 2.0}),
            IndexPoint(defines, near(q, "c", 0.5), sparse({40: 1.0}), names=sparse({40: 1.0})),
        ]
    )
    hits = store.query(scope=A, dense=q, sparse=sparse({40: 1.0}), limit=3)
    # RRF (k = 2): 1/3 + 1/3 + 1/2 (names) beats 1/2 + 1/4; without the names leg it would not
    assert [h.chunk for h in hits] == [defines, mentions, near_dense]
    assert hits[0].score == pytest.approx(2 / 3 + 1 / 2)
    bm25_only = store.query(scope=A, sparse=sparse({40: 1.0}), limit=3)
    assert [h.chunk for h in bm25_only] == [mentions, defines]  # one leg stays that leg


@pytest.mark.parametrize("kind", ["edge", "qdrant"])
def test_dbsf_fusion_is_a_setting(kind: str, tmp_path: Path) -> None:
    settings = VectorStoreSettings(
        kind="edge" if kind == "edge" else "qdrant",
        path=tmp_path / "index" if kind == "edge" else None,
        url=None if kind == "edge" else ":memory:",
        fusion="dbsf",
    )
    s = make_vector_store(settings, dense_dim=DIM, default_path=tmp_path / "unused")
    try:
        q = unit(QUERY)
        best, other = chunk("A", "d", 0), chunk("A", "d", 1)
        s.upsert([point(best, near(q, "a", 0.1), {40: 2.0})])
        s.upsert([point(other, near(q, "b", 2.0), {40: 1.0})])
        hits = s.query(scope=A, dense=q, sparse=sparse({40: 1.0}), limit=2)
        assert [h.chunk for h in hits] == [best, other]
        assert hits[0].score != pytest.approx(2 / 2)  # not RRF's 1/2 + 1/2
    finally:
        s.close()


@pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
def test_a_term_only_one_chunk_holds_survives_fusion(
    kind: str, tmp_path: Path, fusion: str
) -> None:
    """A rare identifier (a part number) found in one chunk only must reach the top of the
    hybrid result even when the dense leg knows nothing of it. RRF (the default) keeps it;
    DBSF gives a leg with a single hit no spread to normalise and drops it below dense-only
    noise (found by tests/integration/test_crash_recovery.py: the reason RRF is the default)."""
    settings = VectorStoreSettings(
        kind="edge" if kind == "edge" else "qdrant",
        path=tmp_path / "index" if kind == "edge" else None,
        url=None if kind == "edge" else ":memory:",
        fusion=fusion,  # type: ignore[arg-type]
    )
    s = make_vector_store(settings, dense_dim=DIM, default_path=tmp_path / "unused")
    try:
        q = unit(QUERY)
        holder = chunk("A", "d", 0)
        s.upsert([point(holder, unit("far"), {7731: 1.0})])
        s.upsert([point(chunk("A", "d", i), near(q, f"n{i}", 0.5)) for i in range(1, 30)])
        hits = s.query(scope=A, dense=q, sparse=sparse({7731: 1.0}), limit=10)
        found = holder in [h.chunk for h in hits]
        assert found is (fusion == "rrf")
    finally:
        s.close()


def test_rare_term_outranks_common_term_idf(store: VectorStore) -> None:
    rare, common = chunk("A", "rare"), chunk("A", "common")
    fillers = [chunk("A", "filler", i) for i in range(8)]
    store.upsert([point(rare, terms={11: 1.0}), point(common, terms={22: 1.0})])
    store.upsert([point(c, terms={22: 1.0, 33: 1.0}) for c in fillers])
    hits = store.query(scope=A, sparse=sparse({11: 1.0, 22: 1.0}), limit=2)
    assert hits[0].chunk.id == rare.id
    assert hits[0].score > 2 * hits[1].score


def test_hit_rebuilds_every_chunk_field(store: VectorStore) -> None:
    places = (Place(0, 12, "Ch 1 > Leave"), Place(40, 13, "Ch 1 > Leave"), Place(61, 13, "Ch 2"))
    full = chunk(
        "A", "doc-1", 4, title="Handbook", section="Ch 1 > Leave", page=12, start=5, end=90,
        places=places, names=("Leave", "annual leave"),
    )  # fmt: skip
    bare = chunk("A", "doc-2", 0)
    store.upsert([point(full), point(bare)])
    assert store.query(scope=A, dense=unit(full.id), limit=1)[0].chunk == full
    assert full.pages == (12, 13)
    assert store.get(scope=A, ids=[bare.id]) == [bare]


def test_reupsert_same_id_replaces(store: VectorStore) -> None:
    c = chunk("A", "d")
    store.upsert([point(c, terms={5: 1.0})])
    newer = Chunk(**{**c.__dict__, "text": "rewritten"})
    store.upsert([point(newer, terms={6: 1.0})])
    assert store.count(scope=A) == 1
    assert store.get(scope=A, ids=[c.id]) == [newer]
    assert store.query(scope=A, sparse=sparse({5: 1.0})) == []


def test_query_without_legs_or_terms_returns_nothing(store: VectorStore) -> None:
    store.upsert([point(chunk("A", "d"))])
    assert store.query(scope=A) == []
    assert store.query(scope=A, sparse=SparseVector((), ())) == []


def test_wrong_dense_dim_is_refused(store: VectorStore) -> None:
    with pytest.raises(ValueError, match="shape"):
        store.upsert([IndexPoint(chunk("A", "d"), np.ones(DIM + 1, np.float32), sparse({1: 1.0}))])


# -- window vectors (a MaxSim multivector) -------------------------------------------------------


def _one_good_window(q: np.ndarray) -> tuple[IndexPoint, IndexPoint]:
    """A chunk with one window close to `q` among far ones (its mean is far), and a chunk whose
    single vector is moderately close."""
    windows = np.stack([unit("far-1"), near(q, "good", 0.1), unit("far-2"), unit("far-3")])
    mean = unit_rows_of(windows.mean(axis=0))
    part = IndexPoint(chunk("A", "part"), mean, sparse({999: 1.0}), windows=windows)
    whole = point(chunk("A", "whole"), near(q, "whole", 0.8))
    return part, whole


def unit_rows_of(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.mark.parametrize(
    ("windows", "first"), [("instead", "part"), ("off", "whole"), ("beside", None)]
)
def test_windows_leg_finds_a_chunk_by_its_best_window(
    kind: str, tmp_path: Path, front: QdrantFront, windows: WindowsLeg, first: str | None
) -> None:
    q = unit(QUERY)
    with open_store(kind, tmp_path, front, windows) as s:
        s.upsert(list(_one_good_window(q)))
        hits = s.query(scope=A, dense=q, limit=2)
        assert {h.chunk.document for h in hits} == {"part", "whole"}
        if first is not None:
            assert hits[0].chunk.document == first
        if windows == "instead":  # MaxSim: the cosine of the best window
            assert hits[0].score == pytest.approx(1 / np.sqrt(1.01), abs=1e-4)
        fused = s.query(scope=A, dense=q, sparse=sparse({999: 1.0}), limit=2)
        assert len(fused) == 2


@pytest.mark.parametrize("legs", ["dense", "hybrid"])
def test_similarity_is_the_best_window_cosine(store: VectorStore, legs: str) -> None:
    q = unit(QUERY)
    part, whole = _one_good_window(q)
    store.upsert([part, whole])
    terms = sparse({999: 1.0}) if legs == "hybrid" else None
    hits = store.query(scope=A, dense=q, sparse=terms, limit=2, similarity=True)
    got = {h.chunk.document: h.similarity for h in hits}
    assert got == {
        "part": pytest.approx(1 / np.sqrt(1.01), abs=1e-4),  # its best window
        "whole": pytest.approx(1 / np.sqrt(1.64), abs=1e-4),  # its one vector
    }
    assert all(h.similarity is None for h in store.query(scope=A, dense=q, sparse=terms))
    assert store.query(scope=A, sparse=sparse({999: 1.0}), similarity=True)[0].similarity is None


def test_wrong_window_shape_is_refused(store: VectorStore) -> None:
    bad = np.ones((2, DIM + 1), np.float32)
    with pytest.raises(ValueError, match="window vectors"):
        store.upsert([IndexPoint(chunk("A", "d"), unit("d"), sparse({1: 1.0}), windows=bad)])


def test_edge_index_without_windows_runs_as_before(tmp_path: Path) -> None:
    import qdrant_edge as qe

    from retrieval.stores.edge import _config

    older = _config(DIM, windows=False, names=True)  # an index made before the windows
    qe.EdgeShard.create(str(tmp_path), older).close()
    with EdgeVectorStore(tmp_path, dense_dim=DIM, windows="instead") as s:
        assert (s.has_windows, s.windows) == (False, "off")
        _assert_runs_without_windows(s)
    with EdgeVectorStore(tmp_path, dense_dim=DIM) as s:  # reopened: still the old schema
        assert s.count(scope=A) == 2


def test_qdrant_collection_without_windows_runs_as_before(tmp_path: Path) -> None:
    from qdrant_client import QdrantClient, models

    old = QdrantClient(path=str(tmp_path))  # a collection created before window vectors
    old.create_collection(
        "c",
        vectors_config={
            DENSE_VECTOR: models.VectorParams(size=DIM, distance=models.Distance.COSINE)
        },
        sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams()},
    )
    old.close()
    with QdrantClientStore(path=tmp_path, collection="c", dense_dim=DIM, windows="beside") as s:
        assert (s.has_windows, s.windows) == (False, "off")
        _assert_runs_without_windows(s)


def _assert_runs_without_windows(s: VectorStore) -> None:
    q = unit(QUERY)
    s.upsert(list(_one_good_window(q)))  # the windows are dropped: the index has no place
    assert s.query(scope=A, dense=q, limit=1)[0].chunk.document == "whole"
    best = s.query(scope=A, dense=q, limit=1, similarity=True)[0]  # from the mean vector
    assert best.similarity == pytest.approx(1 / np.sqrt(1.64), abs=1e-4)
    assert len(s.query(scope=A, dense=q, sparse=sparse({999: 1.0}), limit=5)) == 2


# -- scope: isolation, empty scope, documents -------------------------------------------------

QUERIES: dict[str, Callable[[VectorStore, Scope], list[Chunk]]] = {
    "dense": lambda s, sc: [h.chunk for h in s.query(scope=sc, dense=unit(QUERY), limit=10)],
    "sparse": lambda s, sc: [h.chunk for h in s.query(scope=sc, sparse=sparse({1: 1.0}), limit=10)],
    "hybrid": lambda s, sc: [
        h.chunk for h in s.query(scope=sc, dense=unit(QUERY), sparse=sparse({1: 1.0}), limit=10)
    ],
    "get": lambda s, sc: s.get(
        scope=sc, ids=[chunk(c, "shared", p).id for c in "AB" for p in range(3)]
    ),
}


@pytest.mark.parametrize("read", QUERIES)
def test_reads_never_leave_the_scope(two_tenants: VectorStore, read: str) -> None:
    got = QUERIES[read](two_tenants, A)
    assert len(got) == 3
    assert {c.collection for c in got} == {"A"}
    assert {c.collection for c in QUERIES[read](two_tenants, Scope.of(["A", "B"]))} == {"A", "B"}


def test_count_and_delete_never_leave_the_scope(two_tenants: VectorStore) -> None:
    assert two_tenants.count(scope=A) == 3
    assert two_tenants.count(scope=A, document="shared") == 3
    assert two_tenants.delete_document(scope=A, document="shared") == 3
    assert two_tenants.count(scope=A) == 0
    assert two_tenants.count(scope=B, document="shared") == 3
    assert two_tenants.delete_document(scope=Scope.of(["C"]), document="shared") == 0
    assert two_tenants.count(scope=B) == 3


def test_empty_scope_matches_nothing_and_never_reaches_the_engine(
    two_tenants: VectorStore, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(two_tenants, ENGINE_ATTR[kind], _Tripwire())
    empty = Scope.of([])
    for read in QUERIES.values():
        assert read(two_tenants, empty) == []
    assert two_tenants.count(scope=empty) == 0
    assert two_tenants.delete_document(scope=empty, document="shared") == 0
    assert two_tenants.query(scope=A, dense=unit(QUERY), documents=[]) == []
    assert two_tenants.get(scope=A, ids=[]) == []


def test_hybrid_is_one_request_with_the_scope_on_every_leg(
    two_tenants: VectorStore, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder(getattr(two_tenants, ENGINE_ATTR[kind]))
    monkeypatch.setattr(two_tenants, ENGINE_ATTR[kind], recorder)
    two_tenants.query(scope=A, dense=unit(QUERY), sparse=sparse({1: 1.0}))
    [(method, args, kwargs)] = recorder.calls
    if kind == "edge":
        assert method == "query"
        request = args[0]
        top, legs = request.filter, [p.filter for p in request.prefetches]
    else:
        assert method == "query_points"
        top, legs = kwargs["query_filter"], [p.filter for p in kwargs["prefetch"]]
    assert len(legs) == 3  # dense, BM25 over the text, BM25 over the names
    for flt in [top, *legs]:
        cond = flt.must[0]
        assert cond.key == "collection"
        assert list(cond.match.value if kind == "edge" else cond.match.any) == ["A"]


def test_documents_filter_narrows_within_the_scope(store: VectorStore) -> None:
    store.upsert([point(chunk("A", doc, i)) for doc in ("x", "y", "z") for i in range(2)])
    store.upsert([point(chunk("B", "x", 0))])
    hits = store.query(scope=A, dense=unit(QUERY), sparse=sparse({999: 1.0}), documents=["x", "z"])
    assert (
        sorted((h.chunk.collection, h.chunk.document) for h in hits)
        == [("A", "x")] * 2 + [("A", "z")] * 2
    )
    hits = store.query(scope=A, dense=unit(QUERY), documents=["x"], limit=10)
    assert {(h.chunk.collection, h.chunk.document) for h in hits} == {("A", "x")}


# -- get, delete, count -----------------------------------------------------------------------


def test_get_keeps_the_asked_order_and_skips_unknown_ids(store: VectorStore) -> None:
    chunks = [chunk("A", "d", i) for i in range(4)]
    store.upsert([point(c) for c in chunks])
    ids = [
        chunks[2].id,
        str(uuid.uuid4()),
        chunks[0].id.upper(),
        "not-a-uuid",
        chunks[3].id,
        chunks[2].id,
    ]
    assert store.get(scope=A, ids=ids) == [chunks[2], chunks[0], chunks[3]]


def test_delete_document_returns_the_count_deleted(store: VectorStore) -> None:
    store.upsert([point(chunk("A", "gone", i)) for i in range(4)] + [point(chunk("A", "kept"))])
    assert store.delete_document(scope=A, document="gone") == 4
    assert store.delete_document(scope=A, document="gone") == 0
    assert store.count(scope=A) == 1
    assert store.count(scope=A, document="gone") == 0
    assert store.query(scope=A, dense=unit(QUERY), limit=10)[0].chunk.document == "kept"


def test_hidden_generations_are_invisible_to_every_read(store: VectorStore) -> None:
    old = [point(chunk("A", "doc", i, generation="g1")) for i in range(3)]
    new = [point(chunk("A", "doc", 10 + i, generation="g2")) for i in range(3)]
    store.upsert(old + new + [point(chunk("A", "other"))])
    hiding_new = A.hiding(["g2"])
    hits = store.query(scope=hiding_new, dense=unit(QUERY), sparse=sparse({999: 1.0}), limit=10)
    assert {h.chunk.generation for h in hits if h.chunk.document == "doc"} == {"g1"}
    assert store.get(scope=hiding_new, ids=[p.chunk.id for p in new]) == []
    assert store.count(scope=hiding_new, document="doc") == 3
    assert store.get(scope=A, ids=[new[0].chunk.id])[0].generation == "g2"
    # narrowing a scope keeps what it hides
    assert store.count(scope=hiding_new.narrowed_to(["A"]), document="doc") == 3


def test_delete_one_generation_of_a_document(store: VectorStore) -> None:
    store.upsert([point(chunk("A", "doc", i, generation="g1")) for i in range(3)])
    store.upsert([point(chunk("A", "doc", 10 + i, generation="g2")) for i in range(2)])
    # deletes reach hidden generations: the scope hides them from reads only
    assert store.delete_document(scope=A.hiding(["g1"]), document="doc", generation="g1") == 3
    assert store.count(scope=A, document="doc") == 2
    assert store.delete_document(scope=B, document="doc", generation="g2") == 0


def test_close_is_idempotent_and_a_closed_store_refuses(
    kind: str, tmp_path: Path, front: QdrantFront
) -> None:
    with open_store(kind, tmp_path, front) as s:
        s.upsert([point(chunk("A", "d"))])
    s.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        s.count(scope=A)


def test_queries_run_while_another_thread_upserts(store: VectorStore) -> None:
    store.upsert([point(chunk("A", "seed", i)) for i in range(20)])
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                assert len(store.query(scope=A, dense=unit(QUERY), sparse=sparse({999: 1.0}))) == 10
        except BaseException as exc:  # reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for i in range(10):
        store.upsert([point(chunk("A", "more", 10 * i + j)) for j in range(10)])
    for t in readers:
        t.join()
    assert errors == []
    assert store.count(scope=A) == 120


# -- edge only: persistence, locking, purge ---------------------------------------------------


def test_edge_data_survives_close_and_reopen(tmp_path: Path) -> None:
    c = chunk("A", "d", title="T", page=3)
    with EdgeVectorStore(tmp_path, dense_dim=DIM) as s:
        s.upsert([point(c)])
    with EdgeVectorStore(tmp_path, dense_dim=DIM) as s:
        assert s.get(scope=A, ids=[c.id]) == [c]
        assert s.query(scope=A, dense=unit(c.id), limit=1)[0].chunk == c


def test_edge_refuses_a_second_store_on_the_same_directory(tmp_path: Path) -> None:
    with EdgeVectorStore(tmp_path, dense_dim=DIM):
        with pytest.raises(StoreUnavailable, match="in use by another Enclave process"):
            EdgeVectorStore(tmp_path, dense_dim=DIM)
        code = (
            "import sys; from retrieval.stores import EdgeVectorStore as E; from retrieval.errors "
            "import StoreUnavailable as U\ntry: E(sys.argv[1], dense_dim=16)\n"
            "except U as e: print(e); sys.exit(3)"
        )
        other = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
        )
        assert other.returncode == 3, other.stderr
        assert (
            other.stdout.strip() == f"the index at {tmp_path} is in use by another Enclave process"
        )
    EdgeVectorStore(tmp_path, dense_dim=DIM).close()  # close() released the lock


def test_edge_refuses_a_different_dense_dim(tmp_path: Path) -> None:
    EdgeVectorStore(tmp_path, dense_dim=DIM).close()
    with pytest.raises(StoreUnavailable, match="cannot open the index"):
        EdgeVectorStore(tmp_path, dense_dim=DIM * 2)
    EdgeVectorStore(tmp_path, dense_dim=DIM).close()  # the failed open released the lock


def test_edge_purge_removes_deleted_text_from_disk(tmp_path: Path) -> None:
    erased, kept = b"CANARY-ERASED-7f3a9c", b"CANARY-KEPT-51d2e8"
    with EdgeVectorStore(tmp_path, dense_dim=DIM) as s:
        s.upsert(
            [point(chunk("A", "erase-me", i, text=f"{erased.decode()} {i}")) for i in range(3)]
        )
        s.upsert([point(chunk("A", "keep-me", i, text=f"{kept.decode()} {i}")) for i in range(3)])
        assert _files_containing(tmp_path, erased)
        assert s.delete_document(scope=A, document="erase-me") == 3
        assert _files_containing(tmp_path, erased), "a soft delete leaves the bytes (until purge)"
        s.purge()
        assert _files_containing(tmp_path, erased) == []
        assert _files_containing(tmp_path, kept)
        assert s.count(scope=A) == 3
    with EdgeVectorStore(tmp_path, dense_dim=DIM) as s:
        assert s.count(scope=A) == 3
    assert _files_containing(tmp_path, erased) == []


def test_edge_refuses_writes_below_the_free_space_it_keeps(tmp_path: Path) -> None:
    """A disk with less free than the reserve: upserts and purges are refused before the
    engine writes anything (a full disk under its memory-mapped files would kill the process);
    reads and deletes go on."""
    c = chunk("A", "d")
    with EdgeVectorStore(tmp_path, dense_dim=DIM) as s:
        s.upsert([point(c)])
    free = shutil.disk_usage(tmp_path).free
    with EdgeVectorStore(tmp_path, dense_dim=DIM, min_free_bytes=free + 2**30) as s:
        with pytest.raises(IndexFull, match=r"^the index's disk is full: \d+ MB free, \d+ MB"):
            s.upsert([point(chunk("A", "e"))])
        assert s.count(scope=A) == 1
        assert s.get(scope=A, ids=[c.id]) == [c]
        assert s.delete_document(scope=A, document="d") == 1
        with pytest.raises(IndexFull):
            s.purge()


# -- qdrant-client only -----------------------------------------------------------------------


def test_qdrant_server_unreachable_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="did not answer"):
        QdrantClientStore(url="http://127.0.0.1:9", collection="c", dense_dim=DIM, timeout_s=1)


def test_qdrant_local_path_mode_locks_its_directory(tmp_path: Path) -> None:
    with (
        QdrantClientStore(path=tmp_path, collection="c", dense_dim=DIM),
        pytest.raises(StoreUnavailable, match="in use"),
    ):
        QdrantClientStore(path=tmp_path, collection="c", dense_dim=DIM)


# -- factory ----------------------------------------------------------------------------------


def test_factory_builds_the_configured_store(tmp_path: Path) -> None:
    edge = make_vector_store(VectorStoreSettings(), dense_dim=DIM, default_path=tmp_path / "idx")
    with edge:
        assert isinstance(edge, EdgeVectorStore)
        assert edge.path == tmp_path / "idx"
    settings = VectorStoreSettings(kind="qdrant", url=":memory:")
    with make_vector_store(settings, dense_dim=DIM, default_path=tmp_path) as server:
        assert isinstance(server, QdrantClientStore)


def test_importing_the_package_loads_no_engine() -> None:
    engines = "{'qdrant_edge', 'qdrant_client'}"
    code = f"import sys, retrieval.stores; sys.exit(bool({engines} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -- congruence: the same points, the same queries, the same rankings -------------------------


@pytest.mark.parametrize("server", SERVER_KINDS)
def test_edge_and_qdrant_client_rank_alike(tmp_path: Path, front: QdrantFront, server: str) -> None:
    rng = np.random.default_rng(7)
    points = []
    for i in range(60):
        terms = {
            int(t): float(rng.uniform(0.2, 2.0)) for t in rng.choice(40, size=4, replace=False)
        }
        points.append(point(chunk("AB"[i % 2], f"doc{i % 7}", i), terms=terms))
    stores = [open_store(kind, tmp_path, front) for kind in ("edge", server)]
    try:
        for s in stores:
            s.upsert(points)
        for n in range(6):
            q = unit(f"q{n}")
            sq = sparse({int(t): 1.0 for t in rng.choice(40, size=3, replace=False)})
            for args in ({"dense": q}, {"sparse": sq}, {"dense": q, "sparse": sq}):
                edge, server = (
                    s.query(scope=A, limit=8, prefetch_limit=12, **args) for s in stores
                )
                assert [h.score for h in edge] == pytest.approx([h.score for h in server], rel=1e-4)
                # equal scores (RRF ties) may come back in either order; the last group may be cut
                assert _ranking(edge)[:-1] == _ranking(server)[:-1], (n, list(args))
            assert stores[0].count(scope=A, document="doc3") == stores[1].count(
                scope=A, document="doc3"
            )
    finally:
        for s in stores:
            s.close()


# -- helpers ----------------------------------------------------------------------------------


class _Tripwire:
    """Stands in for the engine: any use fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the engine was called ({name}) for a scope that matches nothing")


class _Recorder:
    """Stands in for the engine: records each method call, then makes it."""

    def __init__(self, target: object) -> None:
        self.target = target
        self.calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    def __getattr__(self, name: str) -> Callable[..., object]:
        method = getattr(self.target, name)

        def call(*args: object, **kwargs: object) -> object:
            self.calls.append((name, args, kwargs))
            return method(*args, **kwargs)

        return call


def _ranking(hits: list[Hit]) -> list[set[str]]:
    """Chunk ids grouped by (rounded) score, best first."""
    groups: dict[float, set[str]] = {}
    for h in hits:
        groups.setdefault(round(h.score, 4), set()).add(h.chunk.id)
    return list(groups.values())


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


# -- indexes created before the names vector ---------------------------------------------------


def _old_index(kind: str, tmp_path: Path) -> VectorStore:
    """A store on an index created with only the dense and BM25 vectors, as before the names
    vector existed."""
    if kind == "edge":
        import qdrant_edge as qe

        config = qe.EdgeConfig(
            vectors={"dense": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)},
            sparse_vectors={"bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            wal_enabled=False,
        )
        qe.EdgeShard.create(str(tmp_path / "index"), config).close()
        return EdgeVectorStore(tmp_path / "index", dense_dim=DIM)
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(tmp_path / "local"))
    client.create_collection(
        "old",
        vectors_config={"dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
        sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    client.close()
    return QdrantClientStore(path=tmp_path / "local", collection="old", dense_dim=DIM)


@pytest.mark.parametrize("kind", ["edge", "qdrant"])
def test_an_index_without_the_names_vector_keeps_working(kind: str, tmp_path: Path) -> None:
    s = _old_index(kind, tmp_path)
    try:
        assert not s.has_names  # type: ignore[attr-defined]
        q = unit(QUERY)
        c = chunk("A", "d", names=("XJ-220",))
        s.upsert([IndexPoint(c, near(q, "a", 0.1), sparse({40: 1.0}), names=sparse({40: 1.0}))])
        hits = s.query(scope=A, dense=q, sparse=sparse({40: 1.0}), limit=1)
        assert [h.chunk for h in hits] == [c]
        assert hits[0].score == pytest.approx(1 / 2 + 1 / 2)  # two legs, not three
    finally:
        s.close()
    if kind == "edge":  # reopening keeps it as it was
        with EdgeVectorStore(tmp_path / "index", dense_dim=DIM) as again:
            assert not again.has_names
