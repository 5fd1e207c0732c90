"""Answer quality on a sample of queries: citations, "not in the sources" and token F1.

No remote judge: the answers come from the runtime's own generator (the embedded SmolLM2, vLLM,
or the `echo` test double), and every judgement reuses the retrieval rule of `evals.dataset`
(a chunk is relevant when it comes from the labelled file and contains `must_contain`).

Per sampled query, two generations at temperature 0:

- **normal**: retrieval and generation exactly as the product answers (the runtime's
  `AnswerService`: hybrid, rerank on, `k = answer_k`, hidden generations dropped, the
  runtime's `max_tokens` and `context_tokens`). A cited source is relevant when
  `matched_labels` holds for its document's file name and its text.
- **withheld**: the same search with `k = answer_k + rerank_k`, every hit that satisfies a label
  of the query dropped, the first `answer_k` of the rest given to the generator. The right answer
  is then "The sources do not contain the answer." (`serving.prompt.NO_ANSWER`). Only chunks
  containing the whole `must_contain` are withheld: a neighbouring chunk may still hold part of
  the passage, or another page may say the same in other words, so this share is a lower bound
  on how well the model declines, not an exact one.

Token F1 (SQuAD style): both texts lower-cased, citation markers (``[1]``) removed, split into
word tokens (``\\w+``, Unicode), the articles a/an/the dropped; precision and recall of the
token bags (multiset overlap), F1 their harmonic mean. A "no answer" reply in the normal case
scores 0.

The reference passage of a label: the first chunk of the labelled document, in document order,
that satisfies the label (read from the store by its chunk ids; when the store yields none, the
first retrieved hit that does, normal sources first); of that chunk's text, the first paragraph
(blocks separated by blank lines) that contains `must_contain` after whitespace normalisation,
or the whole chunk text when none does (the string spans paragraphs). With several labels, the
F1 is the best over their passages. A query whose passage is found nowhere has no F1 (left out
of the means; `f1_n` counts the ones that have one).

Reports keep ids, booleans, counts, file names, chunk positions and timings only: never query,
answer or chunk text.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.db.models import Document, Job
from app.runtime import Runtime
from app.services.answers import AnswerDefaults, Retrieved, collect
from evals.dataset import Label, Query, judge, matched_labels, normalise
from evals.grounding import invented_specifics
from evals.metrics import latency_summary, p50_p95
from evals.runner import scope_of
from ingestion.pipeline import chunk_id
from retrieval.types import Chunk, Scope
from serving.prompt import build_messages
from serving.protocols import Source

TEMPERATURE = 0.0  # repeatable answers (llama.cpp samples greedily at 0)
STAGES = ("embed", "index", "rerank", "generation")
SHARES = (
    "citation_correct",
    "cited_relevant_share",
    "uncited",
    "sources_relevant",
    "false_no_answer",
    "withheld_no_answer",
    "supported_share",
    "invented_share",
    "f1",
    "precision",
    "recall",
)

_CITATION = re.compile(r"\[\d+\]")
_WORD = re.compile(r"\w+")
_ARTICLES = frozenset({"a", "an", "the"})
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


# ---- sampling ------------------------------------------------------------------------------


def sample(queries: Sequence[Query], n: int, *, seed: int) -> tuple[Query, ...]:
    """`n` queries drawn with `seed`, the kinds balanced as far as they go (round robin over
    the kinds, each shuffled), returned in id order. The same inputs give the same sample."""
    if n <= 0:
        return ()
    rng = random.Random(seed)
    pools: dict[str, list[Query]] = {}
    for q in sorted(queries, key=lambda q: q.id):
        pools.setdefault(q.kind, []).append(q)
    for kind in sorted(pools):
        rng.shuffle(pools[kind])
    picked: list[Query] = []
    while len(picked) < n and any(pools.values()):
        for kind in sorted(pools):
            if pools[kind] and len(picked) < n:
                picked.append(pools[kind].pop(0))
    return tuple(sorted(picked, key=lambda q: q.id))


# ---- token F1 and the reference passage ----------------------------------------------------


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, citation markers and articles removed."""
    words = _WORD.findall(_CITATION.sub(" ", text).lower())
    return [w for w in words if w not in _ARTICLES]


def token_f1(answer: str, reference: str) -> dict[str, float]:
    """SQuAD-style token precision, recall and F1 of `answer` against `reference`."""
    got, want = Counter(tokens(answer)), Counter(tokens(reference))
    overlap = sum((got & want).values())
    if not overlap:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision = overlap / sum(got.values())
    recall = overlap / sum(want.values())
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
    }


def passage_of(text: str, must_contain: str) -> str:
    """The first paragraph of `text` (blank-line separated) containing `must_contain` after
    whitespace normalisation; the whole `text` when none does."""
    needle = normalise(must_contain)
    for block in _PARAGRAPH_BREAK.split(text):
        if needle in normalise(block):
            return block.strip()
    return text


def reference_passages(
    query: Query,
    filenames: Mapping[str, str],  # document id -> file name
    document_chunks: Callable[[Label], Sequence[Chunk]],
    hits: Iterable[Chunk] = (),
) -> list[str]:
    """One reference passage per label that can be found (see the module docstring)."""
    hits = list(hits)
    out = []
    for label in query.relevant:
        satisfying = (
            c
            for candidates in (document_chunks(label), hits)
            for c in candidates
            if judge(label, filenames.get(c.document, ""), c.text)
        )
        chunk = next(satisfying, None)
        if chunk is not None:
            out.append(passage_of(chunk.text, label.must_contain))
    return out


def best_f1(
    answer: str, passages: Sequence[str], *, no_answer: bool = False
) -> dict[str, float] | None:
    """The F1 (with its precision and recall) of the best-matching passage; None for none.
    A no-answer reply scores 0 (it may still share words with the passage)."""
    if not passages:
        return None
    if no_answer:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    return max((token_f1(answer, p) for p in passages), key=lambda m: m["f1"])


# ---- running -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerPlan:
    """What the sample runs with (recorded in the report)."""

    n: int
    k: int  # sources into the generator (the product's answer_k)
    withheld_k: int  # retrieved for the withheld case before the relevant hits are dropped
    max_tokens: int
    context_tokens: int
    temperature: float = TEMPERATURE
    mode: str = "both"  # the answer mode (serving.grounded): extractive, generator or both

    @classmethod
    def of(cls, runtime: Runtime, n: int, mode: str | None = None) -> AnswerPlan:
        defaults = AnswerDefaults.of(runtime.settings)
        return cls(
            n=n,
            k=defaults.k,
            withheld_k=defaults.k + runtime.settings.retrieval.rerank_k,
            max_tokens=defaults.max_tokens,
            context_tokens=defaults.context_tokens,
            mode=mode or defaults.mode,
        )


@dataclass(frozen=True)
class Generated:
    citations: list[Source]
    dropped_citations: int
    no_answer: bool
    text: str  # kept in memory for the F1; never written out
    generation_ms: float
    first_delta_ms: float | None
    mode: str
    supported_share: float | None  # the product's verifier; None when no claim was checked
    invented: int  # specifics shown that no source given holds (evals.grounding)


def generate(runtime: Runtime, plan: AnswerPlan, question: str, retrieved: Retrieved) -> Generated:
    """One answer from `retrieved` through the product's answer path in `plan.mode`, timed: the
    whole generation and the first text shown."""
    started = time.perf_counter()
    first: list[float] = []

    def on_text(text: str) -> None:
        if not first and text:
            first.append(_ms_since(started))

    events = runtime.answers.stream_from(
        retrieved,
        question=question,
        max_tokens=plan.max_tokens,
        temperature=plan.temperature,
        mode=plan.mode,  # type: ignore[arg-type]
    )
    answer = collect(events, on_text=on_text)
    verification = answer.done.verification
    shown = "" if answer.done.no_answer else answer.text
    return Generated(
        citations=answer.done.citations,
        dropped_citations=answer.done.dropped_citations,
        no_answer=answer.done.no_answer,
        text=answer.text,
        generation_ms=_ms_since(started),
        first_delta_ms=first[0] if first else None,
        mode=answer.done.mode,
        supported_share=verification.supported_share if verification.claims else None,
        invented=len(invented_specifics(shown, [s.text for s in retrieved.sources])),
    )


def run_answers(
    runtime: Runtime,
    queries: Sequence[Query],
    *,
    collection_id: str,
    filenames: Mapping[str, str],
    plan: AnswerPlan,
    advance: Callable[[], None] = lambda: None,
) -> list[dict[str, Any]]:
    """Per query, the normal and the withheld answer; `advance` is called after each of the two.
    Returns per-query records of ids, booleans, counts, positions and timings only."""
    scope = scope_of(runtime, collection_id)
    _warm_up(runtime, scope, plan)
    chunks_of = chunks_by_file(runtime, scope, collection_id)
    rows = []
    for query in queries:
        normal, hits, text = _normal(runtime, plan, scope, query, filenames)
        advance()
        withheld, withheld_hits = _withheld(runtime, plan, scope, query, filenames)
        advance()
        passages = reference_passages(
            query, filenames, lambda label: chunks_of(label.file), hits=[*hits, *withheld_hits]
        )
        scores = best_f1(text, passages, no_answer=normal["no_answer"])
        normal |= {"reference_found": scores is not None, **(scores or {})}
        rows.append({"id": query.id, "kind": query.kind, "normal": normal, "withheld": withheld})
    return rows


def _normal(
    runtime: Runtime, plan: AnswerPlan, scope: Scope, query: Query, filenames: Mapping[str, str]
) -> tuple[dict[str, Any], list[Chunk], str]:
    """The record of the normal answer, the chunks it was given, and its text (for the F1)."""
    found = runtime.answers.retrieve(scope=scope, question=query.text, k=plan.k)
    sources = found.sources
    out = generate(runtime, plan, query.text, found)
    relevant = [bool(_labels(query, filenames, s.document, s.text)) for s in sources]
    cited = [relevant[s.number - 1] for s in out.citations]  # citations are of `sources`
    row = {
        "sources": len(sources),
        "relevant_sources": [i for i, r in enumerate(relevant, start=1) if r],
        "cited": [s.number for s in out.citations],
        "cited_relevant": sum(cited),
        "citation_correct": any(cited),
        "cited_relevant_share": sum(cited) / len(cited) if cited else None,
        "dropped_citations": out.dropped_citations,
        "no_answer": out.no_answer,
        "supported_share": out.supported_share,
        "invented_specifics": out.invented,
        "answer_tokens": len(tokens(out.text)),
        "timings_ms": dict(found.timings_ms) | {"generation": out.generation_ms},
        "first_delta_ms": out.first_delta_ms,
        "top": [[filenames.get(h.chunk.document, "?"), h.chunk.position] for h in found.hits],
    }
    return row, [h.chunk for h in found.hits], out.text


def _withheld(
    runtime: Runtime, plan: AnswerPlan, scope: Scope, query: Query, filenames: Mapping[str, str]
) -> tuple[dict[str, Any], list[Chunk]]:
    """The record of the withheld answer, and every chunk the wider search found."""
    found = runtime.answers.retrieve(scope=scope, question=query.text, k=plan.withheld_k)
    kept = [h for h in found.hits if not _labels(query, filenames, h.chunk.document, h.chunk.text)]
    given = Retrieved.of(kept[: plan.k], reranker=found.reranker, timings_ms=found.timings_ms)
    sources = given.sources
    out = generate(runtime, plan, query.text, given)
    row = {
        "sources": len(sources),
        "withheld": len(found.hits) - len(kept),
        "no_answer": out.no_answer,
        "invented_specifics": out.invented,
        "cited": [s.number for s in out.citations],
        "generation_ms": out.generation_ms,
        "first_delta_ms": out.first_delta_ms,
        "top": [[filenames.get(h.chunk.document, "?"), h.chunk.position] for h in kept[: plan.k]],
    }
    return row, [h.chunk for h in found.hits]


def _labels(query: Query, filenames: Mapping[str, str], document: str, text: str) -> set[int]:
    return matched_labels(query, filenames.get(document, ""), text)


def _warm_up(runtime: Runtime, scope: Scope, plan: AnswerPlan) -> None:
    """Load the models and open the index before anything is timed."""
    runtime.retriever.search("warm up", scope=scope, k=plan.k)
    messages = build_messages("warm up", [], context_tokens=plan.context_tokens, max_tokens=1)
    for _ in runtime.generator.stream(messages, max_tokens=1, temperature=plan.temperature):
        pass


def chunks_by_file(
    runtime: Runtime, scope: Scope, collection_id: str
) -> Callable[[str], list[Chunk]]:
    """file name -> that document's chunks in the collection, in document order (live
    generation; point ids as `ingestion.pipeline.chunk_id` makes them). Cached per file."""
    cache: dict[str, list[Chunk]] = {}

    def chunks(filename: str) -> list[Chunk]:
        if filename not in cache:
            with runtime.sessions() as db:
                rows = db.execute(
                    select(Document.id, Document.chunks_total, Job.id)
                    .join(Job, Job.document_id == Document.id)
                    .where(
                        Document.collection_id == collection_id,
                        Document.filename == filename,
                        Job.index_state == "live",
                    )
                ).all()
            ids = [chunk_id(doc, job, p) for doc, total, job in rows for p in range(total)]
            cache[filename] = runtime.store.get(scope=scope, ids=ids) if ids else []
        return cache[filename]

    return chunks


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# ---- summary -------------------------------------------------------------------------------


def summarise_answers(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Shares and F1 by kind (exact / semantic / all); latency p50/p95 over the normal answers
    per stage (embed, index, rerank, generation, total), first delta, withheld generation."""
    kinds = sorted({r["kind"] for r in rows})
    metrics = {kind: _shares([r for r in rows if r["kind"] == kind]) for kind in kinds}
    metrics["all"] = _shares(rows)
    normal = [r["normal"] for r in rows]
    withheld = [r["withheld"] for r in rows]
    return {
        "metrics": metrics,
        "latency_ms": latency_summary(n["timings_ms"] for n in normal),
        "first_delta_ms": _present_p50_p95(n["first_delta_ms"] for n in normal),
        "withheld_generation_ms": _present_p50_p95(w["generation_ms"] for w in withheld),
        "withheld_first_delta_ms": _present_p50_p95(w["first_delta_ms"] for w in withheld),
    }


def _shares(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    normal = [r["normal"] for r in rows]
    cited = [n for n in normal if n["cited"]]
    scored = [n for n in normal if n["reference_found"]]
    return {
        "n": float(len(rows)),
        "citation_correct": _mean(float(n["citation_correct"]) for n in normal),
        "cited_relevant_share": _mean(n["cited_relevant_share"] for n in cited),
        "uncited": _mean(float(not n["cited"]) for n in normal),
        "sources_relevant": _mean(float(bool(n["relevant_sources"])) for n in normal),
        "no_sources": _mean(float(n["sources"] == 0) for n in normal),
        "false_no_answer": _mean(float(n["no_answer"]) for n in normal),
        "withheld_no_answer": _mean(float(r["withheld"]["no_answer"]) for r in rows),
        "supported_share": _mean(
            n["supported_share"] for n in normal if n["supported_share"] is not None
        ),
        "invented_share": _mean(float(_invented(r) > 0) for r in rows),
        "invented_specifics": float(
            sum(
                r["normal"]["invented_specifics"] + r["withheld"]["invented_specifics"]
                for r in rows
            )
        ),
        "f1": _mean(n["f1"] for n in scored),
        "precision": _mean(n["precision"] for n in scored),
        "recall": _mean(n["recall"] for n in scored),
        "f1_n": float(len(scored)),
    }


def _invented(row: Mapping[str, Any]) -> int:
    """Invented specifics shown in a query's two answers (normal and withheld)."""
    return int(row["normal"]["invented_specifics"] + row["withheld"]["invented_specifics"])


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def _present_p50_p95(values: Iterable[float | None]) -> dict[str, float]:
    """`p50_p95` of the values that exist (an answer without text has no first delta)."""
    return p50_p95([v for v in values if v is not None])
