"""Settings section owned by the ingestion package."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IngestionSettings(BaseModel):
    min_tokens: int = Field(512, ge=16)
    max_tokens: int = Field(1024, ge=32)
    overlap: float = Field(0.12, ge=0.0, le=0.5)  # share of a chunk repeated from the one before
    # Cut long sections where adjacent sentences' embeddings diverge. Off by default: with
    # MiniLM on 2 CPU cores it costs ~2.5x the chunks' own embedding (measured on 6 pydocs pages).
    topic_split: bool = False
    embed_batch_size: int = Field(32, ge=1)
    max_pages: int = Field(2000, ge=1)
