"""The lexical leg: a tokenizer that keeps identifiers whole and split, and BM25 sparse vectors.

Documents carry BM25 term-frequency weights; the IDF is applied by Qdrant (`Modifier.Idf`) at
query time, so the index never needs a corpus-wide rebuild. Term ids are stable across processes
and machines (a 31-bit blake2b hash of the token, never Python's salted `hash()`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from retrieval.types import SparseVector


def _mark_class() -> str:
    """Combining marks (Mn, Mc, Me) of the BMP as a regex class body: `\\w` alone omits them,
    which would cut Devanagari, Thai, ... words apart."""
    codes = [c for c in range(0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")]
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(f"\\u{a:04x}-\\u{b:04x}" if a != b else f"\\u{a:04x}" for a, b in ranges)


_WORD = rf"[\w{_mark_class()}]"
# An identifier: word runs joined by single connectors (XJ-220, os.path.join, std::move, a/b).
_COMPOUND = re.compile(rf"{_WORD}+(?:(?:::|[-.:/@]){_WORD}+)*")
_WORDS = re.compile(f"{_WORD}+")
_CONNECTORS = re.compile(r"(?:::|[-.:/@_])+")
_ALNUM_BOUNDARY = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")
_LATIN_MARKS = re.compile(r"(?<=[a-z])[\u0300-\u036f]+")
_MAX_ALNUM_FRAGMENTS = 3  # 'python3', '42p01' split; hashes and hex ids are left whole

# A small English stop-word list, applied to whole tokens only (never to identifier parts).
STOP_WORDS: frozenset[str] = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have"),
        *("how", "i", "if", "in", "into", "is", "it", "its", "of", "on", "or", "that", "the"),
        *("their", "then", "there", "these", "this", "to", "was", "were", "what", "when"),
        *("where", "which", "who", "why", "will", "with"),
    }
)


def normalize(text: str) -> str:
    """Case-fold and fold Latin diacritics (café -> cafe, Müller -> muller, ß -> ss).

    Compatibility forms are unified (NFKD: 'ﬁ' -> 'fi', full-width -> ASCII); marks on other
    scripts (Cyrillic й, Devanagari vowel signs, ...) are kept, since there they change the letter.
    """
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text).casefold()
    return unicodedata.normalize("NFC", _LATIN_MARKS.sub("", text))


def _alnum_fragments(part: str) -> list[str]:
    """'python3' -> ['python', '3']; '42p01' -> ['42', '01'] (1-letter fragments dropped)."""
    pieces = _ALNUM_BOUNDARY.split(part)
    if not 1 < len(pieces) <= _MAX_ALNUM_FRAGMENTS:
        return []
    return [p for p in pieces if len(p) > 1 or p.isdigit()]


@lru_cache(maxsize=1 << 16)
def _expand(compound: str) -> tuple[str, ...]:
    """The whole token followed by its parts (split on connectors, then at letter/digit edges)."""
    out = [compound]
    parts = [p for p in _CONNECTORS.split(compound) if p]
    if len(parts) > 1:
        out.extend(parts)
    for part in parts:
        out.extend(_alnum_fragments(part))
    return tuple(out)


def words(text: str) -> list[str]:
    """The normalised word runs of `text` in order, stop words kept (`os.path` -> os, path)."""
    return _WORDS.findall(normalize(text))


def compounds(text: str) -> list[str]:
    """The normalised identifiers and words of `text` in order, stop words kept (`XJ-220`,
    `os.path.join`, `the`)."""
    return _COMPOUND.findall(normalize(text))


def tokenize(text: str, *, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """Lower-cased tokens; each identifier is emitted whole and then as its parts.

    `XJ-220` -> xj-220, xj, 220; `max_wal_senders` -> max_wal_senders, max, wal, senders;
    `asyncio.Queue` -> asyncio.queue, asyncio, queue. No stemming.
    """
    tokens: list[str] = []
    for compound in compounds(text):
        if compound in stop_words:
            continue
        tokens.extend(_expand(compound))
    return tokens


@lru_cache(maxsize=1 << 18)
def term_id(token: str) -> int:
    """A stable 31-bit id for a token (identical in every process and on every machine)."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


# The length a chunk's names (`Chunk.about`: title, section path, defined terms) are normalised
# against: about a title and a two-level section path (~8 tokens each with identifier parts).
NAMES_AVG_LEN = 24.0


class BM25Encoder:
    """Encodes documents as BM25 term-frequency weights and queries as unit term weights.

    Score(q, d) = sum over query terms of IDF(t) * w(t, d), with IDF supplied by Qdrant's
    `Modifier.Idf` and w(t, d) = tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avg_len)).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, avg_len: float = 256.0) -> None:
        if k1 < 0 or not 0 <= b <= 1 or avg_len <= 0:
            raise ValueError("BM25 needs k1 >= 0, 0 <= b <= 1 and avg_len > 0")
        self.k1 = k1
        self.b = b
        self.avg_len = avg_len

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)

    def encode_document(self, text: str) -> SparseVector:
        tokens = tokenize(text)
        counts = Counter(term_id(t) for t in tokens)  # a hash collision merges the two terms
        norm = self.k1 * (1.0 - self.b + self.b * len(tokens) / self.avg_len)
        ids = sorted(counts)
        weights = tuple(counts[i] * (self.k1 + 1.0) / (counts[i] + norm) for i in ids)
        return SparseVector(indices=tuple(ids), values=weights)

    def encode_query(self, text: str) -> SparseVector:
        ids = sorted({term_id(t) for t in tokenize(text)})
        return SparseVector(indices=tuple(ids), values=(1.0,) * len(ids))

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return [self.encode_document(t) for t in texts]
