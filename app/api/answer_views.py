"""How an answer's parts appear in the API: one mapping for the REST and OpenAI-compatible faces."""

from __future__ import annotations

from typing import Any

from app.api.protocol import (
    Abstention,
    AnswerResponse,
    ClaimOut,
    PassageOut,
    PlaceOut,
    SourceOut,
    StandaloneOut,
    SupportOut,
)
from app.services import answers
from serving.extractive import Passage, best_passage
from serving.grounded import Verdict, VerifiedDone
from serving.protocols import Source


def passage_out(passage: Passage | None) -> PassageOut | None:
    if passage is None:
        return None
    return PassageOut(start=passage.start, end=passage.end, score=passage.score)


def source_out(source: Source, question: str, places: list[PlaceOut] | None = None) -> SourceOut:
    return SourceOut(
        number=source.number,
        chunk_id=source.chunk_id,
        document_id=source.document,
        title=source.title,
        section=source.section,
        page=source.page,
        text=source.text,
        passage=passage_out(best_passage(question, source)),
        places=places or [],
    )


def claim_out(verdict: Verdict) -> ClaimOut:
    checked, support = verdict.claim, verdict.claim.support
    return ClaimOut(
        text=checked.claim.text,
        supported=checked.supported,
        part=verdict.part,
        citations=list(checked.citations),
        added=checked.added,
        rejected=list(checked.rejected),
        support=None
        if support is None
        else SupportOut(
            source=support.source, start=support.start, end=support.end, score=support.score
        ),
        missing=list(checked.missing),
    )


def summary(retrieved: answers.Retrieved, done: VerifiedDone) -> dict[str, Any]:
    """What the end of an answer says, beside its text and claims."""
    claims = done.verification.claims
    abstention = done.abstention
    return {
        "citations": [s.number for s in done.citations],
        "supported_share": done.verification.supported_share if claims else None,
        "mode": done.mode,
        "no_answer": done.no_answer,
        "abstention": Abstention(
            abstained=bool(abstention and abstention.no_answer),
            strength=abstention.strength if abstention else 0.0,
            threshold=abstention.threshold if abstention else 0.0,
        ).model_dump(),
        "question": question_out(retrieved).model_dump(),
        "dropped_citations": done.dropped_citations,
        "model": done.model,
        "reranker": retrieved.reranker,
    }


def question_out(retrieved: answers.Retrieved) -> StandaloneOut:
    asked = retrieved.question
    return StandaloneOut(
        text=None if asked.method == "unchanged" else asked.text, method=asked.method
    )


def sources_out(retrieved: answers.Retrieved) -> list[SourceOut]:
    """The numbered sources, each with the page and section along its text (its chunk's)."""
    asked = retrieved.question.text
    return [
        source_out(s, asked, [PlaceOut(**vars(p)) for p in hit.chunk.places])
        for s, hit in zip(retrieved.sources, retrieved.hits, strict=True)
    ]


def answer_response(answer: answers.Answer) -> AnswerResponse:
    return AnswerResponse(
        answer=answer.text,
        sources=sources_out(answer.retrieved),
        claims=[claim_out(v) for v in answer.verdicts],
        timings_ms=answer.retrieved.timings_ms,
        **summary(answer.retrieved, answer.done),
    )
