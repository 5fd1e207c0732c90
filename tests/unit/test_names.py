"""What a stretch of a document defines: headings, defined terms, table keys (ingestion.names)."""

from __future__ import annotations

from pathlib import Path

from ingestion.names import MAX_NAMES, chunk_names, is_term
from ingestion.parsers import Block, ParsedDocument, parse
from ingestion.settings import IngestionSettings
from retrieval.types import Chunk

GLOSSARY = """<html><body><main>
<h1>pump — the XJ-220 pump module</h1>
<p>The module controls the pump.</p>
<dl><dt>pump.start(speed)</dt><dd><p>Start the pump at <em>speed</em>.</p></dd></dl>
<dl><dt>pump.E31</dt><dt>pump.E32</dt><dd><p>Pressure errors.</p></dd></dl>
<dl><dt>pump.calibrate(sensor, *, offset=0.0, gain=1.0, samples=128, settle_seconds=2.5,
 reference=None, temperature_compensation=True)</dt>
<dd><p>Calibrate the <em>sensor</em>.</p><p>Run it after every service.</p></dd></dl>
<dl><dt id="pump.Pump">class pump.Pump(model)</dt><dd><p>One pump.</p>
<dl><dt id="pump.Pump.prime">prime(litres)</dt><dd><p>Prime it.</p></dd></dl></dd></dl>
<p>Use pump.start() before pump.stop().</p>
<h2>Error codes</h2>
<table><tr><th>code</th><th>meaning</th></tr>
<tr><td>E31</td><td>low pressure</td></tr><tr><td>E32</td><td>high pressure</td></tr></table>
</main></body></html>"""


def doc(*blocks: Block) -> ParsedDocument:
    return ParsedDocument("f.txt", "text", tuple(blocks))


def test_headings_terms_and_table_keys_are_names() -> None:
    d = doc(
        Block("Pumps", "heading", 1),
        Block("A pump moves water.", "paragraph"),
        Block("XJ-220", "paragraph"),
        Block("The small pump.", "list_item"),
        Block("code | meaning\nE31 | low pressure\nE32 | high", "table"),
    )
    assert chunk_names(d, 0, len(d.text)) == ("Pumps", "XJ-220", "E31", "E32")


def test_mentions_sentences_and_lead_ins_are_not_names() -> None:
    d = doc(
        Block("The pump XJ-220 is small.", "paragraph"),
        Block("It comes in sizes:", "paragraph"),  # a lead-in, not a term
        Block("small", "list_item"),
        Block("XJ-220 and XJ-330 share parts.", "paragraph"),
    )
    assert chunk_names(d, 0, len(d.text)) == ()


def test_only_the_blocks_inside_the_span_count() -> None:
    d = doc(Block("One", "heading", 1), Block("Body.", "paragraph"), Block("Two", "heading", 1))
    start, end = d.spans[1][0], d.spans[2][1]
    assert chunk_names(d, start, end) == ("Two",)
    assert chunk_names(d, 0, d.spans[0][1]) == ("One",)


def test_names_are_bounded_and_unique() -> None:
    blocks = [b for i in range(100) for b in (Block(f"t{i}", "paragraph"), Block("d", "list_item"))]
    blocks.append(Block("t0", "heading", 1))
    assert len(chunk_names(doc(*blocks), 0, 10**6)) == MAX_NAMES
    assert is_term("os.path.join(a, *p)")
    assert not is_term("x" * 121)
    assert not is_term("a\nb")


def test_about_joins_title_section_path_and_names() -> None:
    c = Chunk("i", "c", "d", 0, "text", title="Manual", section="Pumps > XJ-220", names=("E31",))
    assert c.about == "Manual\nPumps\nXJ-220\nE31"
    assert Chunk("i", "c", "d", 0, "text").about == ""


def test_an_html_definition_list_gives_its_terms(tmp_path: Path) -> None:
    path = tmp_path / "pump.html"
    path.write_text(GLOSSARY)
    parsed = parse(path, filename="pump.html", settings=IngestionSettings(isolate_parsing=False))
    terms = [b.text for b in parsed.blocks if b.kind == "term"]
    assert terms[-3].startswith("pump.calibrate(")  # a multi-paragraph <dd>: still a term
    names = chunk_names(parsed, 0, len(parsed.text))
    assert names == (
        "pump — the XJ-220 pump module",
        "pump.start(speed)",
        "pump.E31",
        "pump.E32",
        "pump.calibrate(sensor, *, offset=0.0, gain=1.0, samples=128, settle_seconds=2.5,"
        " reference=None,",  # a long term is cut at a word, to at most 120 characters
        "class pump.Pump(model)",
        "pump.Pump.prime(litres)",  # a member, qualified by its anchor
        "Error codes",
        "E31",
        "E32",
    )
