"""The main content of an HTML page: its one ``<main>`` (else one ``<article>``) element, or the
page without navigation, search, banner and footer landmarks, scripts and styles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_DROP_HTML = (
    "//nav | //footer | //*[@role='navigation'] | //*[@role='search'] | //*[@role='banner']"
    " | //*[@role='contentinfo'] | //script | //style | //noscript | //template"
)


def main_content(markup: str) -> str:
    """The page's main content element, or the page without navigation landmarks."""
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.document_fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return markup
    for query in ("//main | //*[@role='main']", "//article"):
        found = _outermost(root.xpath(query))
        if len(found) == 1 and found[0].text_content().strip():
            return lxml.html.tostring(found[0], encoding="unicode")
        if found:
            break
    for element in root.xpath(_DROP_HTML):
        if element.getparent() is not None:
            element.drop_tree()
    return lxml.html.tostring(root, encoding="unicode")


def defined_terms(markup: str) -> frozenset[str]:
    """The text of every `<dt>` of an HTML page (whitespace collapsed): the terms a definition
    list defines. The parser reads a `<dt>` as an untyped paragraph, so this is how the blocks
    learn which paragraphs are terms."""
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.document_fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return frozenset()
    terms = (" ".join(dt.text_content().split()) for dt in root.iter("dt"))
    return frozenset(t for t in terms if t)


def _outermost(elements: Sequence[Any]) -> list[Any]:
    chosen = set(elements)
    return [e for e in elements if not any(a in chosen for a in e.iterancestors())]
