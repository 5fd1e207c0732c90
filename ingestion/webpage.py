"""The main content of an HTML page: its one ``<main>`` (else one ``<article>``) element, or the
page without navigation, search, banner and footer landmarks, scripts and styles."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_DROP_HTML = (
    "//nav | //footer | //*[@role='navigation'] | //*[@role='search'] | //*[@role='banner']"
    " | //*[@role='contentinfo'] | //script | //style | //noscript | //template"
)


Terms = tuple[tuple[str, str], ...]


def main_content(markup: str) -> str:
    """The page's main content element, or the page without navigation landmarks."""
    return main_content_and_terms(markup)[0]


def main_content_and_terms(markup: str) -> tuple[str, Terms]:
    """The main content (`main_content`) and every `<dt>` in it, from one parse of the page.

    A term is its text (whitespace collapsed) and its anchor (its `id`, "" without one), in
    order. The parser reads a `<dt>` as an untyped paragraph, so this is how the blocks learn
    which paragraphs are terms, and what their anchors qualify them as."""
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.document_fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return markup, ()
    main = _main_element(root)
    text_terms = (
        (" ".join(dt.text_content().split()), dt.get("id") or "") for dt in main.iter("dt")
    )
    terms = tuple((text, anchor) for text, anchor in text_terms if text)
    return lxml.html.tostring(main, encoding="unicode"), terms


def _main_element(root: Any) -> Any:
    for query in ("//main | //*[@role='main']", "//article"):
        found = _outermost(root.xpath(query))
        if len(found) == 1 and found[0].text_content().strip():
            return found[0]
        if found:
            break
    for element in root.xpath(_DROP_HTML):
        if element.getparent() is not None:
            element.drop_tree()
    return root


def qualified(term: str, anchor: str) -> str:
    """The term with its name qualified by its anchor, where the anchor is that name with a
    qualifier before it (API documentation shows a member by its last part only):
    `read([n])` anchored `mmap.mmap.read` -> `mmap.mmap.read([n])`. Otherwise "" (a glossary's
    `term-API` does not qualify `API`)."""
    head, sep, last = anchor.rpartition(".")
    if not (head and sep and last.isidentifier()):
        return ""
    found = re.search(rf"(?<![\w.]){re.escape(last)}(?![\w.])", term)  # a name of its own
    if found is None:
        return ""
    return f"{term[: found.start()]}{anchor}{term[found.end() :]}"


def _outermost(elements: Sequence[Any]) -> list[Any]:
    chosen = set(elements)
    return [e for e in elements if not any(a in chosen for a in e.iterancestors())]
