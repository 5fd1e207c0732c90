"""Documents of every supported format, made offline from the same content (benchmarks, tests).

`sample_pages(n)` generates `n` manual-like pages (a title, paragraphs, a small table) from a
fixed vocabulary; each builder renders pages as one file of its format, so every format carries
the same words. One page is one PDF page, one PPTX slide, one XLSX sheet, and one section
(heading + body) elsewhere. The Office and PDF builders need the dev extras (python-docx,
python-pptx, openpyxl, reportlab); they are imported when called.
"""

from __future__ import annotations

import csv as csv_module
import html as html_module
import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

Row = tuple[str, ...]


@dataclass(frozen=True)
class Page:
    title: str
    paragraphs: tuple[str, ...]
    table: tuple[Row, ...] = ()  # the first row is the header


_NOUNS = (
    "pump", "valve", "seal", "bolt", "filter", "sensor", "battery", "housing", "gasket", "motor",
    "bearing", "cable", "panel", "alarm", "display", "circuit", "hose", "clamp", "fuse", "relay",
)  # fmt: skip
_VERBS = (
    "check", "replace", "tighten", "inspect", "clean", "calibrate", "remove", "lubricate",
    "test", "record", "isolate", "secure",
)  # fmt: skip
_ADJECTIVES = (
    "worn", "loose", "damaged", "new", "spare", "primary", "secondary", "upper", "lower", "main",
)  # fmt: skip
_CLAUSES = (
    "before the next service interval",
    "after every {n} operating hours",
    "when the alarm shows code E{n}",
    "unless the supervisor approves an exception",
    "with the torque set to {n} Nm",
    "and log the result in the maintenance record",
)


def sample_pages(n: int, *, seed: int = 0, paragraphs: int = 3, sentences: int = 5) -> list[Page]:
    """`n` pages of varied, deterministic text (~350 words and a 5-row table each)."""
    rng = random.Random(seed)

    def sentence() -> str:
        clause = rng.choice(_CLAUSES).format(n=rng.randint(2, 99))
        words = (rng.choice(_VERBS), "the", rng.choice(_ADJECTIVES), rng.choice(_NOUNS))
        extra = ("of the", rng.choice(_NOUNS), "on model", f"XJ-{rng.randint(100, 999)}")
        said = " ".join((*words, *extra, clause))
        return said[0].upper() + said[1:] + "."

    pages = []
    for number in range(1, n + 1):
        title = f"How to {rng.choice(_VERBS)} the {rng.choice(_NOUNS)} (part {number})"
        body = tuple(" ".join(sentence() for _ in range(sentences)) for _ in range(paragraphs))
        table = (("Part", "Number", "Torque"),) + tuple(
            (rng.choice(_NOUNS), f"P-{rng.randint(1000, 9999)}", f"{rng.randint(2, 80)} Nm")
            for _ in range(4)
        )
        pages.append(Page(title, body, table))
    return pages


def saved(document: object) -> bytes:
    """The bytes of a python-docx / python-pptx / openpyxl document."""
    out = io.BytesIO()
    document.save(out)  # type: ignore[attr-defined]
    return out.getvalue()


def pdf(
    pages: Sequence[Page],
    *,
    header: str | None = None,
    footer: str | None = None,
    text: bool = True,
) -> bytes:
    """One PDF page per page (reportlab): `header` on top, `footer` at the bottom (`{n}` and
    `{total}` filled in), then the title, paragraphs one line after another and the table.
    `text=False`: a filled square instead of the text (a page without a text layer)."""
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    for n, content in enumerate(pages, start=1):
        page.setFont("Helvetica", 9)
        if header:
            page.drawString(72, 800, header)
        if footer:
            page.drawString(280, 30, footer.format(n=n, total=len(pages)))
        if text:
            page.setFont("Helvetica-Bold", 16)
            page.drawString(72, 740, content.title)
            page.setFont("Helvetica", 11)
            y = 710
            for paragraph in content.paragraphs:
                for line in simpleSplit(paragraph, "Helvetica", 11, 450):
                    page.drawString(72, y, line)
                    y -= 16
            for row in content.table:
                y -= 4
                for column, cell in enumerate(row):
                    page.drawString(72 + 150 * column, y, cell)
                y -= 16
        else:
            page.rect(100, 100, 300, 300, fill=1)
        page.showPage()
    page.save()
    return out.getvalue()


def docx(pages: Sequence[Page]) -> bytes:
    """A Word document: a level-1 heading per page, its paragraphs, its table, a page break."""
    import docx as python_docx

    document = python_docx.Document()
    for n, content in enumerate(pages):
        if n:
            document.add_page_break()
        document.add_heading(content.title, 1)
        for paragraph in content.paragraphs:
            document.add_paragraph(paragraph)
        if content.table:
            table = document.add_table(rows=len(content.table), cols=len(content.table[0]))
            for r, row in enumerate(content.table):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
    return saved(document)


def pptx(pages: Sequence[Page]) -> bytes:
    """A deck: one slide per page (title placeholder, body paragraphs, a table)."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for content in pages:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = content.title
        slide.placeholders[1].text = "\n".join(content.paragraphs)
        if content.table:
            rows, cols = len(content.table), len(content.table[0])
            shape = slide.shapes.add_table(rows, cols, Inches(1), Inches(5), Inches(6), Inches(1))
            for r, row in enumerate(content.table):
                for c, cell in enumerate(row):
                    shape.table.cell(r, c).text = cell
    return saved(deck)


def xlsx(pages: Sequence[Page]) -> bytes:
    """A workbook: one sheet per page (title and paragraphs one cell a row, a blank row, the
    table)."""
    import openpyxl

    book = openpyxl.Workbook()
    for n, content in enumerate(pages):
        sheet = book.active if n == 0 else book.create_sheet()
        sheet.title = f"Page {n + 1}"
        sheet.append([content.title])
        for paragraph in content.paragraphs:
            sheet.append([paragraph])
        sheet.append([])
        for row in content.table:
            sheet.append(list(row))
    return saved(book)


def csv(pages: Sequence[Page]) -> bytes:
    """One table: a (section, text) row per paragraph and per table row."""
    out = io.StringIO()
    writer = csv_module.writer(out)
    writer.writerow(["Section", "Text"])
    for content in pages:
        for paragraph in content.paragraphs:
            writer.writerow([content.title, paragraph])
        for row in content.table:
            writer.writerow([content.title, " ".join(row)])
    return out.getvalue().encode()


def html(pages: Sequence[Page]) -> bytes:
    """A web page: navigation outside `<main>`, a section per page inside it."""
    esc = html_module.escape
    parts = ["<!doctype html><html><head><title>Manual</title></head><body>"]
    parts.append('<nav><a href="/">Manuals</a></nav><main><h1>Service manual</h1>')
    for content in pages:
        parts.append(f"<section><h2>{esc(content.title)}</h2>")
        parts += [f"<p>{esc(p)}</p>" for p in content.paragraphs]
        if content.table:
            head, *body = content.table
            parts.append("<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in head) + "</tr>")
            for row in body:
                parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
            parts.append("</table>")
        parts.append("</section>")
    parts.append("</main><footer>Company confidential</footer></body></html>")
    return "\n".join(parts).encode()


def markdown(pages: Sequence[Page]) -> bytes:
    out = ["# Service manual", ""]
    for content in pages:
        out += [f"## {content.title}", ""]
        for paragraph in content.paragraphs:
            out += [paragraph, ""]
        if content.table:
            head, *body = content.table
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out += ["| " + " | ".join(row) + " |" for row in body]
            out.append("")
    return "\n".join(out).encode()


def text(pages: Sequence[Page]) -> bytes:
    """Plain text: the title in capitals, the paragraphs, the table as space-aligned lines."""
    out = []
    for content in pages:
        out += [content.title.upper(), ""]
        for paragraph in content.paragraphs:
            out += [paragraph, ""]
        out += ["  ".join(f"{cell:<12}" for cell in row).rstrip() for row in content.table]
        out.append("")
    return "\n".join(out).encode()


def email_message(
    *,
    subject: str,
    plain: str,
    html_body: str | None = None,
    sender: str = "Alice Smith <alice@example.org>",
    to: str = "bob@example.org",
    date: str = "Mon, 1 Jan 2024 10:00:00 +0100",
    attachments: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """An RFC 5322 message: a plain body (and an HTML alternative), text attachments."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = date
    message.set_content(plain)
    if html_body is not None:
        message.add_alternative(html_body, subtype="html")
    for filename, data in attachments:
        message.add_attachment(data, maintype="text", subtype="plain", filename=filename)
    return bytes(message)


def eml(pages: Sequence[Page]) -> bytes:
    """An e-mail whose plain-text body is `text(pages)`."""
    return email_message(subject="Service manual", plain=text(pages).decode())


# format -> (file extension, builder); the order is the benchmark's
BUILDERS: dict[str, tuple[str, Callable[[Sequence[Page]], bytes]]] = {
    "pdf": (".pdf", pdf),
    "docx": (".docx", docx),
    "pptx": (".pptx", pptx),
    "xlsx": (".xlsx", xlsx),
    "csv": (".csv", csv),
    "html": (".html", html),
    "md": (".md", markdown),
    "txt": (".txt", text),
    "eml": (".eml", eml),
}
