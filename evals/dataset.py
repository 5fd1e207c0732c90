"""An evaluation set on disk: documents plus `queries.jsonl`, the judging rule, the quick subset."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["exact", "semantic"]
QUERIES_FILE = "queries.jsonl"
_WHITESPACE = re.compile(r"\s+")  # str patterns are Unicode-aware: includes NBSP (U+00A0)


@dataclass(frozen=True)
class Label:
    file: str
    must_contain: str
    anchor: str = ""


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    kind: Kind
    relevant: tuple[Label, ...]

    @property
    def files(self) -> frozenset[str]:
        return frozenset(label.file for label in self.relevant)


@dataclass(frozen=True)
class EvalSet:
    name: str
    root: Path
    documents: tuple[Path, ...]
    queries: tuple[Query, ...]


def normalise(text: str) -> str:
    """Every whitespace run (newlines, NBSP included) → one space; ends stripped; case kept."""
    return _WHITESPACE.sub(" ", text).strip()


def judge(label: Label, filename: str, text: str) -> bool:
    """A chunk is relevant to `label` if it comes from its file and contains its string."""
    return filename == label.file and normalise(label.must_contain) in normalise(text)


def matched_labels(query: Query, filename: str, text: str) -> set[int]:
    """Indices of the query's labels that this chunk satisfies."""
    return {i for i, label in enumerate(query.relevant) if judge(label, filename, text)}


def load_queries(path: Path) -> list[Query]:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            labels = tuple(
                Label(file=r["file"], must_contain=r["must_contain"], anchor=r.get("anchor", ""))
                for r in raw["relevant"]
            )
            queries.append(
                Query(id=raw["id"], text=raw["query"], kind=raw["kind"], relevant=labels)
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}:{number}: not a query record ({exc})") from exc
    return queries


def document_files(root: Path) -> list[Path]:
    """The documents of a set: every file under `root/corpus` (or `root`), except metadata."""
    base = root / "corpus" if (root / "corpus").is_dir() else root
    skip = {QUERIES_FILE, "README.md"}
    return sorted(
        p
        for p in base.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and p.name not in skip
        and p.suffix not in {".jsonl", ".py"}
    )


def load(root: Path, *, queries_file: str = QUERIES_FILE) -> EvalSet:
    """The set at `root`; raises FileNotFoundError with a clear message when it is absent."""
    qpath = root / queries_file
    if not qpath.is_file():
        raise FileNotFoundError(f"evaluation set not found: {qpath} does not exist")
    return EvalSet(
        name=root.name,
        root=root,
        documents=tuple(document_files(root)),
        queries=tuple(load_queries(qpath)),
    )


def subset(
    data: EvalSet,
    *,
    limit_docs: int | None = None,
    limit_queries: int | None = None,
    seed: int = 20250601,
) -> EvalSet:
    """A deterministic subset: `limit_docs` files that carry queries (every format represented,
    sampled with `seed`), the queries whose files are all kept, then `limit_queries` of those."""
    docs = list(data.documents)
    if limit_docs is not None and limit_docs < len(docs):
        docs = _sample_files(docs, data.queries, limit_docs, random.Random(seed))
    kept = {p.name for p in docs}
    queries = [q for q in data.queries if q.files <= kept]
    if limit_queries is not None and limit_queries < len(queries):
        queries = sorted(random.Random(seed).sample(queries, limit_queries), key=lambda q: q.id)
    return EvalSet(data.name, data.root, tuple(docs), tuple(queries))


def _sample_files(
    docs: Sequence[Path], queries: Iterable[Query], n: int, rng: random.Random
) -> list[Path]:
    """Files that carry queries: each minority format gets about n/6 (so PDF and DOCX make it
    into a small subset), the rest is drawn from all remaining files."""
    labelled = {f for q in queries for f in q.files}
    by_format: dict[str, list[Path]] = {}
    for p in sorted(docs):
        if p.name in labelled:
            by_format.setdefault(p.suffix.lower(), []).append(p)
    pools = sorted(by_format.values(), key=len)
    for pool in pools:
        rng.shuffle(pool)
    picked: list[Path] = []
    for pool in pools[:-1]:
        take = min(len(pool), max(1, n // 6), n - len(picked))
        picked += pool[:take]
        del pool[:take]
    rest = [p for pool in pools for p in pool]
    rng.shuffle(rest)
    picked += rest[: n - len(picked)]
    return sorted(picked)
