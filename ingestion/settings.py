"""Settings section owned by the ingestion package."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IngestionSettings(BaseModel):
    min_tokens: int = Field(512, ge=16)
    max_tokens: int = Field(1024, ge=32)
    overlap: float = Field(0.12, ge=0.0, le=0.5)  # share of a chunk repeated from the one before
    embed_batch_size: int = Field(32, ge=1)
    max_pages: int = Field(2000, ge=1)
