"""The chunker with a whitespace token counter and a deterministic topic 'embedding'."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest

from ingestion.chunker import ChunkDraft, Chunker
from ingestion.parsers import Block, ParsedDocument
from ingestion.units import sentence_spans
from retrieval.types import Place

TOPICS = ("pump", "valve", "torque", "wiring", "paint", "filter", "gasket", "sensor", "brake")


def words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def topic_vectors(texts: Sequence[str]) -> np.ndarray:
    """One-hot of the first topic word in each text: same topic 1.0, a shift 0.0."""
    out = np.zeros((len(texts), len(TOPICS) + 1), dtype=np.float32)
    for row, text in enumerate(texts):
        lower = text.lower()
        col = next((i for i, t in enumerate(TOPICS) if t in lower), len(TOPICS))
        out[row, col] = 1.0
    return out


def sentence(topic: str, n: int, seed: int) -> str:
    """A sentence of exactly n words about `topic`."""
    return " ".join(
        [topic.capitalize()] + [f"{topic}{(seed + k) % 97}" for k in range(n - 2)] + ["end."]
    )


def paragraph(topic: str, n_words: int, seed: int = 0) -> str:
    parts, left = [], n_words
    for k in itertools.count():
        size = min(left, 8 + (seed + k) % 9)
        if left - size < 4:
            size = left
        parts.append(sentence(topic, size, seed + k))
        left -= size
        if not left:
            return " ".join(parts)
    raise AssertionError


def doc_of(*blocks: Block, file_type: str = "pdf") -> ParsedDocument:
    """A parsed document; section paths filled in from the headings as the parser does."""
    path: list[tuple[float, str]] = []
    out = []
    for b in blocks:
        if b.kind == "heading":
            rank = b.level if b.level is not None else 1e9
            while path and path[-1][0] >= rank:
                path.pop()
            path.append((rank, b.text))
        out.append(Block(b.text, b.kind, b.level, b.page, tuple(t for _, t in path)))
    return ParsedDocument(filename="t", file_type=file_type, blocks=tuple(out))  # type: ignore[arg-type]


def heading(text: str, level: int = 1, page: int | None = None) -> Block:
    return Block(text, "heading", level=level, page=page)


def para(text: str, page: int | None = None) -> Block:
    return Block(text, "paragraph", page=page)


def check(doc: ParsedDocument, chunks: list[ChunkDraft], *, max_tokens: int = 1024) -> None:
    """Invariants of every chunking: exact spans, order, sizes under the maximum."""
    assert chunks
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.start <= c.own_start < c.end
        assert c.tokens == len(c.text.split()) <= max_tokens
    owns = [(c.own_start, c.end) for c in chunks]
    assert owns[0][0] == 0
    assert owns[-1][1] == len(doc.text)
    for (_, end), (start, _) in itertools.pairwise(owns):
        assert doc.text[end:start].strip() == ""  # own parts tile the text


def overlap_share(chunk: ChunkDraft) -> float:
    return len(chunk.text[: chunk.own_start - chunk.start].split()) / chunk.tokens


# --- a 40-page section without headings --------------------------------------------------------


def long_section(sizes: Sequence[int]) -> tuple[ParsedDocument, set[int]]:
    """One topic per size (in words), as paragraphs of about 100 words, ~500 words a page."""
    blocks, topic_starts, written = [], [], 0
    for n, size in enumerate(sizes):
        topic, left = TOPICS[n % len(TOPICS)], size
        topic_starts.append(len(blocks))
        while left:
            take = left if left < 140 else 100
            blocks.append(para(paragraph(topic, take, seed=len(blocks)), page=1 + written // 500))
            written, left = written + take, left - take
    doc = doc_of(*blocks)
    return doc, {doc.spans[i][0] for i in topic_starts}


SIZES = [520, 610, 790, 700, 560, 680, 800, 530, 750, 640] * 3  # 20,000 words = 40 pages


def test_long_section_splits_at_topic_shifts_within_bounds() -> None:
    doc, shifts = long_section(SIZES)
    assert doc.blocks[-1].page == 40
    chunks = Chunker(words, similarity=topic_vectors).chunk(doc)
    check(doc, chunks)
    assert {c.own_start for c in chunks} == shifts
    assert all(512 <= c.tokens <= 1024 for c in chunks[:-1])
    for c in chunks[1:]:
        assert 0.10 <= overlap_share(c) <= 0.15
        assert doc.text[c.start] in "PVTWFGSB"  # overlap starts at a sentence start


def test_long_section_without_similarity_cuts_between_paragraphs() -> None:
    doc, _ = long_section(SIZES)
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    block_starts = {start for start, _ in doc.spans}
    assert all(c.own_start in block_starts for c in chunks)
    assert all(512 <= c.tokens <= 1024 for c in chunks[:-1])
    assert all(0.10 <= overlap_share(c) <= 0.15 for c in chunks[1:])


def test_chunk_page_is_the_first_page_of_its_text() -> None:
    doc, _ = long_section(SIZES)
    for c in Chunker(words).chunk(doc):
        first = next(i for i, (s, e) in enumerate(doc.spans) if e > c.start)
        assert c.page == doc.blocks[first].page


def test_places_give_the_page_of_every_part_of_a_chunk() -> None:
    doc, _ = long_section(SIZES)
    for c in Chunker(words).chunk(doc):
        assert c.places[0] == Place(0, c.page, c.section)
        for k, (start, end) in enumerate(doc.spans):
            if start < c.end and end > c.start:
                at = max(start, c.start) - c.start
                assert [p for p in c.places if p.offset <= at][-1].page == doc.blocks[k].page


def test_a_short_document_is_one_chunk_that_knows_its_pages_and_sections() -> None:
    """The 2-page manual of the web UI's citation panel: one chunk, two pages, two sections."""
    doc = doc_of(
        heading("Safety rules", 1, page=1), para(paragraph("pump", 40), page=1),
        heading("Maintenance", 1, page=2), para(paragraph("torque", 40), page=2),
    )  # fmt: skip
    (chunk,) = Chunker(words).chunk(doc)
    maintenance = chunk.text.index("Maintenance")
    assert chunk.places == (Place(0, 1, "Safety rules"), Place(maintenance, 2, "Maintenance"))


def test_one_long_paragraph_falls_back_to_sentence_boundaries() -> None:
    doc = doc_of(para(paragraph("pump", 3000)))
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    starts = {doc.spans[0][0] + a for a, _ in sentence_spans(doc.text)}
    assert all(c.own_start in starts and c.start in starts for c in chunks)
    assert all(c.tokens >= 512 for c in chunks[:-1])


def test_a_sentence_longer_than_a_chunk_is_cut_at_whitespace() -> None:
    doc = doc_of(para(" ".join(f"w{k}" for k in range(2500)) + "."))
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    assert len(chunks) >= 3


# --- structure ----------------------------------------------------------------------------------


def test_heading_is_kept_with_its_body() -> None:
    blocks = []
    for part in range(2):
        blocks.append(heading(f"Part {part}", 1))
        for n in range(10):
            blocks += [heading(f"Chapter {part}.{n}", 2), heading(f"Procedure {n}", 3)]
            blocks += [para(paragraph("valve", 120 + 37 * n, seed=n)), para(paragraph("pump", 90))]
    doc = doc_of(*blocks, file_type="html")
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    assert len(chunks) > 6
    for h, block in enumerate(doc.blocks[:-1]):
        if block.kind != "heading":
            continue
        start, body = doc.spans[h][0], doc.spans[h + 1][0]
        holder = next(c for c in chunks if c.own_start <= start < c.end)
        assert holder.end > body, f"heading {block.text!r} separated from its body"
    at_headings = [c for c in chunks if doc.text[c.own_start :].startswith(("Part", "Chapter"))]
    assert len(at_headings) >= 6
    assert all(c.start == c.own_start for c in at_headings)  # no overlap into a new section


def test_definition_list_entries_stay_whole() -> None:
    """An API page: one heading, then 30 terms (signatures), each with 2-3 paragraphs. Chunks
    start at a term, and no term is cut from its description."""
    blocks = [heading("pump — the pump module", 1)]
    for n in range(30):
        blocks.append(Block(f"pump.call_{n}(speed, *, timeout=None)", "term"))
        blocks += [para(paragraph(TOPICS[n % 9], 40 + 13 * (n % 4), seed=n + k)) for k in range(2)]
        if n % 3 == 0:
            blocks.append(para(paragraph("gasket", 25, seed=n)))
    doc = doc_of(*blocks, file_type="html")
    chunks = Chunker(words, overlap=0.0).chunk(doc)
    check(doc, chunks)
    assert len(chunks) > 3
    terms = [doc.spans[k] for k, b in enumerate(doc.blocks) if b.kind == "term"]
    for c in chunks[1:]:
        assert (c.own_start, c.own_start + len("pump.call_")) in {
            (a, a + len("pump.call_")) for a, _ in terms
        }, "a chunk starts inside an entry"
    for a, _ in terms:
        holder = next(c for c in chunks if c.own_start <= a < c.end)
        assert holder.end > a + 60, "a term separated from its description"


def test_torque_table_across_a_page_break_keeps_rows_whole() -> None:
    rows_p3 = [
        f"M{6 + k} | {10 + 5 * k} Nm | grade 8.8 | dry thread, torque in two stages"
        for k in range(40)
    ]
    rows_p4 = [
        f"M{46 + k} | {210 + 5 * k} Nm | grade 10.9 | oiled thread, torque in two stages"
        for k in range(40)
    ]
    doc = doc_of(
        heading("Torque specifications", 1, page=3),
        para(paragraph("torque", 300), page=3),
        Block("\n".join(rows_p3), "table", page=3),
        Block("\n".join(rows_p4), "table", page=4),
        para(paragraph("torque", 400, seed=5), page=4),
    )
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    row_spans = []
    for block, (start, _) in zip(doc.blocks, doc.spans, strict=True):
        if block.kind == "table":
            for line in block.text.split("\n"):
                at = doc.text.index(line, start)
                row_spans.append((at, at + len(line)))
    for c in chunks:
        for cut in (c.start, c.own_start, c.end):
            assert not any(a < cut < b for a, b in row_spans), "a table row was cut"
    table_chunks = [c for c in chunks if "| Nm" in c.text or " Nm |" in c.text]
    assert table_chunks[0].page == 3


def test_a_table_that_fits_stays_in_one_chunk_across_the_page_break() -> None:
    rows = [f"M{k} | {k * 5} Nm | grade 8.8" for k in range(6, 30)]
    doc = doc_of(
        heading("Torque", 1, page=3),
        para(paragraph("torque", 380), page=3),
        Block("\n".join(rows[:12]), "table", page=3),
        Block("\n".join(rows[12:]), "table", page=4),
        para(paragraph("torque", 420, seed=3), page=4),
        para(paragraph("torque", 300, seed=9), page=4),
    )
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    holding = [c for c in chunks if rows[0] in c.text and rows[-1] in c.text]
    assert holding
    assert holding[0].page == 3


def test_numbered_procedure_and_its_exception_stay_together() -> None:
    steps = [f"{k}. " + sentence("pump", 30, k) for k in range(1, 9)]
    procedure = [para("To replace the pump seal:")] + [Block(s, "list_item") for s in steps]
    procedure.append(para("Exception: " + paragraph("pump", 40, seed=77)))
    doc = doc_of(
        heading("Pump maintenance", 1),
        *[para(paragraph("pump", 150, seed=k)) for k in range(3)],
        *procedure,
        *[para(paragraph("pump", 150, seed=10 + k)) for k in range(3)],
    )
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    assert len(chunks) == 2
    together = [c for c in chunks if "To replace the pump seal:" in c.text[c.own_start - c.start :]]
    assert len(together) == 1
    assert all(s in together[0].text for s in steps)
    assert "Exception:" in together[0].text


def test_short_top_level_section_is_its_own_chunk_unless_tiny() -> None:
    def doc_with_middle(n_words: int) -> ParsedDocument:
        return doc_of(
            heading("A"), para(paragraph("pump", 600)),
            heading("B"), para(paragraph("valve", n_words)),
            heading("C"), para(paragraph("paint", 600)),
            heading("D"), para(paragraph("brake", 600)),
        )  # fmt: skip

    short = doc_with_middle(300)
    chunks = Chunker(words).chunk(short)
    check(short, chunks)
    assert [c.text.split("\n\n")[0] for c in chunks] == ["A", "B", "C", "D"]
    assert chunks[1].tokens == 301

    tiny = doc_with_middle(60)
    chunks = Chunker(words).chunk(tiny)
    check(tiny, chunks)
    assert [c.text.split("\n\n")[0] for c in chunks] == ["A", "B", "D"]
    assert "\n\nC\n\n" in chunks[1].text  # the tiny section merged with the next one


def test_short_subsections_merge_within_their_section() -> None:
    doc = doc_of(
        heading("Guide", 1), para(paragraph("filter", 100)),
        heading("Filters", 2), para(paragraph("filter", 200)),
        heading("Gaskets", 2), para(paragraph("gasket", 200)),
        heading("Sensors", 2), para(paragraph("sensor", 200)),
        heading("Appendix", 1), para(paragraph("paint", 600)),
    )  # fmt: skip
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    assert len(chunks) == 2
    assert chunks[0].section == "Guide"
    assert chunks[1].section == "Appendix"
    assert chunks[0].start == chunks[0].own_start
    assert chunks[1].start == chunks[1].own_start


def test_tiny_fragments_are_merged_and_last_chunk_may_be_short() -> None:
    doc = doc_of(*[para(paragraph("wiring", 30, seed=k)) for k in range(40)])  # 1,200 words
    chunks = Chunker(words).chunk(doc)
    check(doc, chunks)
    assert len(chunks) == 2
    assert chunks[0].tokens >= 512
    assert chunks[-1].tokens >= 512 // 4  # the last chunk may be short, never tiny


def test_section_paths_and_guessed_headings() -> None:
    doc = doc_of(
        heading("Manual", 1), para(paragraph("pump", 600)),
        heading("Pumps", 2), para(paragraph("pump", 700)),
        Block("Seals", "heading", level=None), para(paragraph("gasket", 700)),
    )  # fmt: skip
    sections = [c.section for c in Chunker(words).chunk(doc)]
    assert sections[0] == "Manual"
    assert "Manual > Pumps" in sections
    assert "Manual > Pumps > Seals" in sections


def test_tokenizer_overhead_counts_against_the_maximum() -> None:
    def with_specials(texts: Sequence[str]) -> list[int]:
        return [n + 2 for n in words(texts)]  # [CLS] ... [SEP]

    doc = doc_of(para(paragraph("brake", 5000)))
    chunks = Chunker(with_specials, min_tokens=100, max_tokens=200).chunk(doc)
    assert all(c.tokens <= 200 for c in chunks)
    assert all(c.tokens >= 100 for c in chunks[:-1])


def test_overlap_is_configurable_and_can_be_off() -> None:
    doc = doc_of(para(paragraph("sensor", 4000)))
    assert all(c.start == c.own_start for c in Chunker(words, overlap=0).chunk(doc))
    chunks = Chunker(words, overlap=0.2).chunk(doc)
    assert all(0.2 * 5 / 6 - 0.01 <= overlap_share(c) <= 0.25 for c in chunks[1:])


def test_empty_document_and_bad_settings() -> None:
    assert Chunker(words).chunk(doc_of()) == []
    with pytest.raises(ValueError, match="min_tokens"):
        Chunker(words, min_tokens=600, max_tokens=500)
    with pytest.raises(ValueError, match="overlap"):
        Chunker(words, overlap=0.9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two three. Four?", ["One.", "Two three.", "Four?"]),
        ("See e.g. Fig. 3 for details. Then stop.", ["See e.g. Fig. 3 for details.", "Then stop."]),
        ('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
        ("Version 3.11 is out. 2 bugs remain.", ["Version 3.11 is out.", "2 bugs remain."]),
        ("lower case. continues here", ["lower case. continues here"]),
    ],
)
def test_sentence_spans(text: str, expected: list[str]) -> None:
    assert [text[a:b] for a, b in sentence_spans(text)] == expected
