"""Rerankers: a cross-encoder from a local directory, the model-free proximity reranker, the
semantic reranker (proximity + the query's best cosine with each candidate's window vectors), a
pass-through, and a token-overlap double.

Each has a `name` that is reported with every answer, so a reader knows which one ranked it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np

from retrieval.bm25 import compounds, tokenize, words
from retrieval.embedders import offline_env
from retrieval.errors import ModelNotFound
from retrieval.protocols import Reranker
from retrieval.settings import RerankerSettings
from retrieval.types import Chunk, Hit

CrossEncoderBackend = Literal["flag", "sentence-transformers"]


def passage_text(chunk: Chunk) -> str:
    """What a reranker reads for a chunk: its title and section as a heading line, then its text."""
    heading = " > ".join(part for part in (chunk.title, chunk.section) if part)
    return f"{heading}\n{chunk.text}" if heading else chunk.text


def _rescored(hits: Sequence[Hit], scores: Sequence[float], top_k: int) -> list[Hit]:
    """Hits with their new scores, best first; ties keep their incoming (fusion) order."""
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [replace(hits[i], score=float(scores[i])) for i in order[: max(top_k, 0)]]


class PassThroughReranker:
    """No reranking: keeps the fusion order and scores, truncated to top_k."""

    name = "none"
    uses_similarity = False

    def rerank(self, query: str, hits: Sequence[Hit], *, top_k: int) -> list[Hit]:
        return list(hits)[: max(top_k, 0)]


class TokenOverlapReranker:
    """Unit-test double: the share of the query's distinct BM25 tokens found in the passage."""

    name = "overlap"
    uses_similarity = False

    def rerank(self, query: str, hits: Sequence[Hit], *, top_k: int) -> list[Hit]:
        wanted = set(tokenize(query))
        if not wanted:
            return list(hits)[: max(top_k, 0)]
        scores = [len(wanted & set(tokenize(passage_text(h.chunk)))) / len(wanted) for h in hits]
        return _rescored(hits, scores, top_k)


_PATH_SEPARATOR = re.compile(r"::|[.:/]")


def identifiers(text: str) -> list[str]:
    """The identifiers of `text`: compounds joined by a connector (`os.path.join`, `XJ-220`,
    `max_wal_senders`), normalised, without repeats."""
    return list(dict.fromkeys(c for c in compounds(text) if not c.isalnum()))


def suffixes(compound: str) -> list[str]:
    """A dotted name and its shorter tails: `a.b.c` -> `a.b.c`, `b.c`, `c`."""
    parts = _PATH_SEPARATOR.split(compound)
    return [".".join(parts[i:]) for i in range(len(parts))] if len(parts) > 1 else [compound]


class ProximityReranker:
    """Reorders the fused candidates by how closely each passage matches the query's wording.

    Score = the fusion score relative to the best candidate's (1.0 for the best)
    + the share of the query's consecutive word pairs that occur, in order, in the passage
    + how much of each identifier in the query the passage names (`reprlib.Repr.maxstring` is
    fully named by that string, two thirds by `Repr.maxstring`, a third by `maxstring`)
    + the same share against what the chunk is about (`Chunk.about`: its title, section path,
    and the headings, defined terms and table keys of its text): naming the thing is evidence,
    defining it is more. Each signal lies in [0, 1] and counts once: no weight is tuned.

    Fusion ranks whole chunks by bag-of-words and a mean embedding, so the chunk that holds the
    query's phrase or names its identifier can sit below a neighbour that merely shares its
    vocabulary; these two signals lift it. No model: a few milliseconds for ten candidates. The
    embedded default when no cross-encoder is configured (the pydocs evaluation measures it).
    """

    name = "proximity"
    uses_similarity = False

    def rerank(self, query: str, hits: Sequence[Hit], *, top_k: int) -> list[Hit]:
        if not hits or top_k <= 0:
            return []
        return _rescored(hits, self.scores(query, hits), top_k)

    def scores(self, query: str, hits: Sequence[Hit]) -> list[float]:
        """Each hit's proximity score (the sum above)."""
        query_words = words(query)
        pairs = list(zip(query_words, query_words[1:], strict=False))
        names = [suffixes(i) for i in identifiers(query)]
        best = max(h.score for h in hits)
        scores = []
        for hit in hits:
            passage = passage_text(hit.chunk)
            prior = hit.score / best if best > 0 else 0.0
            named = _named_share(names, passage)
            defined = _named_share(names, hit.chunk.about) if names else 0.0
            scores.append(prior + _pair_share(pairs, passage) + named + defined)
        return scores


class SemanticReranker(ProximityReranker):
    """The proximity score + the query's best cosine with the candidate's window vectors
    (`Hit.similarity`, read back from the index with the candidates: no model runs here beyond
    the query embedding the search already made).

    The wording signals reward shared phrases and names; the cosine rewards shared meaning, so a
    reworded question still finds the passage that answers it. Each term is on the same 0-1
    scale and weighs the same (a cosine below 0 counts 0); no weight was fitted to labels.
    A hit without a similarity (a BM25-only search) gets 0 for it, i.e. its proximity score.
    """

    name = "semantic"
    uses_similarity = True

    def rerank(self, query: str, hits: Sequence[Hit], *, top_k: int) -> list[Hit]:
        if not hits or top_k <= 0:
            return []
        lexical = self.scores(query, hits)
        scores = [s + max(h.similarity or 0.0, 0.0) for s, h in zip(lexical, hits, strict=True)]
        return _rescored(hits, scores, top_k)


def _pair_share(pairs: Sequence[tuple[str, str]], passage: str) -> float:
    """The share of `pairs` found as adjacent words in `passage`."""
    if not pairs:
        return 0.0
    passage_words = words(passage)
    found = set(zip(passage_words, passage_words[1:], strict=False))
    return sum(pair in found for pair in pairs) / len(pairs)


def _named_share(names: Sequence[list[str]], passage: str) -> float:
    """Mean over the query's identifiers of the longest tail the passage names, as a share of
    the identifier's parts (`names` holds each identifier's `suffixes`, longest first)."""
    if not names:
        return 0.0
    present = {tail for c in compounds(passage) for tail in suffixes(c)}
    total = 0.0
    for tails in names:
        hit = next((i for i, tail in enumerate(tails) if tail in present), None)
        total += 0.0 if hit is None else (len(tails) - hit) / len(tails)
    return total / len(names)


class CrossEncoderReranker:
    """A cross-encoder (e.g. bge-reranker-v2-m3) from a local directory; its relevance score,
    squashed by a sigmoid into (0, 1) by either backend, becomes `Hit.score`.

    backend="flag": FlagEmbedding's `FlagReranker`; backend="sentence-transformers": its
    `CrossEncoder`. Both read the same Hugging Face sequence-classification directory.
    """

    uses_similarity = False

    def __init__(
        self,
        model_path: Path | str,
        *,
        backend: CrossEncoderBackend = "flag",
        device: str = "cpu",
        batch_size: int = 16,
        max_length: int = 512,
    ) -> None:
        offline_env()
        path = Path(model_path)
        if not (path.is_dir() and (path / "config.json").is_file()):
            raise ModelNotFound(f"cross-encoder not found: {path} is not a model directory")
        self.name = f"cross-encoder:{path.name}"
        self.backend = backend
        self.batch_size = batch_size
        if backend == "flag":
            from FlagEmbedding import FlagReranker

            self._model = FlagReranker(
                str(path),
                use_fp16=device.startswith("cuda"),
                devices=device,
                batch_size=batch_size,
                max_length=max_length,
            )
        elif backend == "sentence-transformers":
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(
                str(path), device=device, max_length=max_length, local_files_only=True
            )
        else:
            raise ValueError(f"unknown cross-encoder backend: {backend!r}")

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One relevance score per passage (higher is more relevant)."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        pairs = [(query, p) for p in passages]
        if self.backend == "flag":
            raw = self._model.compute_score(pairs, batch_size=self.batch_size, normalize=True)
        else:  # a single-label CrossEncoder applies the sigmoid by default
            raw = self._model.predict(
                pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
            )
        return np.atleast_1d(np.asarray(raw, dtype=np.float32)).reshape(len(passages))

    def rerank(self, query: str, hits: Sequence[Hit], *, top_k: int) -> list[Hit]:
        if not hits or top_k <= 0:
            return []
        scores = self.score(query, [passage_text(h.chunk) for h in hits])
        return _rescored(hits, scores.tolist(), top_k)


def make_reranker(
    settings: RerankerSettings,
) -> Reranker:
    """The reranker the settings ask for; raises ModelNotFound when its files are missing."""
    kind = settings.resolved_kind
    if kind == "proximity":
        return ProximityReranker()
    if kind == "semantic":
        return SemanticReranker()
    if kind == "none":
        return PassThroughReranker()
    if kind == "overlap":
        return TokenOverlapReranker()
    if settings.model_path is None:
        raise ModelNotFound("the cross-encoder reranker needs reranker.model_path (a local dir)")
    return CrossEncoderReranker(
        settings.model_path,
        backend=settings.backend,
        device=settings.device,
        batch_size=settings.batch_size,
    )
