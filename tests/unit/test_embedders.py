"""The hash double, the long-document windowing logic (with a fake tokenizer) and the factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.embedders import (
    HashEmbedder,
    _TokenizedEmbedder,
    _word_aligned,
    make_embedder,
    pooled,
    unit_rows,
    window_spans,
)
from retrieval.errors import ModelNotFound
from retrieval.protocols import EmbedKind
from retrieval.settings import EmbedderSettings


def test_hash_embedder_is_deterministic_and_unit_norm() -> None:
    emb = HashEmbedder(dim=32)
    a = emb.embed(["pump XJ-220 manual", "something else"], kind="document")
    b = HashEmbedder(dim=32).embed(["pump XJ-220 manual"], kind="query")
    assert a.shape == (2, 32)
    assert a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(a[0], b[0])
    assert abs(float(a[0] @ a[1])) < 0.9


def test_hash_embedder_counts_whitespace_tokens_and_handles_empty_input() -> None:
    emb = HashEmbedder()
    assert emb.count_tokens(["a b  c", ""]) == [3, 0]
    assert emb.embed([], kind="query").shape == (0, 64)
    assert emb.name == "hash:64"
    with pytest.raises(ValueError, match="dim"):
        HashEmbedder(dim=0)


@pytest.mark.parametrize(("n", "size"), [(10, 10), (300, 254), (1024, 254), (1500, 254), (9, 4)])
def test_window_spans_cover_everything_with_overlap(n: int, size: int) -> None:
    spans = window_spans(n, size, overlap=32)
    assert spans[0][0] == 0
    assert spans[-1][1] == n
    assert all(end - start == min(size, n) for start, end in spans)
    for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False):
        assert prev_end - start >= min(32, size // 2)


def test_window_edges_move_to_word_boundaries() -> None:
    # "unbelievable things happen": un|believ|able things happen
    offsets = [(0, 2), (2, 8), (8, 12), (13, 19), (20, 26)]
    assert _word_aligned(offsets, 1, 5) == (3, 5)  # starts mid-word: skip to "things"
    assert _word_aligned(offsets, 0, 2) == (0, 2)  # cannot shrink to nothing: kept as is
    assert _word_aligned(offsets, 0, 4) == (0, 4)


def test_unit_rows_leaves_zero_rows_alone() -> None:
    rows = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


class _WhitespaceTokenizer:
    """Mimics the Hugging Face call signature with one token per whitespace-separated word."""

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 2

    def __call__(self, text: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(text, list):
            return {"input_ids": [t.split() for t in text]}
        offsets, pos = [], 0
        for word in text.split():
            start = text.index(word, pos)
            offsets.append((start, start + len(word)))
            pos = start + len(word)
        return {"offset_mapping": offsets}


class _FakeModelEmbedder(_TokenizedEmbedder):
    def __init__(self, max_tokens: int) -> None:
        self.name, self.dim, self.max_tokens = "fake", 16, max_tokens
        self._tokenizer = _WhitespaceTokenizer()
        self._own_counter()
        self.prompts = {"query": "q: "}
        self.seen: list[str] = []
        self._hash = HashEmbedder(16)

    def _encode(self, texts: list[str], *, kind: EmbedKind) -> np.ndarray:
        self.seen.extend(texts)
        return self._hash.embed(texts, kind=kind) * 3.0  # not unit: the base must normalise


def test_long_documents_are_embedded_as_averaged_windows() -> None:
    emb = _FakeModelEmbedder(max_tokens=4)
    long_text = " ".join(f"w{i}" for i in range(10))
    vectors = emb.embed(["short text", long_text], kind="document")
    windows = emb.seen[1:]
    assert emb.seen[0] == "short text"
    assert len(windows) > 1
    assert all(len(w.split()) == 4 for w in windows)
    assert windows[0].startswith("w0 ")
    assert windows[-1].endswith(" w9")
    expected = unit_rows(emb._hash.embed(windows, kind="document").sum(axis=0, keepdims=True))
    np.testing.assert_allclose(vectors[1], expected[0], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert emb.count_tokens(["a b", long_text]) == [2, 10]


def test_embed_windows_keeps_each_window_vector_in_order() -> None:
    emb = _FakeModelEmbedder(max_tokens=4)
    long_text = " ".join(f"w{i}" for i in range(10))
    windows = emb.embed_windows([long_text, "short text"])
    pieces = emb.seen[:-1]
    assert [w.shape for w in windows] == [(len(pieces), 16), (1, 16)]
    expected = unit_rows(emb._hash.embed(pieces, kind="document"))
    np.testing.assert_allclose(windows[0], expected, rtol=1e-5)
    again = emb.embed([long_text, "short text"], kind="document")
    np.testing.assert_allclose(pooled(windows), again, rtol=1e-5)


def test_hash_double_windows_long_texts_by_words() -> None:
    emb = HashEmbedder(8, window_words=4)
    (short,), (long,) = emb.embed_windows(["a b c"]), emb.embed_windows(["a b c d e f g h i"])
    np.testing.assert_allclose(short, emb.embed(["a b c"], kind="document"))
    assert long.shape == (4, 8)  # 9 words, windows of 4 overlapping by at least 2
    np.testing.assert_allclose(long[0], emb.embed(["a b c d"], kind="query")[0])


def test_queries_get_their_prompt_and_are_not_windowed() -> None:
    emb = _FakeModelEmbedder(max_tokens=2)
    emb.embed(["one two three"], kind="query")
    assert emb.seen == ["q: one two three"]


def test_make_embedder_builds_the_hash_double() -> None:
    emb = make_embedder(EmbedderSettings(kind="hash", hash_dim=8))
    assert isinstance(emb, HashEmbedder)
    assert emb.dim == 8


def test_missing_bge_m3_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="not found"):
        make_embedder(EmbedderSettings(model_path=tmp_path / "absent"))
    with pytest.raises(ModelNotFound, match="model_path"):
        make_embedder(EmbedderSettings(kind="bge-m3"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="config.json"):
        make_embedder(EmbedderSettings(kind="minilm", model_path=tmp_path / "empty"))
