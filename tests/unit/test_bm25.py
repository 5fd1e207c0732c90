"""The BM25 tokenizer (identifiers whole and split, Unicode) and the sparse encoder's math."""

from __future__ import annotations

import math
import unicodedata

import pytest

from retrieval.bm25 import STOP_WORDS, BM25Encoder, normalize, term_id, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("XJ-220", ["xj-220", "xj", "220"]),
        ("max_wal_senders", ["max_wal_senders", "max", "wal", "senders"]),
        ("42P01", ["42p01", "42", "01"]),
        ("os.path.join", ["os.path.join", "os", "path", "join"]),
        ("asyncio.Queue", ["asyncio.queue", "asyncio", "queue"]),
        ("std::vector", ["std::vector", "std", "vector"]),
        ("python3", ["python3", "python", "3"]),
        ("Hello World", ["hello", "world"]),
    ],
)
def test_identifiers_are_kept_whole_and_split(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_sentence_punctuation_is_not_a_connector() -> None:
    assert tokenize("Set it. Then restart, (quickly)!") == ["set", "restart", "quickly"]


def test_hashes_and_hex_ids_are_not_shredded() -> None:
    assert tokenize("3f2a9c7e") == ["3f2a9c7e"]


def test_stop_words_drop_whole_words_only() -> None:
    assert tokenize("What is the a-b option") == ["a-b", "a", "b", "option"]
    assert "the" in tokenize("the", stop_words=frozenset())
    assert {"the", "a", "is", "what"} <= STOP_WORDS


def test_latin_diacritics_and_case_are_folded() -> None:
    assert tokenize("Café MÜLLER Straße") == ["cafe", "muller", "strasse"]
    decomposed = unicodedata.normalize("NFD", "naïve résumé")
    assert tokenize(decomposed) == tokenize("naive resume") == ["naive", "resume"]


def test_compatibility_forms_are_unified() -> None:
    assert tokenize("ﬁle ＡＢＣ") == ["file", "abc"]


def test_other_scripts_keep_their_marks_and_words() -> None:
    assert tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert tokenize("Йод") == ["йод"]  # й is a letter of its own, not и with an accent
    assert tokenize("Ελληνικά") == [normalize("Ελληνικά")]


def test_term_ids_are_stable_31_bit_hashes() -> None:
    # Hard-coded: the ids must not change across processes, machines or releases.
    assert term_id("xj-220") == 587932091
    assert term_id("max_wal_senders") == 1512538227
    assert all(0 <= term_id(t) < 2**31 for t in ("", "a", "é", "x" * 1000))


def _weight(tf: int, length: int, k1: float, b: float, avg_len: float) -> float:
    return tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg_len))


def test_document_weights_follow_bm25_tf_formula() -> None:
    enc = BM25Encoder(k1=1.2, b=0.75, avg_len=4.0)
    vec = enc.encode_document("alpha beta alpha gamma delta")  # 5 tokens, alpha twice
    weights = dict(zip(vec.indices, vec.values, strict=True))
    assert len(weights) == 4
    assert weights[term_id("alpha")] == pytest.approx(_weight(2, 5, 1.2, 0.75, 4.0))
    assert weights[term_id("beta")] == pytest.approx(_weight(1, 5, 1.2, 0.75, 4.0))
    assert list(vec.indices) == sorted(vec.indices)


def test_longer_documents_weigh_less_unless_b_is_zero() -> None:
    short, long = "alpha beta", "alpha " + " ".join(f"w{i}" for i in range(50))
    tid = term_id("alpha")

    def weight(enc: BM25Encoder, text: str) -> float:
        vec = enc.encode_document(text)
        return vec.values[vec.indices.index(tid)]

    normal = BM25Encoder(k1=1.2, b=0.75, avg_len=10)
    assert weight(normal, short) > weight(normal, long)
    flat = BM25Encoder(k1=1.2, b=0.0, avg_len=10)
    assert weight(flat, short) == pytest.approx(weight(flat, long))


def test_tf_saturates_towards_k1_plus_one() -> None:
    enc = BM25Encoder(k1=1.2, b=0.0)
    vec = enc.encode_document("spam " * 1000)
    assert vec.values[0] < 2.2
    assert math.isclose(vec.values[0], 2.2, rel_tol=0.01)


def test_query_has_unit_weights_per_unique_term() -> None:
    vec = BM25Encoder().encode_query("the XJ-220 and xj-220 pump")
    expected = sorted({term_id(t) for t in ["xj-220", "xj", "220", "pump"]})
    assert list(vec.indices) == expected
    assert set(vec.values) == {1.0}


def test_empty_text_gives_an_empty_vector() -> None:
    enc = BM25Encoder()
    assert enc.encode_document("").indices == ()
    assert enc.encode_query("the, of!").values == ()


@pytest.mark.parametrize(("k1", "b", "avg_len"), [(-1, 0.75, 10), (1.2, 1.5, 10), (1.2, 0.5, 0)])
def test_invalid_parameters_are_refused(k1: float, b: float, avg_len: float) -> None:
    with pytest.raises(ValueError, match="BM25"):
        BM25Encoder(k1=k1, b=b, avg_len=avg_len)
