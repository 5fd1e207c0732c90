"""The values that cross the retrieval API: scopes, chunks, index points and hits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scope:
    """The collections a caller may read, built on the server from its identity.

    Every index read and delete filters by it inside the query. An empty scope matches
    nothing: callers never widen it, and stores fail closed on it. `hidden` lists index
    generations no read may return: documents still being indexed, versions being replaced,
    documents being erased (the metadata DB says which; see app/visibility.py).
    """

    collections: frozenset[str]
    hidden: frozenset[str] = frozenset()

    @classmethod
    def of(cls, collections: Iterable[str], *, hidden: Iterable[str] = ()) -> Scope:
        return cls(frozenset(str(c) for c in collections), frozenset(str(g) for g in hidden))

    def __bool__(self) -> bool:
        return bool(self.collections)

    def narrowed_to(self, collections: Iterable[str]) -> Scope:
        """The intersection with what a request asks for: a request can only narrow a scope."""
        return Scope(self.collections & frozenset(str(c) for c in collections), self.hidden)

    def hiding(self, generations: Iterable[str]) -> Scope:
        """The same collections, with `generations` hidden too."""
        return Scope(self.collections, self.hidden | frozenset(str(g) for g in generations))


@dataclass(frozen=True)
class SparseVector:
    """A sparse vector: parallel lists of term ids and weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Place:
    """Where the text of a chunk lies in its document, from character `offset` of the chunk's
    text up to the next place's: the page (1-based, where the format has pages) and the
    heading path ("Chapter > Section")."""

    offset: int
    page: int | None
    section: str


@dataclass(frozen=True)
class Chunk:
    """One indexed passage of a document, with its provenance. A chunk can span pages and
    sections: `page` and `section` are where it starts, `places` every change along its text
    (the first at offset 0), so a sentence inside it can be located exactly."""

    id: str  # a UUID string; also the point id in the index
    collection: str
    document: str
    position: int  # 0-based order of the chunk in its document
    text: str
    title: str = ""  # the document's title (file name when it has none)
    section: str = ""  # heading path, "Chapter > Section"
    page: int | None = None  # 1-based, where the format has pages
    start: int = 0  # character span in the document's parsed text
    end: int = 0
    generation: str = ""  # the ingestion run that wrote it (a job id); "" for none
    places: tuple[Place, ...] = ()  # empty for chunks indexed before places were recorded
    names: tuple[str, ...] = ()  # what its own text defines: headings, terms, table keys

    @property
    def about(self) -> str:
        """The names this chunk is about, one a line: the document's title, the section path
        where it starts, and what its text defines (the index's `names` leg and the
        reranker read this)."""
        return "\n".join(n for n in (self.title, *self.section.split(" > "), *self.names) if n)

    def place_at(self, offset: int) -> Place | None:
        """Where character `offset` of the text lies; None for chunks without places."""
        before = [p for p in self.places if p.offset <= offset]
        return before[-1] if before else None

    @property
    def pages(self) -> tuple[int, int] | None:
        """The first and last page its text is on (None where the format has no pages)."""
        pages = [p.page for p in self.places if p.page is not None]
        if not pages:
            return None if self.page is None else (self.page, self.page)
        return min(pages), max(pages)


@dataclass(frozen=True)
class IndexPoint:
    """A chunk with its dense and BM25 sparse vectors (and its window vectors), ready to upsert."""

    chunk: Chunk
    dense: np.ndarray  # shape (dim,), float32, L2-normalised
    sparse: SparseVector
    windows: np.ndarray | None = None  # shape (n, dim), unit rows; None: the one window `dense`
    names: SparseVector | None = None  # BM25 weights of `chunk.about`; None: no names leg


@dataclass(frozen=True)
class Hit:
    """A chunk with the score of the stage that ranked it last, and, when the query asked for
    it, `similarity`: the query vector's best cosine with the chunk's window vectors."""

    chunk: Chunk
    score: float
    similarity: float | None = None
