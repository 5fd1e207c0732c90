"""Settings section owned by the ingestion package (``ENCLAVE_INGESTION__<NAME>`` in the env).

Chunking: `min_tokens`, `max_tokens`, `overlap`, `topic_split`; embedding: `embed_batch_size`.

Parsing limits; a document over any of them fails with a clear reason before (or instead of)
being indexed, never half-parsed:

- `max_file_mb` (100): file size, checked first; the API's upload limit applies before it.
- `max_pages` (2000): PDF pages, counted with pypdf before parsing (0.1 s for 10,000 pages).
- `max_chars` (5,000,000): extracted characters (a ~1,500-page book); text files are checked
  before parsing, other formats after.
- `max_uncompressed_mb` (256) and `max_compression_ratio` (100): the ZIP members of DOCX, PPTX
  and XLSX files, from the ZIP directory, before anything is decompressed; the ratio applies
  to members over 1 MB uncompressed (ordinary Office XML compresses 5-30x, zip bombs ~1000x).
- `max_cells` (2,000,000): table cells of an XLSX/CSV file or of a DOCX's tables (unstructured's
  own cell guards, set from this value).
- `ocr` (False), `ocr_languages` ("eng"), `ocr_max_pages` (100): a PDF without a text layer is
  OCRed with Debian's tesseract (needs ``apt-get install tesseract-ocr poppler-utils``; other
  languages need their ``tesseract-ocr-<lang>`` packages) only when `ocr` is on, and only up to
  `ocr_max_pages` pages (~1-3 s a page on 2 cores); otherwise it fails "no text layer".
- `isolate_parsing` (True), `parse_timeout_s` (600), `parse_memory_mb` (2048): parsing runs in
  a child process with no network, limited to `parse_timeout_s` of wall time and to
  `parse_memory_mb` of address space on top of the loaded parser libraries; a child that
  overruns is killed and replaced, and the document fails. Off only for debugging.
"""

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
    # A replaced version's points are deleted this long after the swap: longer than any search.
    retire_grace_s: float = Field(10.0, ge=0)
    # parsing limits (see the module docstring)
    max_file_mb: float = Field(100, gt=0)
    max_pages: int = Field(2000, ge=1)
    max_chars: int = Field(5_000_000, ge=1)
    max_uncompressed_mb: float = Field(256, gt=0)
    max_compression_ratio: float = Field(100.0, ge=1.0)
    max_cells: int = Field(2_000_000, ge=1)
    ocr: bool = False
    ocr_languages: str = Field("eng", pattern=r"^[a-z_]{3,}(\+[a-z_]{3,})*$")
    ocr_max_pages: int = Field(100, ge=1)
    isolate_parsing: bool = True
    parse_timeout_s: float = Field(600.0, gt=0)
    parse_memory_mb: int = Field(2048, ge=64)
