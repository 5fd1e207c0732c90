"""Request and response models of the REST API (`/v1`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.services.doctypes import DocumentType
from ingestion.failures import explain

# Every list and string a caller sends has a maximum (issue 17); the OpenAPI schema shows them.
MAX_COLLECTIONS = 100  # collections named in one request
MAX_QUESTION = 4000  # characters of a query or question
MAX_TURNS = 100  # earlier turns of a conversation sent with a question
MAX_TURN = 16_000  # characters of one earlier turn
CollectionRef = Annotated[str, Field(min_length=1, max_length=100, description="An id or name.")]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class CollectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=100, examples=["handbook"])
    description: str = Field("", max_length=500)


class CollectionOut(BaseModel):
    id: str
    name: str
    description: str
    documents: int
    created_at: datetime


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    collection_id: str
    filename: str
    title: str
    content_type: str
    size_bytes: int
    content_hash: str
    uploaded_by: str = Field(description="The uploader's user or API key id.")
    status: str
    error: str | None = Field(description="The recorded reason, technical (see error_message).")
    pages: int | None
    chunks_total: int
    chunks_done: int
    created_at: datetime
    updated_at: datetime

    @computed_field(description="What went wrong, as a stable code (e.g. `damaged`).")  # type: ignore[prop-decorator]
    @property
    def error_code(self) -> str | None:
        return explain(self.error).code if self.error else None

    @computed_field(description="What went wrong and what to do, as a sentence for people.")  # type: ignore[prop-decorator]
    @property
    def error_message(self) -> str | None:
        return explain(self.error).message if self.error else None


class UploadOut(DocumentOut):
    duplicate: bool = False


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(..., min_length=1, max_length=MAX_QUESTION)
    collections: list[CollectionRef] | None = Field(
        None,
        max_length=MAX_COLLECTIONS,
        description="Ids or names to search; default: every collection you may read.",
    )
    types: list[DocumentType] | None = Field(
        None,
        min_length=1,
        description="Document types to search (by file name: pdf, word, ...); default: all.",
    )
    k: int = Field(10, ge=1, le=50)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    rerank: bool = True


class PlaceOut(BaseModel):
    offset: int = Field(
        description="From this character of the chunk's text on (Unicode code points)."
    )
    page: int | None
    section: str


class ChunkOut(BaseModel):
    chunk_id: str
    document_id: str
    collection_id: str
    title: str
    section: str = Field(description="The heading path where the chunk's own text starts.")
    page: int | None = Field(description="The first page of its text.")
    position: int
    start: int
    end: int
    text: str
    places: list[PlaceOut] = Field(
        [], description="Page and section along the text: one entry wherever either changes."
    )


class ChunkPage(BaseModel):
    chunks: list[ChunkOut]
    next_offset: int | None = Field(description="Where the next page starts; null at the end.")


class PassageOut(BaseModel):
    """The sentence(s) of a text that matched: ``text[start:end]`` of its chunk or source."""

    start: int
    end: int
    score: float


class SearchHit(ChunkOut):
    score: float
    passage: PassageOut | None = Field(
        description="The sentence(s) of the chunk that match the query (null: none shares a term)."
    )


class SearchResponse(BaseModel):
    hits: list[SearchHit]
    reranker: str
    timings_ms: dict[str, float]


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(..., max_length=MAX_TURN)


AnswerMode = Literal["extractive", "generator", "both"]


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(..., min_length=1, max_length=MAX_QUESTION)
    history: list[Turn] = Field(
        [],
        max_length=MAX_TURNS,
        description="The conversation's earlier turns, oldest first. The client holds the "
        "conversation: Enclave stores none of it.",
    )
    collections: list[CollectionRef] | None = Field(None, max_length=MAX_COLLECTIONS)
    k: int | None = Field(None, ge=1, le=10, description="Sources given to the generator.")
    mode: AnswerMode | None = Field(
        None,
        description="extractive: the sources' own sentences; generator: the model's answer, "
        "verified claim by claim; both: the extractive answer, then the verified model answer. "
        "Default: the server's setting.",
    )
    stream: bool = False


class SourceOut(BaseModel):
    number: int
    chunk_id: str
    document_id: str
    title: str
    section: str
    page: int | None
    text: str
    passage: PassageOut | None = Field(
        description="The sentence(s) of the source that match the question."
    )
    places: list[PlaceOut] = Field(
        [], description="Page and section along the text: one entry wherever either changes."
    )


class SupportOut(BaseModel):
    """The passage ``sources[source].text[start:end]`` that supports a claim (or, for an
    unsupported claim, the closest one found)."""

    source: int
    start: int
    end: int
    score: float


class ClaimOut(BaseModel):
    text: str
    supported: bool = Field(description="False: no source supports it; it is not in `answer`.")
    part: Literal["extractive", "generator"]
    citations: list[int] = Field(description="The sources shown with it (empty if unsupported).")
    added: bool = Field(description="The verifier attached the citation (the model gave none).")
    rejected: list[int] = Field(description="Sources the model cited that do not support it.")
    support: SupportOut | None
    missing: list[str] = Field(description="Numbers, codes and names the passage lacks.")


class Abstention(BaseModel):
    abstained: bool = Field(description="Retrieval found nothing that answers the question.")
    strength: float = Field(description="How much of the question the best passage covers.")
    threshold: float


class StandaloneOut(BaseModel):
    text: str | None = Field(
        description="The standalone question retrieval used, when it differs from the question "
        "(a follow-up rewritten from the conversation); null when unchanged."
    )
    method: Literal["unchanged", "rule", "generator"]


class AnswerResponse(BaseModel):
    answer: str = Field(
        description="Supported claims with their citations, or the no-answer "
        "sentence. Unsupported claims are never part of it: see `claims`."
    )
    citations: list[int] = Field(description="Numbers of the sources the answer cites, in order.")
    sources: list[SourceOut]
    claims: list[ClaimOut] = Field(description="Every checked claim, shown or flagged, in order.")
    supported_share: float | None = Field(
        description="Supported / checked claims of the answer (the generator's in modes "
        "generator and both); null when no claim was checked."
    )
    mode: AnswerMode
    no_answer: bool = Field(description="The sources do not contain the answer.")
    abstention: Abstention
    question: StandaloneOut
    dropped_citations: int = Field(description="Citations to sources the model was not given.")
    model: str
    reranker: str
    timings_ms: dict[str, float]


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_id: str = Field(..., min_length=1, max_length=36)
    reason: str = Field(
        ..., min_length=1, max_length=500, description="Your reference: a case or ticket id."
    )


class ErasureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    document_id: str
    collection_id: str
    content_hash: str
    reason: str
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None
    state: str


class SignedReceipt(BaseModel):
    """An erasure receipt and its Ed25519 signature (check it with `enclave verify-receipt`)."""

    receipt: dict
    signature: str


class DocumentRecord(BaseModel):
    """A document as a compliance officer sees it: metadata only, never content."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    collection_id: str
    title: str
    filename: str
    uploaded_by: str = Field(description="The uploader's user or API key id.")
    uploaded_by_label: str = Field("", description="The uploader's name and e-mail, or key name.")
    status: str
    created_at: datetime


class IdentifierSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifier: str = Field(..., min_length=2, max_length=200)


class IdentifierMatch(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    document_id: str
    collection_id: str
    title: str
    passages: int = Field(description="How many of the document's passages contain it.")
